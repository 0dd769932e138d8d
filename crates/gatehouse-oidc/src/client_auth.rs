//! Client authentication at the token, introspection and revocation endpoints (RFC 6749
//! §2.3.1, OIDC Core §9): `client_secret_basic`, `client_secret_post`, `private_key_jwt`
//! (RFC 7523 §2.2, see [`crate::client_assertion`]), and `none` for public clients (which
//! identify themselves with `client_id` only). A request using more than one method is
//! refused (RFC 6749 §2.3), as is a method the client's registration does not allow. The
//! secret is checked against its keyed digest by the caller's `verify` function, in constant
//! time; an assertion's `jti` is handed back for the caller to record as used.

use crate::client_assertion::{self, AcceptedAssertion};
use crate::error::TokenError;
use crate::params::Params;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
/// Client authentication methods (the discovery document's names).
pub use gatehouse_core::TokenEndpointAuthMethod as AuthMethod;
use gatehouse_core::{ClientType, OAuth2Provider};

/// How the client presented itself.
#[derive(Clone, PartialEq, Eq)]
pub struct PresentedClient {
    /// The claimed client id.
    pub client_id: String,
    /// The secret, if one was sent.
    pub secret: Option<String>,
    /// The `client_assertion` JWT, for `private_key_jwt`.
    pub assertion: Option<String>,
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

/// Reads the client's credentials from the `Authorization` header and the form body.
pub fn presented_client(
    authorization: Option<&str>,
    params: &Params,
) -> Result<PresentedClient, TokenError> {
    let basic = match authorization {
        Some(header) => Some(parse_basic(header)?),
        None => None,
    };
    if params.get("client_assertion").is_some() || params.get("client_assertion_type").is_some() {
        return presented_assertion(basic.is_some(), params);
    }
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
                assertion: None,
                method: AuthMethod::ClientSecretBasic,
            })
        }
        (None, Some(id), Some(secret)) => Ok(PresentedClient {
            client_id: id.to_owned(),
            secret: Some(secret.to_owned()),
            assertion: None,
            method: AuthMethod::ClientSecretPost,
        }),
        (None, Some(id), None) => Ok(PresentedClient {
            client_id: id.to_owned(),
            secret: None,
            assertion: None,
            method: AuthMethod::None,
        }),
        (None, None, _) => Err(TokenError::invalid_client()),
    }
}

