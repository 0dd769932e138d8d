//! Client authentication at the token, introspection and revocation endpoints (RFC 6749
//! §2.3.1, OIDC Core §9): `client_secret_basic`, `client_secret_post`, and `none` for public
//! clients (which identify themselves with `client_id` only). A request using more than one
//! method is refused (RFC 6749 §2.3). The secret is checked against its keyed digest by the
//! caller's `verify` function, in constant time.

use crate::error::TokenError;
use crate::params::Params;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use gatehouse_core::{ClientType, OAuth2Provider};

/// How the client presented itself.
#[derive(Clone, PartialEq, Eq)]
pub struct PresentedClient {
    /// The claimed client id.
    pub client_id: String,
    /// The secret, if one was sent.
    pub secret: Option<String>,
    /// The method used.
    pub method: AuthMethod,
}

impl std::fmt::Debug for PresentedClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PresentedClient")
            .field("client_id", &self.client_id)
            .field("method", &self.method)
            .finish_non_exhaustive()
    }
}

/// Client authentication methods (the discovery document's names).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthMethod {
    /// HTTP Basic with form-encoded id and secret.
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the form body.
    ClientSecretPost,
    /// `client_id` only (public clients).
    None,
}

/// Reads the client's credentials from the `Authorization` header and the form body.
pub fn presented_client(
    authorization: Option<&str>,
    params: &Params,
) -> Result<PresentedClient, TokenError> {
    let basic = match authorization {
        Some(header) => Some(parse_basic(header)?),
        None => None,
    };
    match (basic, params.get("client_id"), params.get("client_secret")) {
        (Some(_), _, Some(_)) => Err(TokenError::invalid_request(
            "use one client authentication method, not several",
        )),
        (Some((id, secret)), body_id, None) => {
            if body_id.is_some_and(|b| b != id) {
                return Err(TokenError::invalid_request(
                    "client_id in the body differs from the Authorization header",
                ));
            }
            Ok(PresentedClient {
                client_id: id,
                secret: Some(secret),
                method: AuthMethod::ClientSecretBasic,
            })
        }
        (None, Some(id), Some(secret)) => Ok(PresentedClient {
            client_id: id.to_owned(),
            secret: Some(secret.to_owned()),
            method: AuthMethod::ClientSecretPost,
        }),
        (None, Some(id), None) => Ok(PresentedClient {
            client_id: id.to_owned(),
            secret: None,
            method: AuthMethod::None,
        }),
        (None, None, _) => Err(TokenError::invalid_client()),
    }
}

/// RFC 7617 Basic credentials, each half form-urlencoded (RFC 6749 §2.3.1).
fn parse_basic(header: &str) -> Result<(String, String), TokenError> {
    let (scheme, value) = header
        .split_once(' ')
        .ok_or_else(TokenError::invalid_client)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(TokenError::invalid_client());
    }
    let decoded = STANDARD
        .decode(value.trim())
        .map_err(|_| TokenError::invalid_client())?;
    let text = String::from_utf8(decoded).map_err(|_| TokenError::invalid_client())?;
    let (id, secret) = text
        .split_once(':')
        .ok_or_else(TokenError::invalid_client)?;
    let id = form_decode(id).ok_or_else(TokenError::invalid_client)?;
    let secret = form_decode(secret).ok_or_else(TokenError::invalid_client)?;
    if id.is_empty() {
        return Err(TokenError::invalid_client());
    }
    Ok((id, secret))
}

/// Decodes `application/x-www-form-urlencoded` text (`+` is a space).
pub fn form_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// Checks the presented credentials against the client's registration. `verify(secret,
/// digest)` compares a secret with the stored keyed digest in constant time. Every failure
/// is the same `invalid_client`, so callers learn nothing about which part was wrong.
pub fn authenticate(
    presented: &PresentedClient,
    provider: &OAuth2Provider,
    verify: impl FnOnce(&str, &str) -> bool,
) -> Result<(), TokenError> {
    if presented.client_id != provider.client_id {
        return Err(TokenError::invalid_client());
    }
    match (
        provider.client_type,
        &presented.secret,
        &provider.client_secret_digest,
    ) {
        (ClientType::Public, None, _) => Ok(()),
        (ClientType::Confidential, Some(secret), Some(digest)) if verify(secret, digest) => Ok(()),
        _ => Err(TokenError::invalid_client()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::TokenErrorCode;

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params::from_pairs(pairs.iter().copied()).expect("params")
    }

    fn basic(id: &str, secret: &str) -> String {
        format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
    }

    #[test]
    fn reads_each_method() {
        let b = presented_client(Some(&basic("my%3Aapp", "s%2B+x")), &params(&[])).expect("basic");
        assert_eq!(
            (b.client_id.as_str(), b.secret.as_deref()),
            ("my:app", Some("s+ x"))
        );
        assert_eq!(b.method, AuthMethod::ClientSecretBasic);
        let p = presented_client(None, &params(&[("client_id", "a"), ("client_secret", "s")]))
            .expect("post");
        assert_eq!(p.method, AuthMethod::ClientSecretPost);
        let n = presented_client(None, &params(&[("client_id", "a")])).expect("none");
        assert_eq!((n.method, n.secret), (AuthMethod::None, None));
    }

    #[test]
    fn refuses_ambiguous_or_broken_credentials() {
        let both = presented_client(Some(&basic("a", "s")), &params(&[("client_secret", "s")]));
        assert_eq!(
            both.map_err(|e| e.code),
            Err(TokenErrorCode::InvalidRequest)
        );
        let differ = presented_client(Some(&basic("a", "s")), &params(&[("client_id", "b")]));
        assert_eq!(
            differ.map_err(|e| e.code),
            Err(TokenErrorCode::InvalidRequest)
        );
        for header in [
            "Bearer x",
            "Basic !!!",
            "Basic",
            &format!("Basic {}", STANDARD.encode("nocolon")),
            &basic("", "s"),
            &basic("a%zz", "s"),
        ] {
            let result = presented_client(Some(header), &params(&[]));
            assert_eq!(
                result.map_err(|e| e.code),
                Err(TokenErrorCode::InvalidClient),
                "{header}"
            );
        }
        assert!(presented_client(None, &params(&[])).is_err());
    }

    #[test]
    fn authenticates_by_client_type() {
        let mut confidential = OAuth2Provider::new(ClientType::Confidential, "c");
        confidential.client_secret_digest = Some("digest-of-right".into());
        let verify = |secret: &str, digest: &str| digest == format!("digest-of-{secret}");
        let presented = |id: &str, secret: Option<&str>| PresentedClient {
            client_id: id.into(),
            secret: secret.map(Into::into),
            method: AuthMethod::ClientSecretPost,
        };
        assert!(authenticate(&presented("c", Some("right")), &confidential, verify).is_ok());
        assert!(authenticate(&presented("c", Some("wrong")), &confidential, verify).is_err());
        assert!(authenticate(&presented("c", None), &confidential, verify).is_err());
        assert!(authenticate(&presented("x", Some("right")), &confidential, verify).is_err());
        let public = OAuth2Provider::new(ClientType::Public, "p");
        assert!(authenticate(&presented("p", None), &public, verify).is_ok());
        assert!(authenticate(&presented("p", Some("x")), &public, verify).is_err());
    }
}
