//! Request parameters as the endpoints receive them (query string or form body), with the
//! rules every OAuth2 endpoint shares: a parameter sent twice is an error (RFC 6749 §3.1,
//! §3.2), an empty value counts as absent, and oversized input is refused before anything
//! else looks at it.

use std::collections::BTreeMap;

/// The largest single parameter value we accept, in bytes.
pub const MAX_VALUE_BYTES: usize = 4096;
/// The most parameters we accept in one request.
pub const MAX_PARAMS: usize = 64;

/// Why a parameter list was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParamsError {
    /// RFC 6749 §3.1: "Request and response parameters MUST NOT be included more than once."
    #[error("parameter {0} is repeated")]
    Repeated(String),
    /// Too many parameters or a value too long.
    #[error("{0}")]
    TooLarge(String),
    /// Bad percent-encoding or not UTF-8.
    #[error("{0}")]
    Malformed(String),
}

/// Decoded parameters, each present at most once.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Params(BTreeMap<String, String>);

impl Params {
    /// Collects decoded pairs, refusing repeats and oversized input.
    pub fn from_pairs<I, K, V>(pairs: I) -> Result<Self, ParamsError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let mut map = BTreeMap::new();
        for (key, value) in pairs {
            let (key, value) = (key.into(), value.into());
            if map.len() >= MAX_PARAMS {
                return Err(ParamsError::TooLarge("too many parameters".into()));
            }
            if value.len() > MAX_VALUE_BYTES || key.len() > 64 {
                return Err(ParamsError::TooLarge(format!(
                    "parameter {} is too long",
                    printable(&key)
                )));
            }
            if map.contains_key(&key) {
                return Err(ParamsError::Repeated(printable(&key)));
            }
            map.insert(key, value);
        }
        Ok(Self(map))
    }

    /// Parses an `application/x-www-form-urlencoded` query string or body.
    pub fn parse_form(text: &str) -> Result<Self, ParamsError> {
        if text.len() > MAX_PARAMS * (MAX_VALUE_BYTES + 64) {
            return Err(ParamsError::TooLarge("the request is too large".into()));
        }
        let mut pairs = Vec::new();
        for part in text.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = part.split_once('=').unwrap_or((part, ""));
            let key = crate::client_auth::form_decode(key).ok_or_else(|| {
                ParamsError::Malformed("a parameter name is not valid UTF-8 form encoding".into())
            })?;
            let value = crate::client_auth::form_decode(value).ok_or_else(|| {
                ParamsError::Malformed(format!(
                    "parameter {} is not valid UTF-8 form encoding",
                    printable(&key)
                ))
            })?;
            pairs.push((key, value));
        }
        Self::from_pairs(pairs)
    }

    /// A parameter's value; an empty value is treated as absent (RFC 6749 §3.1).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// Whether a parameter was sent with a non-empty value.
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

/// A parameter name safe to echo in an error description (ASCII, at most 40 characters).
fn printable(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_graphic())
        .take(40)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_and_sizes() {
        let ok = Params::from_pairs([("a", "1"), ("b", "")]).expect("ok");
        assert_eq!(ok.get("a"), Some("1"));
        assert_eq!(ok.get("b"), None);
        assert_eq!(
            Params::from_pairs([("a", "1"), ("a", "2")]),
            Err(ParamsError::Repeated("a".into()))
        );
        assert!(Params::from_pairs([("a", "x".repeat(MAX_VALUE_BYTES + 1))]).is_err());
        let many: Vec<_> = (0..=MAX_PARAMS).map(|i| (i.to_string(), "v")).collect();
        assert!(Params::from_pairs(many).is_err());
    }

    #[test]
    fn parses_forms() {
        let p =
            Params::parse_form("a=1+2&b=%C3%A9&c&redirect_uri=https%3A%2F%2Fx%2Fcb").expect("ok");
        assert_eq!(p.get("a"), Some("1 2"));
        assert_eq!(p.get("b"), Some("é"));
        assert_eq!(p.get("c"), None);
        assert_eq!(p.get("redirect_uri"), Some("https://x/cb"));
        assert!(matches!(
            Params::parse_form("a=%zz"),
            Err(ParamsError::Malformed(_))
        ));
        assert!(matches!(
            Params::parse_form("a=%ff"),
            Err(ParamsError::Malformed(_))
        ));
        assert!(matches!(
            Params::parse_form("a=1&a=2"),
            Err(ParamsError::Repeated(_))
        ));
    }
}
