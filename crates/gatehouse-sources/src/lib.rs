//! Upstream login sources (DESIGN.md, "sources"): Gatehouse as an OAuth 2.0 / OpenID Connect
//! *client* of Forgejo, Gitea, GitHub or any OIDC provider. Pure rules only; the server
//! fetches documents over HTTP and stores what these functions decide.
//!
//! - [`address`]: the SSRF guard's rule on resolved addresses.
//! - [`endpoints`]: where each preset's endpoints are, and OIDC discovery documents.
//! - [`request`]: the authorization request (RFC 6749 §4.1.1) with PKCE S256 (RFC 7636),
//!   `state` and `nonce` always, and the callback's checks (RFC 6749 §4.1.2, RFC 9207).
//! - [`id_token`]: ID-token validation (OIDC Core §3.1.3.7) with keys from the upstream JWKS.
//! - [`identity`]: the upstream account as read from ID token, user-info or preset APIs.
//! - [`matching`]: whether a callback signs a user in, links, enrols or is refused.
//! - [`enrollment`]: what a just-in-time enrollment (through a flow or directly) starts with.
//! - [`groups`]: the group-sync plan for one login.

pub mod address;
pub mod endpoints;
pub mod enrollment;
pub mod groups;
pub mod id_token;
pub mod identity;
pub mod matching;
pub mod request;

/// Why an upstream login cannot go on. Messages are safe to show: they never carry tokens,
/// secrets or upstream response bodies.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum SourceError {
    /// A discovery, JWKS, token or user-info document is not what the protocol requires.
    #[error("the upstream sent an invalid {0}")]
    BadDocument(&'static str),
    /// The callback's `state` is missing, unknown, already used or for another source.
    #[error("the sign-in attempt is invalid or expired; please start again")]
    BadState,
    /// The upstream reported an error instead of a code (RFC 6749 §4.1.2.1).
    #[error("the upstream refused the sign-in ({0})")]
    UpstreamRefused(String),
    /// The ID token failed validation; the detail names the rule.
    #[error("the upstream's ID token is invalid: {0}")]
    BadIdToken(&'static str),
}
