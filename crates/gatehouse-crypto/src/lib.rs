//! All of Gatehouse's cryptography, in one crate on one library (aws-lc-rs, plus the
//! argon2 and bcrypt crates for passwords), so that the protocol crates never pick
//! primitives themselves. Pure functions and small key-holding types: no HTTP, no SQL.
//!
//! - [`SecretKey`]: the instance secret key and the subkeys derived from it.
//! - [`SecretBox`]: AES-256-GCM sealing of secrets stored in the database.
//! - [`TokenDigester`], [`generate_token`]: random bearer tokens and their HMAC digests.
//! - [`CsrfSigner`]: double-submit CSRF tokens.
//! - [`PasswordHasher`]: Argon2id hashing, verification of imported bcrypt/Argon2 hashes.
//! - [`keys`]: JWS signing keys (RS256, ES256, EdDSA), signatures and public JWKs.
//! - [`generate_recovery_code`]: single-use recovery codes and their normal form.
//! - [`sha256`], [`sha512`]: plain digests for PKCE and OIDC hash claims.
//! - [`totp`]: TOTP codes (RFC 6238), their secrets, provisioning URIs and QR codes.
//! - [`webauthn`]: WebAuthn registration and assertion checks (passkeys, security keys).

mod csrf;
mod digest;
mod error;
pub mod keys;
mod password;
mod random;
mod recovery_code;
mod secret_box;
mod secret_key;
mod token;
pub mod totp;
pub mod webauthn;

pub use csrf::CsrfSigner;
pub use digest::{sha256, sha512};
pub use error::{CryptoError, Result};
pub use keys::{
    GeneratedKey, KeyAlgorithm, PrivateKeyDocument, SigningKey, generate_signing_key,
    import_signing_key, public_jwk,
};
pub use password::{PasswordHasher, PasswordParams, Verification};
pub use random::random_u64;
pub use recovery_code::{RECOVERY_CODE_LEN, generate_recovery_code, normalise_recovery_code};
pub use secret_box::SecretBox;
pub use secret_key::SecretKey;
pub use token::{TOKEN_BYTES, TokenDigester, constant_time_eq, generate_token};
pub use totp::{TotpAlgorithm, TotpParams, TotpSecret, TotpVerification};
pub use zeroize::Zeroizing;
