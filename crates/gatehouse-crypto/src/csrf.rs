//! Double-submit CSRF tokens for HTML forms (OWASP CSRF Prevention Cheat Sheet, "Signed
//! Double-Submit Cookie"): the token is a random nonce plus an HMAC over the nonce and a
//! value bound to the browser, normally the session cookie. An attacker who can plant
//! cookies still cannot mint a token for the victim's session without the secret key.

use crate::random::random_array;
use crate::secret_key::{Purpose, SecretKey};
use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::fmt;

/// Nonce length in bytes. Fixed, so `nonce ‖ binding` is unambiguous under the MAC.
const NONCE_BYTES: usize = 16;

/// Domain separator inside the MAC input, in case the subkey is ever shared with another
/// cookie signature.
const LABEL: &[u8] = b"csrf.v1\0";

/// Issues and checks CSRF tokens bound to a browser value.
#[derive(Clone)]
pub struct CsrfSigner {
    key: hmac::Key,
}

impl CsrfSigner {
    /// Derives the cookie-signing key from the instance secret key.
    pub fn new(secret_key: &SecretKey) -> Self {
        Self {
            key: secret_key.hmac_key(Purpose::CookieSigning),
        }
    }

    /// A fresh token for `binding` (e.g. the session cookie value):
    /// `base64url(nonce).base64url(HMAC(nonce ‖ binding))`, URL- and form-safe.
    ///
    /// # Panics
    /// If the system random number generator fails.
    pub fn issue(&self, binding: &str) -> String {
        let nonce = random_array::<NONCE_BYTES>();
        let tag = self.tag(&nonce, binding);
        let mut token = URL_SAFE_NO_PAD.encode(nonce);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(tag.as_ref(), &mut token);
        token
    }

    /// Whether `token` was issued by this key for `binding`. The MAC is compared in
    /// constant time.
    pub fn verify(&self, binding: &str, token: &str) -> bool {
        let Some((nonce, tag)) = token.split_once('.') else {
            return false;
        };
        let (Ok(nonce), Ok(tag)) = (URL_SAFE_NO_PAD.decode(nonce), URL_SAFE_NO_PAD.decode(tag))
        else {
            return false;
        };
        if nonce.len() != NONCE_BYTES {
            return false;
        }
        hmac::verify(&self.key, &mac_input(&nonce, binding), &tag).is_ok()
    }

    fn tag(&self, nonce: &[u8], binding: &str) -> hmac::Tag {
        hmac::sign(&self.key, &mac_input(nonce, binding))
    }
}

fn mac_input(nonce: &[u8], binding: &str) -> Vec<u8> {
    let mut input = Vec::with_capacity(LABEL.len() + nonce.len() + binding.len());
    input.extend_from_slice(LABEL);
    input.extend_from_slice(nonce);
    input.extend_from_slice(binding.as_bytes());
    input
}

impl fmt::Debug for CsrfSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CsrfSigner(**)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer(text: &str) -> CsrfSigner {
        CsrfSigner::new(&SecretKey::from_configured(text).expect("valid key"))
    }

    fn sample() -> CsrfSigner {
        signer("the instance secret key used in csrf tests")
    }

    #[test]
    fn issued_token_verifies_for_its_binding() {
        let s = sample();
        let token = s.issue("session-abc");
        assert!(s.verify("session-abc", &token));
        assert_ne!(s.issue("session-abc"), token, "fresh nonce each time");
    }

    #[test]
    fn token_for_another_binding_is_refused() {
        let s = sample();
        let token = s.issue("session-abc");
        assert!(!s.verify("session-abd", &token));
        assert!(!s.verify("", &token));
    }

    #[test]
    fn forged_or_foreign_tokens_are_refused() {
        let s = sample();
        let token = s.issue("session-abc");
        let (nonce, tag) = token.split_once('.').expect("two parts");
        let other_nonce = URL_SAFE_NO_PAD.encode([7u8; NONCE_BYTES]);
        let other_key = signer("another instance secret key, long enough").issue("session-abc");
        let short_nonce = format!("{}.{tag}", URL_SAFE_NO_PAD.encode([0u8; 8]));
        for forged in [
            "",
            ".",
            nonce,
            &format!("{nonce}."),
            &format!("{other_nonce}.{tag}"),
            &format!("{nonce}.{}", URL_SAFE_NO_PAD.encode([0u8; 32])),
            &format!("{nonce}.{}", &tag[..tag.len() - 2]),
            &format!("{token}x"),
            &short_nonce,
            &other_key,
        ] {
            assert!(!s.verify("session-abc", forged), "{forged:?}");
        }
    }
}
