//! Bearer secrets Gatehouse issues (API tokens, refresh tokens, authorization codes,
//! invitation and recovery links, OAuth2 client secrets) and the digests the store keeps of
//! them. These values are 256-bit random strings, so a keyed fast hash (HMAC-SHA-256,
//! RFC 2104) is the right tool: brute force is hopeless without a password hash's cost, and
//! the key means a stolen database alone does not even allow offline guessing.

use crate::random::random_array;
use crate::secret_key::{Purpose, SecretKey};
use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::fmt;

/// Random bytes in a generated token: 256 bits.
pub const TOKEN_BYTES: usize = 32;

/// A new random token: `prefix` followed by 32 random bytes in base64url without padding
/// (43 characters). The prefix (e.g. `gh_`) makes leaked tokens easy to recognise for
/// secret scanners and for people.
///
/// # Panics
/// If the system random number generator fails.
pub fn generate_token(prefix: &str) -> String {
    let mut token = String::with_capacity(prefix.len() + 43);
    token.push_str(prefix);
    URL_SAFE_NO_PAD.encode_string(random_array::<TOKEN_BYTES>(), &mut token);
    token
}

/// Compares two byte strings in time independent of their contents (the length may leak).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a, b).is_ok()
}

/// Computes and checks the stored digests of tokens and client secrets.
#[derive(Clone)]
pub struct TokenDigester {
    key: hmac::Key,
}

impl TokenDigester {
    /// Derives the token digest key from the instance secret key.
    pub fn new(secret_key: &SecretKey) -> Self {
        Self {
            key: secret_key.hmac_key(Purpose::TokenDigest),
        }
    }

    /// The digest to store for `token`: base64url (no padding) of HMAC-SHA-256, 43
    /// characters. Deterministic, so the store can look a token up by its digest.
    pub fn digest(&self, token: &str) -> String {
        URL_SAFE_NO_PAD.encode(hmac::sign(&self.key, token.as_bytes()).as_ref())
    }

    /// Whether `digest` is the digest of `token`, compared in constant time.
    pub fn verify(&self, token: &str, digest: &str) -> bool {
        constant_time_eq(self.digest(token).as_bytes(), digest.as_bytes())
    }
}

impl fmt::Debug for TokenDigester {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenDigester(**)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digester(text: &str) -> TokenDigester {
        TokenDigester::new(&SecretKey::from_configured(text).expect("valid key"))
    }

    #[test]
    fn generated_tokens_have_the_prefix_and_full_entropy() {
        let token = generate_token("gh_");
        assert!(token.starts_with("gh_"));
        assert_eq!(token.len(), 3 + 43);
        let raw = URL_SAFE_NO_PAD.decode(&token[3..]).expect("base64url");
        assert_eq!(raw.len(), TOKEN_BYTES);
        assert_ne!(generate_token("gh_"), token);
    }

    #[test]
    fn digests_are_stable_for_one_key_and_differ_across_keys() {
        let a = digester("first secret key, at least thirty-two chars");
        let a_again = digester("first secret key, at least thirty-two chars");
        let b = digester("second secret key, at least thirty-two chars");
        let token = generate_token("gh_");
        assert_eq!(a.digest(&token), a_again.digest(&token));
        assert_eq!(a.digest(&token).len(), 43);
        assert_ne!(a.digest(&token), b.digest(&token));
        assert_ne!(a.digest(&token), a.digest(&generate_token("gh_")));
    }

    #[test]
    fn verify_accepts_only_the_matching_digest() {
        let d = digester("first secret key, at least thirty-two chars");
        let token = generate_token("gh_");
        let digest = d.digest(&token);
        assert!(d.verify(&token, &digest));
        assert!(!d.verify(&generate_token("gh_"), &digest));
        assert!(!d.verify(&token, &digest[..42]));
        assert!(!d.verify(&token, ""));
    }

    #[test]
    fn constant_time_eq_compares_contents_and_lengths() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(constant_time_eq(b"", b""));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
