//! Field rules shared by the CLI, `apply`, the API and the setup page, so every entry point
//! rejects the same input with the same message.

use std::fmt;

/// A field that failed validation, with a message a person can act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidationError {
    /// The field's name as the user typed it (`username`, `email`, `groups[2]`...).
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl ValidationError {
    /// Creates an error for `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for ValidationError {}

const MAX_NAME: usize = 150;

/// Usernames: 1-150 characters of letters, digits and `.-_@+`, not starting with punctuation.
/// The set matches what LDAP DNs and most applications accept without escaping.
pub fn username(value: &str) -> Result<(), ValidationError> {
    let err = |m: &str| Err(ValidationError::new("username", m));
    if value.is_empty() {
        return err("must not be empty");
    }
    if value.chars().count() > MAX_NAME {
        return err("must be at most 150 characters");
    }
    if !value
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '.' | '-' | '_' | '@' | '+'))
    {
        return err("may contain only letters, digits and . - _ @ +");
    }
    if !value.chars().next().is_some_and(char::is_alphanumeric) {
        return err("must start with a letter or digit");
    }
    Ok(())
}

/// Group names: 1-150 printable characters without leading or trailing spaces.
pub fn group_name(value: &str) -> Result<(), ValidationError> {
    printable("name", value, MAX_NAME)
}

/// Names operators give signing keys: 1-150 printable characters, as for groups.
pub fn key_name(value: &str) -> Result<(), ValidationError> {
    printable("name", value, MAX_NAME)
}

/// Display names: up to 255 printable characters.
pub fn display_name(value: &str) -> Result<(), ValidationError> {
    printable("name", value, 255)
}

fn printable(field: &str, value: &str, max: usize) -> Result<(), ValidationError> {
    if value.is_empty() {
        return Err(ValidationError::new(field, "must not be empty"));
    }
    if value.trim() != value {
        return Err(ValidationError::new(
            field,
            "must not start or end with spaces",
        ));
    }
    if value.chars().count() > max {
        return Err(ValidationError::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(ValidationError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}

/// Checks an email address (a pragmatic subset of RFC 5322 `addr-spec`: one `@`, a non-empty
/// local part, a dotted domain of LDH labels) and returns it trimmed with the domain lowercased.
pub fn email(value: &str) -> Result<String, ValidationError> {
    let err = |m: &str| Err(ValidationError::new("email", m));
    let value = value.trim();
    if value.len() > 254 {
        return err("must be at most 254 characters");
    }
    let Some((local, domain)) = value.rsplit_once('@') else {
        return err("must be an address like name@example.com");
    };
    if local.is_empty() || local.len() > 64 {
        return err("must have 1-64 characters before the @");
    }
    if local.chars().any(|c| {
        c.is_whitespace() || c.is_control() || matches!(c, '@' | '<' | '>' | ',' | ';' | '"' | '\\')
    }) || local.starts_with('.')
        || local.ends_with('.')
        || local.contains("..")
    {
        return err("has characters that are not allowed before the @");
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2
        || labels.iter().any(|label| {
            label.is_empty()
                || label.len() > 63
                || label.starts_with('-')
                || label.ends_with('-')
                || !label.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
    {
        return err("must have a domain like example.com after the @");
    }
    Ok(format!("{local}@{}", domain.to_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        for ok in ["alice", "a", "bob.smith", "ci-bot_2", "x@y", "émile"] {
            assert!(username(ok).is_ok(), "{ok}");
        }
        for bad in ["", " alice", "al ice", "-lead", "a/b", "a,b", "a\u{0}"] {
            assert!(username(bad).is_err(), "{bad:?}");
        }
        assert!(username(&"a".repeat(151)).is_err());
    }

    #[test]
    fn emails() {
        assert_eq!(email("a@B.example").as_deref(), Ok("a@b.example"));
        assert_eq!(
            email(" x.y+z@sub.example.org ").as_deref(),
            Ok("x.y+z@sub.example.org")
        );
        for bad in [
            "",
            "a",
            "@example.com",
            "a@",
            "a@localhost",
            "a@@b.com",
            "a b@c.com",
            "a@-x.com",
            ".a@b.com",
            "a..b@c.com",
            "a@b..com",
        ] {
            assert!(email(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn group_names() {
        assert!(group_name("Grafana Admins").is_ok());
        assert!(group_name(" padded").is_err());
        assert!(group_name("").is_err());
        assert!(group_name("tab\there").is_err());
    }
}
