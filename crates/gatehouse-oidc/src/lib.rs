//! OAuth 2.0 (RFC 6749) and OpenID Connect Core 1.0 as pure functions: they take request
//! parameters and the client's registration and return decisions, documents and signed
//! tokens. No HTTP and no SQL: the web layer maps [`AuthorizeError`] and [`TokenError`] to
//! responses, and storage is reached through `gatehouse-core`'s ports by the caller.
//!
//! - [`params`]: form/query parameters with RFC 6749 §3.1's once-only rule and size limits.
//! - [`reauth`]: `prompt=login` and `max_age`: session freshness and the re-sign-in marker.
//! - [`redirect`]: redirect URI matching, exact plus the RFC 8252 §7.3 loopback rule.
//! - [`authn_context`]: `amr` (RFC 8176) and `acr` from how the user signed in.
//! - [`authorize`]: authorization request validation (RFC 6749 §4.1.1, OIDC Core §3.1.2).
//! - [`consent`]: whether to ask for consent, and scopes in plain words.
//! - [`device`]: RFC 8628 device authorization: user codes, scopes, poll answers.
//! - [`pkce`]: RFC 7636 `S256` verification.
//! - [`client_auth`]: `client_secret_basic`, `client_secret_post`, `none`.
//! - [`service_account`]: service accounts with app passwords in client_credentials.
//! - [`token_request`]: token request validation (RFC 6749 §4.1.3, §6, §4.4).
//! - [`claims`]: standard claims by scope (OIDC Core §5.4).
//! - [`dex`]: Dex-compatible `sub` values for applications migrated from Dex.
//! - [`jwt`]: JWS compact serialization of ID tokens and JWT access tokens (RFC 9068).
//! - [`discovery`]: the provider metadata document (OIDC Discovery 1.0 §3).
//! - [`end_session`]: RP-Initiated Logout 1.0 request validation.
//! - [`backchannel`]: Back-Channel Logout 1.0 logout token claims.

pub mod authn_context;
pub mod authorize;
pub mod backchannel;
pub mod claims;
pub mod client_assertion;
pub mod client_auth;
pub mod consent;
pub mod device;
pub mod dex;
pub mod discovery;
pub mod end_session;
mod error;
pub mod jwt;
pub mod params;
pub mod pkce;
pub mod reauth;
pub mod redirect;
pub mod service_account;
pub mod token_request;

pub use error::{AuthorizeError, AuthorizeErrorCode, TokenError, TokenErrorCode};
