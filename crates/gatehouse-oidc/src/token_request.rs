//! Token request validation (RFC 6749 §4.1.3 authorization code, §6 refresh, §4.4 client
//! credentials) and the checks that compare a redeemed code or refresh token with the
//! request. Which artefact a code names, and whether it is still active, is the caller's
//! lookup; the rules about what must match are here.

use crate::error::{TokenError, TokenErrorCode};
use crate::params::Params;
use crate::pkce;

/// A parsed token request.
#[derive(Clone, PartialEq, Eq)]
pub enum TokenRequest {
    /// `grant_type=authorization_code`.
    AuthorizationCode {
        /// The code.
        code: String,
        /// Must equal the authorization request's, if that one carried it.
        redirect_uri: Option<String>,
        /// PKCE verifier.
        code_verifier: Option<String>,
    },
    /// `grant_type=refresh_token`.
    RefreshToken {
        /// The refresh token.
        refresh_token: String,
        /// A narrower scope, if requested.
        scope: Option<Vec<String>>,
    },
    /// `grant_type=client_credentials`.
    ClientCredentials {
        /// Requested scopes.
        scope: Option<Vec<String>>,
        /// A service account acting through the client (authentik's `username` and
        /// `password` parameters), or `None` for the client acting as itself.
        service_account: Option<ServiceAccountCredentials>,
    },
    /// `grant_type=urn:ietf:params:oauth:grant-type:device_code` (RFC 8628 §3.4).
    DeviceCode {
        /// The device code.
        device_code: String,
    },
}

/// A service account's name and app password, sent with a client_credentials request so the
/// token's subject is that account rather than the client.
#[derive(Clone, PartialEq, Eq)]
pub struct ServiceAccountCredentials {
    /// The service account's username.
    pub username: String,
    /// One of its app passwords.
    pub password: String,
}

impl TokenRequest {
    /// The registered `grant_type` value, for metrics and audit labels (a bounded set).
    pub fn grant_type(&self) -> &'static str {
        match self {
            Self::AuthorizationCode { .. } => "authorization_code",
            Self::RefreshToken { .. } => "refresh_token",
            Self::ClientCredentials { .. } => "client_credentials",
            Self::DeviceCode { .. } => "device_code",
        }
    }
}

impl std::fmt::Debug for TokenRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::AuthorizationCode { .. } => "TokenRequest::AuthorizationCode(**)",
            Self::RefreshToken { .. } => "TokenRequest::RefreshToken(**)",
            Self::ClientCredentials { .. } => "TokenRequest::ClientCredentials",
            Self::DeviceCode { .. } => "TokenRequest::DeviceCode(**)",
        })
    }
}

/// Parses the grant-specific parameters.
pub fn parse(params: &Params) -> Result<TokenRequest, TokenError> {
    let required = |name: &str| {
        params
            .get(name)
            .map(str::to_owned)
            .ok_or_else(|| TokenError::invalid_request(format!("{name} is required")))
    };
    match params.get("grant_type") {
        Some("authorization_code") => Ok(TokenRequest::AuthorizationCode {
            code: required("code")?,
            redirect_uri: params.get("redirect_uri").map(str::to_owned),
            code_verifier: params.get("code_verifier").map(str::to_owned),
        }),
        Some("refresh_token") => Ok(TokenRequest::RefreshToken {
            refresh_token: required("refresh_token")?,
            scope: scope_list(params)?,
        }),
        Some("client_credentials") => Ok(TokenRequest::ClientCredentials {
            scope: scope_list(params)?,
            service_account: service_account(params)?,
        }),
        Some(crate::device::DEVICE_CODE_GRANT) => Ok(TokenRequest::DeviceCode {
            device_code: required("device_code")?,
        }),
        Some(_) => Err(TokenError::new(
            TokenErrorCode::UnsupportedGrantType,
            "grant_type must be authorization_code, refresh_token, client_credentials or the device code grant",
        )),
        None => Err(TokenError::invalid_request("grant_type is required")),
    }
}

