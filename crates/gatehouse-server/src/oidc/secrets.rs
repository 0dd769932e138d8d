//! Client secrets: generated with 256 bits of entropy, shown once, stored as a keyed
//! HMAC-SHA-256 digest. A fast keyed hash is right for high-entropy secrets (a password
//! hash would cap the token endpoint at tens of requests per second per core).

use gatehouse_crypto::{TokenDigester, generate_token};

/// The shortest client secret accepted when an operator sets one (migrating from another
/// provider).
pub const MIN_SECRET_LEN: usize = 16;

/// A new random client secret (43 base64url characters).
pub fn generate_client_secret() -> String {
    generate_token("")
}

/// Checks an operator-supplied secret: long enough, printable ASCII, no spaces.
pub fn check_supplied_secret(secret: &str) -> Result<(), String> {
    if secret.len() < MIN_SECRET_LEN {
        return Err(format!(
            "client secret must be at least {MIN_SECRET_LEN} characters"
        ));
    }
    if secret.len() > 512 || !secret.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("client secret must be at most 512 printable ASCII characters".into());
    }
    Ok(())
}

/// The digest stored for a client secret.
pub fn digest(digester: &TokenDigester, secret: &str) -> String {
    digester.digest(secret)
}
