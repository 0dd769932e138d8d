//! The protocol errors, with the exact codes of RFC 6749 §4.1.2.1 (authorization endpoint)
//! and §5.2 (token endpoint), plus the OIDC Core §3.1.2.6 additions. The web layer maps
//! them to redirects, error pages and JSON bodies in one place.

use std::fmt;

/// RFC 6749 §4.1.2.1 and OIDC Core §3.1.2.6 error codes, sent back to the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthorizeErrorCode {
    /// Missing, repeated or malformed parameter.
    InvalidRequest,
    /// The client may not use this flow.
    UnauthorizedClient,
    /// The user or the server denied the request.
    AccessDenied,
    /// Only `code` is supported.
    UnsupportedResponseType,
    /// No acceptable scope.
    InvalidScope,
    /// Internal failure.
    ServerError,
    /// `prompt=none` but the user must sign in.
    LoginRequired,
    /// `prompt=none` but the user must consent.
    ConsentRequired,
    /// `request` parameter (JAR) is not supported.
    RequestNotSupported,
    /// `request_uri` parameter is not supported.
    RequestUriNotSupported,
}

impl AuthorizeErrorCode {
    /// The `error` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::AccessDenied => "access_denied",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::InvalidScope => "invalid_scope",
            Self::ServerError => "server_error",
            Self::LoginRequired => "login_required",
            Self::ConsentRequired => "consent_required",
            Self::RequestNotSupported => "request_not_supported",
            Self::RequestUriNotSupported => "request_uri_not_supported",
        }
    }
}

/// Why an authorization request failed, and therefore where the answer goes.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthorizeError {
    /// The client or its redirect URI cannot be trusted: show an error page to the user and
    /// never redirect (RFC 6749 §4.1.2.1 first paragraph, §10.15 open redirectors).
    #[error("{0}")]
    Page(String),
    /// Any other error: redirect back to the validated `redirect_uri` with `error`,
    /// `error_description` and `state`.
    #[error("{}: {description}", code.as_str())]
    Redirect {
        /// The validated redirect URI.
        redirect_uri: String,
        /// The error code.
        code: AuthorizeErrorCode,
        /// A human-readable description (ASCII, no secrets).
        description: String,
        /// The client's `state`, echoed unchanged.
        state: Option<String>,
    },
}

/// RFC 6749 §5.2 token endpoint error codes (plus RFC 7009's `unsupported_token_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenErrorCode {
    /// Malformed request.
    InvalidRequest,
    /// Client authentication failed (HTTP 401 with `WWW-Authenticate`).
    InvalidClient,
    /// The code, refresh token or credentials are invalid, expired, revoked or not this
    /// client's.
    InvalidGrant,
    /// The client may not use this grant type.
    UnauthorizedClient,
    /// Unknown grant type.
    UnsupportedGrantType,
    /// The requested scope is invalid or exceeds the grant.
    InvalidScope,
    /// RFC 7009 §2.2.1: revocation of this token type is not supported.
    UnsupportedTokenType,
    /// RFC 8628 §3.5: the user has not answered yet.
    AuthorizationPending,
    /// RFC 8628 §3.5: still pending, and the device polls too fast.
    SlowDown,
    /// RFC 8628 §3.5: the user refused.
    AccessDenied,
    /// RFC 8628 §3.5: the device code expired.
    ExpiredToken,
}

impl TokenErrorCode {
    /// The `error` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::UnsupportedTokenType => "unsupported_token_type",
            Self::AuthorizationPending => "authorization_pending",
            Self::SlowDown => "slow_down",
            Self::AccessDenied => "access_denied",
            Self::ExpiredToken => "expired_token",
        }
    }

    /// The HTTP status RFC 6749 §5.2 prescribes: 401 for `invalid_client`, else 400.
    pub fn http_status(self) -> u16 {
        match self {
            Self::InvalidClient => 401,
            _ => 400,
        }
    }
}

/// A token endpoint error.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct TokenError {
    /// The code.
    pub code: TokenErrorCode,
    /// A human-readable description (ASCII, no secrets).
    pub description: String,
}

impl TokenError {
    /// An error with `code` and `description`.
    pub fn new(code: TokenErrorCode, description: impl Into<String>) -> Self {
        Self {
            code,
            description: description.into(),
        }
    }

    /// `invalid_request`.
    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(TokenErrorCode::InvalidRequest, description)
    }

    /// `invalid_client`.
    pub fn invalid_client() -> Self {
        Self::new(
            TokenErrorCode::InvalidClient,
            "client authentication failed",
        )
    }

    /// `invalid_grant`.
    pub fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new(TokenErrorCode::InvalidGrant, description)
    }

    /// The JSON body of RFC 6749 §5.2.
    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({
            "error": self.code.as_str(),
            "error_description": self.description,
        })
    }
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.description)
    }
}