/// Both of `username` and `password`, or neither: one without the other is a malformed request.
fn service_account(params: &Params) -> Result<Option<ServiceAccountCredentials>, TokenError> {
    match (params.get("username"), params.get("password")) {
        (None, None) => Ok(None),
        (Some(username), Some(password)) if !username.is_empty() && !password.is_empty() => {
            Ok(Some(ServiceAccountCredentials {
                username: username.to_owned(),
                password: password.to_owned(),
            }))
        }
        _ => Err(TokenError::invalid_request(
            "username and password must be sent together and not empty",
        )),
    }
}

fn scope_list(params: &Params) -> Result<Option<Vec<String>>, TokenError> {
    let Some(text) = params.get("scope") else {
        return Ok(None);
    };
    let mut scopes = Vec::new();
    for scope in text.split(' ').filter(|s| !s.is_empty()) {
        gatehouse_core::application::scope_token(scope)
            .map_err(|_| TokenError::new(TokenErrorCode::InvalidScope, "scope is malformed"))?;
        if !scopes.iter().any(|s| s == scope) {
            scopes.push(scope.to_owned());
        }
    }
    Ok(Some(scopes))
}

/// What the authorization request recorded with a code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeGrant<'a> {
    /// The redirect URI the code was sent to.
    pub redirect_uri: &'a str,
    /// Whether the authorization request carried `redirect_uri` explicitly.
    pub redirect_uri_sent: bool,
    /// The PKCE challenge, if any.
    pub code_challenge: Option<&'a str>,
}

/// RFC 6749 §4.1.3 and RFC 7636 §4.6: the redeeming request must repeat the redirect URI
/// (when the authorization request carried one) and answer the PKCE challenge (when there
/// was one). A verifier without a challenge is refused too (RFC 9700 §2.1.1, downgrade).
pub fn check_code_redemption(
    grant: &CodeGrant<'_>,
    redirect_uri: Option<&str>,
    code_verifier: Option<&str>,
) -> Result<(), TokenError> {
    match redirect_uri {
        Some(uri) if uri != grant.redirect_uri => {
            return Err(TokenError::invalid_grant(
                "redirect_uri differs from the authorization request",
            ));
        }
        None if grant.redirect_uri_sent => {
            return Err(TokenError::invalid_request("redirect_uri is required"));
        }
        _ => {}
    }
    match (grant.code_challenge, code_verifier) {
        (Some(challenge), Some(verifier)) => {
            if pkce::verify_s256(verifier, challenge) {
                Ok(())
            } else {
                Err(TokenError::invalid_grant("code_verifier does not match"))
            }
        }
        (Some(_), None) => Err(TokenError::invalid_request("code_verifier is required")),
        (None, Some(_)) => Err(TokenError::invalid_grant(
            "code_verifier sent, but the authorization request had no code_challenge",
        )),
        (None, None) => Ok(()),
    }
}

