//! Secrets at rest (DESIGN.md, "Secret key"): signing keys' private halves, upstream client
//! secrets and TOTP seeds are stored sealed with AES-256-GCM (NIST SP 800-38D) under a
//! subkey of the instance secret key. A random 96-bit nonce per seal keeps the number of
//! seals per key far below the 2^32 limit SP 800-38D §8.3 sets for random nonces at any
//! size Gatehouse will reach. The `context` is bound as associated data, so a value sealed
//! for one row and column cannot be copied into another.

use crate::error::{CryptoError, Result};
use crate::random::random_array;
use crate::secret_key::{Purpose, SecretKey};
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::fmt;

/// Version prefix of the sealed format: `v1.` + base64url(nonce ‖ ciphertext ‖ tag).
const PREFIX_V1: &str = "v1.";

/// AES-GCM tag length in bytes.
const TAG_LEN: usize = 16;

/// Seals and opens secrets stored in the database.
pub struct SecretBox {
    key: LessSafeKey,
}

impl SecretBox {
    /// Derives the at-rest encryption key from the instance secret key.
    pub fn new(secret_key: &SecretKey) -> Self {
        let bytes = secret_key.derive(Purpose::AtRestEncryption);
        let key = UnboundKey::new(&AES_256_GCM, bytes.as_ref())
            .expect("a 32-byte key is valid for AES-256-GCM");
        Self {
            key: LessSafeKey::new(key),
        }
    }

    /// Encrypts `plaintext` bound to `context` (for example `"oauth2_source.client_secret"`
    /// or `"signing_key.private:<id>"`). The same context must be given to [`Self::open`].
    ///
    /// # Panics
    /// If the system random number generator fails, or `plaintext` exceeds AES-GCM's limit
    /// of about 64 GiB.
    pub fn seal(&self, plaintext: &[u8], context: &str) -> String {
        let nonce_bytes = random_array::<NONCE_LEN>();
        let mut buffer = Vec::with_capacity(NONCE_LEN + plaintext.len() + TAG_LEN);
        buffer.extend_from_slice(&nonce_bytes);
        buffer.extend_from_slice(plaintext);
        let tag = self
            .key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::from(context.as_bytes()),
                &mut buffer[NONCE_LEN..],
            )
            .expect("plaintext within the AES-GCM length limit");
        buffer.extend_from_slice(tag.as_ref());
        let mut sealed = String::with_capacity(PREFIX_V1.len() + buffer.len().div_ceil(3) * 4);
        sealed.push_str(PREFIX_V1);
        URL_SAFE_NO_PAD.encode_string(&buffer, &mut sealed);
        sealed
    }

    /// Decrypts a value produced by [`Self::seal`] with the same `context`.
    ///
    /// # Errors
    /// [`CryptoError::SealedFormat`] when `sealed` is not a well-formed `v1.` value;
    /// [`CryptoError::SealedAuthentication`] when it does not authenticate (another secret
    /// key, another context, or altered data). Nothing finer is reported.
    pub fn open(&self, sealed: &str, context: &str) -> Result<Vec<u8>> {
        let encoded = sealed
            .strip_prefix(PREFIX_V1)
            .ok_or(CryptoError::SealedFormat)?;
        let mut buffer = URL_SAFE_NO_PAD
            .decode(encoded)
            .map_err(|_| CryptoError::SealedFormat)?;
        if buffer.len() < NONCE_LEN + TAG_LEN {
            return Err(CryptoError::SealedFormat);
        }
        let mut nonce_bytes = [0u8; NONCE_LEN];
        nonce_bytes.copy_from_slice(&buffer[..NONCE_LEN]);
        let plaintext_len = self
            .key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::from(context.as_bytes()),
                &mut buffer[NONCE_LEN..],
            )
            .map_err(|_| CryptoError::SealedAuthentication)?
            .len();
        buffer.drain(..NONCE_LEN);
        buffer.truncate(plaintext_len);
        Ok(buffer)
    }
}

impl fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretBox(**)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret_box(text: &str) -> SecretBox {
        SecretBox::new(&SecretKey::from_configured(text).expect("valid key"))
    }

    fn sample() -> SecretBox {
        secret_box("an instance secret key of sufficient length")
    }

    #[test]
    fn sealing_round_trips() {
        let sb = sample();
        for plaintext in [&b""[..], b"x", b"client-secret-value", &[0u8; 1000]] {
            let sealed = sb.seal(plaintext, "ctx");
            assert!(sealed.starts_with("v1."));
            assert_eq!(sb.open(&sealed, "ctx").expect("opens"), plaintext);
        }
    }

    #[test]
    fn sealing_twice_gives_different_ciphertexts() {
        let sb = sample();
        assert_ne!(sb.seal(b"same", "ctx"), sb.seal(b"same", "ctx"));
    }

    #[test]
    fn sealed_value_does_not_contain_the_plaintext() {
        let sealed = sample().seal(b"AAAAAAAAAAAAAAAAAAAAAAAA", "ctx");
        assert!(!sealed.contains("AAAAAAAA"));
        assert!(!sealed.contains(&URL_SAFE_NO_PAD.encode(b"AAAAAAAAAAAAAAAAAAAAAAAA")));
    }

    #[test]
    fn tampered_ciphertext_is_refused() {
        let sb = sample();
        let sealed = sb.seal(b"secret", "ctx");
        let mut raw = URL_SAFE_NO_PAD.decode(&sealed[3..]).expect("base64");
        for index in [0, NONCE_LEN, raw.len() - 1] {
            raw[index] ^= 1;
            let tampered = format!("v1.{}", URL_SAFE_NO_PAD.encode(&raw));
            assert!(matches!(
                sb.open(&tampered, "ctx"),
                Err(CryptoError::SealedAuthentication)
            ));
            raw[index] ^= 1;
        }
        raw.pop();
        let truncated = format!("v1.{}", URL_SAFE_NO_PAD.encode(&raw));
        assert!(matches!(
            sb.open(&truncated, "ctx"),
            Err(CryptoError::SealedAuthentication)
        ));
    }

    #[test]
    fn wrong_context_or_key_is_refused() {
        let sb = sample();
        let sealed = sb.seal(b"secret", "signing_key:1");
        assert!(matches!(
            sb.open(&sealed, "signing_key:2"),
            Err(CryptoError::SealedAuthentication)
        ));
        let other = secret_box("a different instance secret key, also long");
        assert!(matches!(
            other.open(&sealed, "signing_key:1"),
            Err(CryptoError::SealedAuthentication)
        ));
    }

    #[test]
    fn malformed_values_are_format_errors() {
        let sb = sample();
        let sealed = sb.seal(b"secret", "ctx");
        let short = format!(
            "v1.{}",
            URL_SAFE_NO_PAD.encode([0u8; NONCE_LEN + TAG_LEN - 1])
        );
        for bad in [
            "",
            "v1.",
            "v1.!!!",
            "v2.AAAA",
            &sealed[3..],
            &sealed.replacen("v1.", "v2.", 1),
            &format!("{sealed}="),
            &short,
        ] {
            assert!(
                matches!(sb.open(bad, "ctx"), Err(CryptoError::SealedFormat)),
                "{bad:?}"
            );
        }
    }
}