/// RFC 7521 §4.2: `client_assertion_type` and `client_assertion`, with `client_id` optional
/// (taken from the assertion's `sub` when absent; the signature check comes later).
fn presented_assertion(has_basic: bool, params: &Params) -> Result<PresentedClient, TokenError> {
    if has_basic || params.get("client_secret").is_some() {
        return Err(TokenError::invalid_request(
            "use one client authentication method, not several",
        ));
    }
    let (Some(kind), Some(assertion)) = (
        params.get("client_assertion_type"),
        params.get("client_assertion"),
    ) else {
        return Err(TokenError::invalid_request(
            "client_assertion and client_assertion_type go together",
        ));
    };
    if kind != client_assertion::JWT_BEARER {
        return Err(TokenError::invalid_request(format!(
            "client_assertion_type must be {}",
            client_assertion::JWT_BEARER
        )));
    }
    let client_id = match params.get("client_id") {
        Some(id) => id.to_owned(),
        None => {
            client_assertion::claimed_client_id(assertion).ok_or_else(TokenError::invalid_client)?
        }
    };
    Ok(PresentedClient {
        client_id,
        secret: None,
        assertion: Some(assertion.to_owned()),
        method: AuthMethod::PrivateKeyJwt,
    })
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

/// Whether the request may name its client by `client_id` alone, without authenticating it:
/// only a client_credentials request carrying a service account's `username` and `password`
/// (authentik's form) to a **public** client, where the app password is the credential and
/// the client only says which application the token is for. A confidential client must
/// authenticate as well (RFC 6749 §3.2.1, §4.4: the client_credentials grant is for
/// confidential clients, which authenticate at the token endpoint); unlike authentik, naming
/// a confidential client is not enough. Credentials sent along are always checked.
pub fn service_account_names_client(
    presented: &PresentedClient,
    params: &Params,
    provider: &OAuth2Provider,
) -> bool {
    provider.client_type == ClientType::Public
        && presented.method == AuthMethod::None
        && presented.secret.is_none()
        && presented.assertion.is_none()
        && params.get("grant_type") == Some("client_credentials")
        && params.get("username").is_some()
        && params.get("password").is_some()
}

/// Checks the presented credentials against the client's registration. `verify(secret,
/// digest)` compares a secret with the stored keyed digest in constant time; `audiences` are
/// what a client assertion's `aud` may name. Returns the assertion whose `jti` the caller
/// must record (refusing the request if it was already recorded), for `private_key_jwt`.
///
/// # Errors
/// `invalid_client` for every failure. Secret failures say nothing more, so callers learn
/// nothing about which part was wrong; assertion failures describe the broken rule for the
/// server's log.
pub fn authenticate(
    presented: &PresentedClient,
    provider: &OAuth2Provider,
    verify: impl FnOnce(&str, &str) -> bool,
    audiences: &[&str],
    now: DateTime<Utc>,
) -> Result<Option<AcceptedAssertion>, TokenError> {
    if presented.client_id != provider.client_id || !provider.allows_auth_method(presented.method) {
        return Err(TokenError::invalid_client());
    }
    match (presented.method, &presented.secret, &presented.assertion) {
        (AuthMethod::None, None, None) => Ok(None),
        (AuthMethod::ClientSecretBasic | AuthMethod::ClientSecretPost, Some(secret), None) => {
            match &provider.client_secret_digest {
                Some(digest) if verify(secret, digest) => Ok(None),
                _ => Err(TokenError::invalid_client()),
            }
        }
        (AuthMethod::PrivateKeyJwt, None, Some(assertion)) => {
            let jwks = provider
                .jwks
                .as_ref()
                .ok_or_else(TokenError::invalid_client)?;
            let keys = client_assertion::client_keys(jwks).map_err(|reason| {
                TokenError::new(
                    crate::TokenErrorCode::InvalidClient,
                    format!("the registered jwks is unusable: {reason}"),
                )
            })?;
            client_assertion::verify_assertion(
                assertion,
                &provider.client_id,
                &keys,
                audiences,
                now,
            )
            .map(Some)
        }
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
    fn only_a_service_account_request_to_a_public_client_names_it_alone() {
        let public = OAuth2Provider::new(ClientType::Public, "app");
        let confidential = OAuth2Provider::new(ClientType::Confidential, "app");
        let form = |extra: &[(&str, &str)]| {
            let mut pairs = vec![("client_id", "app")];
            pairs.extend_from_slice(extra);
            params(&pairs)
        };
        let account = [
            ("grant_type", "client_credentials"),
            ("username", "robot"),
            ("password", "p"),
        ];
        let named = |p: &Params, authorization: Option<&str>, provider: &OAuth2Provider| {
            let presented = presented_client(authorization, p).expect("presented");
            service_account_names_client(&presented, p, provider)
        };
        assert!(named(&form(&account), None, &public));
        // A confidential client must authenticate too (RFC 6749 §3.2.1).
        assert!(!named(&form(&account), None, &confidential));
        // A secret sent along is checked as usual.
        assert!(!named(&form(&account), Some(&basic("app", "s")), &public));
        let mut with_secret = account.to_vec();
        with_secret.push(("client_secret", "s"));
        assert!(!named(&form(&with_secret), None, &public));
        // Other grants, or no account, need client authentication.
        assert!(!named(
            &form(&[("grant_type", "client_credentials")]),
            None,
            &public
        ));
        assert!(!named(
            &form(&[
                ("grant_type", "authorization_code"),
                ("username", "robot"),
                ("password", "p"),
            ]),
            None,
            &public
        ));
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
    fn reads_client_assertions() {
        let claims = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(r#"{"sub":"app"}"#);
        let jwt = format!("e30.{claims}.c2ln");
        let typed = |extra: &[(&str, &str)]| {
            let mut pairs = vec![
                ("client_assertion_type", client_assertion::JWT_BEARER),
                ("client_assertion", jwt.as_str()),
            ];
            pairs.extend_from_slice(extra);
            params(&pairs)
        };
        let found = presented_client(None, &typed(&[])).expect("assertion");
        assert_eq!(found.client_id, "app");
        assert_eq!(found.method, AuthMethod::PrivateKeyJwt);
        assert_eq!(found.assertion.as_deref(), Some(jwt.as_str()));
        let named = presented_client(None, &typed(&[("client_id", "named")])).expect("named");
        assert_eq!(named.client_id, "named");
        for (header, extra, code) in [
            (
                Some(basic("app", "s")),
                vec![],
                TokenErrorCode::InvalidRequest,
            ),
            (
                None,
                vec![("client_secret", "s")],
                TokenErrorCode::InvalidRequest,
            ),
        ] {
            let result = presented_client(header.as_deref(), &typed(&extra));
            assert_eq!(result.map_err(|e| e.code), Err(code));
        }
        let wrong_type = params(&[
            ("client_assertion_type", "urn:other"),
            ("client_assertion", jwt.as_str()),
        ]);
        let lone = params(&[("client_assertion", jwt.as_str())]);
        let unnamed = params(&[
            ("client_assertion_type", client_assertion::JWT_BEARER),
            ("client_assertion", "e30.e30.c2ln"),
        ]);
        for bad in [wrong_type, lone] {
            assert_eq!(
                presented_client(None, &bad).map_err(|e| e.code),
                Err(TokenErrorCode::InvalidRequest)
            );
        }
        assert_eq!(
            presented_client(None, &unnamed).map_err(|e| e.code),
            Err(TokenErrorCode::InvalidClient)
        );
    }

    #[test]
    fn authenticates_by_client_type() {
        let mut confidential = OAuth2Provider::new(ClientType::Confidential, "c");
        confidential.client_secret_digest = Some("digest-of-right".into());
        let verify = |secret: &str, digest: &str| digest == format!("digest-of-{secret}");
        let presented = |id: &str, secret: Option<&str>| PresentedClient {
            client_id: id.into(),
            secret: secret.map(Into::into),
            assertion: None,
            method: if secret.is_some() {
                AuthMethod::ClientSecretPost
            } else {
                AuthMethod::None
            },
        };
        let check = |p: &PresentedClient, provider: &OAuth2Provider| {
            authenticate(p, provider, verify, &[], Utc::now()).is_ok()
        };
        assert!(check(&presented("c", Some("right")), &confidential));
        assert!(!check(&presented("c", Some("wrong")), &confidential));
        assert!(!check(&presented("c", None), &confidential));
        assert!(!check(&presented("x", Some("right")), &confidential));
        let public = OAuth2Provider::new(ClientType::Public, "p");
        assert!(check(&presented("p", None), &public));
        assert!(!check(&presented("p", Some("x")), &public));
        // A registered method excludes the others.
        confidential.token_endpoint_auth_method = Some(AuthMethod::ClientSecretBasic);
        assert!(!check(&presented("c", Some("right")), &confidential));
        // private_key_jwt needs registered keys.
        let assertion = PresentedClient {
            client_id: "c".into(),
            secret: None,
            assertion: Some("a.b.c".into()),
            method: AuthMethod::PrivateKeyJwt,
        };
        confidential.token_endpoint_auth_method = None;
        assert!(!check(&assertion, &confidential));
    }
}
