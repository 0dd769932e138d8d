//! The crate's one error type. Messages name what went wrong and, where it helps an
//! operator, a file path or a limit; they never contain key material, passwords, tokens or
//! plaintext.

use std::path::PathBuf;

/// Everything that can go wrong in `gatehouse-crypto`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// The configured secret key is shorter than [`crate::SecretKey::MIN_CHARS`].
    #[error(
        "the secret key must be at least {min} characters long (it has {actual}); \
         generate one with `openssl rand -base64 48`"
    )]
    SecretKeyTooShort {
        /// The minimum length in characters.
        min: usize,
        /// The length of the rejected value, in characters.
        actual: usize,
    },

    /// The secret key file could not be read, created or written.
    #[error("cannot {action} the secret key file {}: {source}", path.display())]
    SecretKeyFile {
        /// What was being attempted ("read", "create", ...).
        action: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },

    /// A sealed value is not of the form `v1.<base64url>` or is too short to hold a nonce
    /// and a tag.
    #[error("the sealed value is malformed or of an unknown version")]
    SealedFormat,

    /// A sealed value did not authenticate: wrong secret key, wrong context, or altered.
    #[error(
        "the sealed value failed authentication (wrong secret key, wrong context, or tampered)"
    )]
    SealedAuthentication,

    /// Argon2 parameters out of range.
    #[error("invalid password hashing parameters: {0}")]
    PasswordParams(String),

    /// A stored password hash cannot be parsed or uses a scheme we do not verify.
    #[error("the stored password hash is malformed or uses an unsupported scheme")]
    PasswordHashFormat,

    /// A stored password hash asks for more work or memory than we are willing to spend.
    #[error("the stored password hash asks for costs above the allowed limits")]
    PasswordHashCost,

    /// Hashing a password failed inside the hashing library.
    #[error("password hashing failed")]
    PasswordHashing,

    /// The blocking task running a password hash panicked or was cancelled.
    #[error("the password hashing task did not complete")]
    PasswordTask,

    /// A private signing key could not be generated.
    #[error("cannot generate a {alg} signing key")]
    KeyGeneration {
        /// The JWS algorithm name.
        alg: &'static str,
    },

    /// A PKCS#8 private key does not hold a usable key for the algorithm.
    #[error("the private key is not a valid {alg} PKCS#8 key")]
    InvalidPrivateKey {
        /// The JWS algorithm name.
        alg: &'static str,
    },

    /// An imported private key is none of the kinds Gatehouse signs with.
    #[error(
        "the private key is not an RSA (2048 bits or more), P-256 or Ed25519 key in PKCS#8, PKCS#1 or SEC1 form"
    )]
    UnsupportedPrivateKey,

    /// A SubjectPublicKeyInfo does not hold a usable key for the algorithm.
    #[error("the public key is not a valid {alg} SubjectPublicKeyInfo")]
    InvalidPublicKey {
        /// The JWS algorithm name.
        alg: &'static str,
    },

    /// The signing operation itself failed.
    #[error("signing with the {alg} key failed")]
    Signing {
        /// The JWS algorithm name.
        alg: &'static str,
    },

    /// A TOTP secret is not valid base32 or has a length outside the accepted range.
    #[error("the TOTP secret must be base32 (RFC 4648) encoding {min} to {max} bytes")]
    TotpSecretFormat {
        /// The shortest accepted secret, in bytes.
        min: usize,
        /// The longest accepted secret, in bytes.
        max: usize,
    },

    /// TOTP parameters out of range.
    #[error("invalid TOTP parameters: {0}")]
    TotpParams(&'static str),

    /// The text cannot be encoded as a QR code (in practice: it is too long).
    #[error("the text cannot be encoded as a QR code (too long)")]
    QrCode,
}

/// `Result` with [`CryptoError`] as the default error.
pub type Result<T, E = CryptoError> = std::result::Result<T, E>;
