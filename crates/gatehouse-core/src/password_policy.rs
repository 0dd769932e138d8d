//! The password strength rule applied wherever a person chooses a password.
//!
//! NIST SP 800-63B §5.1.1.2: length matters most, composition rules help little, and passwords
//! that are common or derived from the account's own identifiers must be refused.

use crate::validate::ValidationError;

/// Minimum length in characters.
pub const MIN_LENGTH: usize = 10;
/// Maximum length in characters; long enough for passphrases, short enough to bound hashing.
pub const MAX_LENGTH: usize = 1024;

const COMMON: &[&str] = &[
    "password",
    "passw0rd",
    "123456",
    "12345678",
    "123456789",
    "1234567890",
    "qwerty",
    "qwertyuiop",
    "letmein",
    "welcome",
    "iloveyou",
    "admin",
    "administrator",
    "changeme",
    "monkey",
    "dragon",
    "football",
    "baseball",
    "sunshine",
    "princess",
    "trustno1",
    "abc123",
    "111111",
    "000000",
    "gatehouse",
    "secret",
];

/// Checks `password` for the account identified by `identifiers` (username, email, name).
pub fn check(password: &str, identifiers: &[&str]) -> Result<(), ValidationError> {
    let err = |m: String| Err(ValidationError::new("password", m));
    let length = password.chars().count();
    if length < MIN_LENGTH {
        return err(format!("must be at least {MIN_LENGTH} characters"));
    }
    if length > MAX_LENGTH {
        return err(format!("must be at most {MAX_LENGTH} characters"));
    }
    let lowered = password.to_lowercase();
    let distinct: std::collections::HashSet<char> = lowered.chars().collect();
    if distinct.len() < 4 {
        return err("uses too few different characters".into());
    }
    let stripped: String = lowered.chars().filter(|c| c.is_alphabetic()).collect();
    if COMMON.iter().any(|c| {
        lowered == *c
            || stripped == *c
            || lowered.starts_with(c)
                && lowered[c.len()..]
                    .chars()
                    .all(|ch| ch.is_ascii_digit() || ch.is_ascii_punctuation())
    }) {
        return err("is too common".into());
    }
    for identifier in identifiers {
        let id = identifier.trim().to_lowercase();
        let local = id.split('@').next().unwrap_or_default();
        if local.chars().count() >= 3 && lowered.contains(local) {
            return err("must not contain your username or email".into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn accepts_a_passphrase() {
        assert!(check("correct horse battery staple", &["alice"]).is_ok());
    }

    #[test]
    fn refuses_short_common_and_personal_passwords() {
        assert!(check("short", &[]).is_err());
        assert!(check("Password2024!", &[]).is_err());
        assert!(check("aaaaaaaaaaaaaa", &[]).is_err());
        assert!(check("alice-is-great-99", &["alice"]).is_err());
        assert!(check("my-bob.smith-pass", &["bob.smith@example.com"]).is_err());
        assert!(check(&"ab1!".repeat(300), &[]).is_err());
    }
}