/// RFC 6749 §6: a refresh may narrow the scope, never widen it. Returns the scopes to grant.
pub fn narrowed_scopes(
    granted: &[String],
    requested: Option<&[String]>,
) -> Result<Vec<String>, TokenError> {
    match requested {
        None => Ok(granted.to_vec()),
        Some(requested) => {
            if requested.iter().all(|s| granted.contains(s)) && !requested.is_empty() {
                Ok(requested.to_vec())
            } else {
                Err(TokenError::new(
                    TokenErrorCode::InvalidScope,
                    "the requested scope exceeds the original grant",
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params::from_pairs(pairs.iter().copied()).expect("params")
    }

    #[test]
    fn parses_service_account_credentials() {
        let parsed = parse(&params(&[
            ("grant_type", "client_credentials"),
            ("username", "robot"),
            ("password", "secret-token"),
        ]));
        match parsed {
            Ok(TokenRequest::ClientCredentials {
                service_account: Some(account),
                ..
            }) => {
                assert_eq!(account.username, "robot");
                assert_eq!(account.password, "secret-token");
            }
            other => panic!("{other:?}"),
        }
        // The secret never reaches a log through Debug.
        let debug = format!(
            "{:?}",
            parse(&params(&[
                ("grant_type", "client_credentials"),
                ("username", "robot"),
                ("password", "secret-token"),
            ]))
        );
        assert!(!debug.contains("secret-token"), "{debug}");
        let plain = parse(&params(&[("grant_type", "client_credentials")]));
        assert!(matches!(
            plain,
            Ok(TokenRequest::ClientCredentials {
                service_account: None,
                ..
            })
        ));
        for half in [
            vec![("grant_type", "client_credentials"), ("username", "robot")],
            vec![("grant_type", "client_credentials"), ("password", "p")],
            vec![
                ("grant_type", "client_credentials"),
                ("username", ""),
                ("password", "p"),
            ],
        ] {
            assert_eq!(
                parse(&params(&half)).map_err(|e| e.code),
                Err(TokenErrorCode::InvalidRequest)
            );
        }
    }

    #[test]
    fn parses_grants() {
        let code = parse(&params(&[
            ("grant_type", "authorization_code"),
            ("code", "c"),
        ]));
        assert!(matches!(code, Ok(TokenRequest::AuthorizationCode { .. })));
        let refresh = parse(&params(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "r"),
            ("scope", "openid  openid email"),
        ]));
        match refresh {
            Ok(TokenRequest::RefreshToken { scope, .. }) => {
                assert_eq!(scope, Some(vec!["openid".to_owned(), "email".to_owned()]));
            }
            other => panic!("{other:?}"),
        }
        let codes = |pairs: &[(&str, &str)]| parse(&params(pairs)).map_err(|e| e.code);
        assert_eq!(codes(&[]), Err(TokenErrorCode::InvalidRequest));
        assert_eq!(
            codes(&[("grant_type", "password")]),
            Err(TokenErrorCode::UnsupportedGrantType)
        );
        assert_eq!(
            codes(&[("grant_type", "authorization_code")]),
            Err(TokenErrorCode::InvalidRequest)
        );
        assert_eq!(
            codes(&[("grant_type", "refresh_token")]),
            Err(TokenErrorCode::InvalidRequest)
        );
        assert_eq!(
            codes(&[("grant_type", "client_credentials"), ("scope", "a\"b")]),
            Err(TokenErrorCode::InvalidScope)
        );
    }

    #[test]
    fn code_redemption_rules() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        let grant = CodeGrant {
            redirect_uri: "https://app.example/cb",
            redirect_uri_sent: true,
            code_challenge: Some(challenge),
        };
        let code = |uri, v| check_code_redemption(&grant, uri, v).map_err(|e| e.code);
        assert_eq!(code(Some("https://app.example/cb"), Some(verifier)), Ok(()));
        assert_eq!(
            code(Some("https://app.example/other"), Some(verifier)),
            Err(TokenErrorCode::InvalidGrant)
        );
        assert_eq!(
            code(None, Some(verifier)),
            Err(TokenErrorCode::InvalidRequest)
        );
        assert_eq!(
            code(Some("https://app.example/cb"), None),
            Err(TokenErrorCode::InvalidRequest)
        );
        assert_eq!(
            code(
                Some("https://app.example/cb"),
                Some("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXx")
            ),
            Err(TokenErrorCode::InvalidGrant)
        );
        let plain = CodeGrant {
            redirect_uri_sent: false,
            code_challenge: None,
            ..grant
        };
        assert_eq!(check_code_redemption(&plain, None, None), Ok(()));
        assert!(check_code_redemption(&plain, None, Some(verifier)).is_err());
    }

    #[test]
    fn refresh_scope_narrowing() {
        let granted = vec!["openid".to_owned(), "email".to_owned()];
        assert_eq!(narrowed_scopes(&granted, None), Ok(granted.clone()));
        assert_eq!(
            narrowed_scopes(&granted, Some(&["email".to_owned()])),
            Ok(vec!["email".to_owned()])
        );
        assert!(narrowed_scopes(&granted, Some(&["profile".to_owned()])).is_err());
    }
}
