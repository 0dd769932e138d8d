//! The `applications:` entries of the document: an application matched by slug with its
//! OAuth2/OIDC provider settings. Enumerations are plain strings here so a wrong value is
//! reported by the planner with its path (`applications[0].oidc.signing_alg`).

use serde::{Deserialize, Serialize};

/// An application, matched by slug.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplicationSpec {
    /// URL-safe unique name, part of the issuer URL.
    pub slug: String,
    /// Display name (default on creation: the slug).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Where the portal opens the application; `null` removes it.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "super::document::double_option"
    )]
    pub launch_url: Option<Option<String>>,
    /// Exactly these groups may use it; empty means everyone, absent leaves the list alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_groups: Option<Vec<String>>,
    /// The OAuth2/OIDC provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oidc: Option<OidcSpec>,
}

/// OAuth2/OIDC provider settings; every field but `client_id` (needed on creation) may be
/// left out to keep the stored value (or the default on creation).
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcSpec {
    /// The OAuth2 `client_id`, unique across applications.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The client secret of a confidential client (usually `env://NAME`); stored only as its
    /// keyed digest and never exported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// A public client (SPA, native, CLI): no secret, PKCE required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public: Option<bool>,
    /// Allowed redirect URIs, exactly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_uris: Option<Vec<String>>,
    /// Where RP-initiated logout may send the browser back, exactly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_logout_redirect_uris: Option<Vec<String>>,
    /// Scopes the client may request, exactly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    /// `RS256`, `ES256` or `EdDSA`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_alg: Option<String>,
    /// `hashed_user_id`, `user_id`, `username` or `email`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_mode: Option<String>,
    /// `implicit`, `explicit` or `remembered`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent: Option<String>,
    /// Require PKCE from a confidential client too (public clients always must).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_pkce: Option<bool>,
    /// Access and ID token lifetime, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token_lifetime: Option<i64>,
    /// Refresh token lifetime, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token_lifetime: Option<i64>,
    /// Authorization code lifetime, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_lifetime: Option<i64>,
    /// The client's public keys for `private_key_jwt`: a JWKS mapping, or its JSON text
    /// (`file:///path/jwks.json`); `null` removes them.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "super::document::double_option"
    )]
    pub jwks: Option<Option<serde_json::Value>>,
    /// The one client authentication method allowed (`client_secret_basic`,
    /// `client_secret_post`, `private_key_jwt`, `none`); `null` allows every method the
    /// client type permits.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "super::document::double_option"
    )]
    pub token_endpoint_auth_method: Option<Option<String>>,
    /// Where the client receives back-channel logout tokens (OpenID Connect Back-Channel
    /// Logout 1.0): an https URL, or http on a loopback host; `null` removes it.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "super::document::double_option"
    )]
    pub backchannel_logout_uri: Option<Option<String>>,
    /// Whether the client needs `sid` in logout tokens (Gatehouse always sends it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backchannel_logout_session_required: Option<bool>,
    /// Custom scopes and the claims they grant: `{scope: {claim: source}}` with sources
    /// `user.<field>`, `attributes.<path>` or `groups`; replaced as a whole, and each mapped
    /// scope is added to `scopes`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope_mappings: Option<gatehouse_core::ScopeMappings>,
}

impl std::fmt::Debug for OidcSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcSpec")
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.as_ref().map(|_| "**"))
            .field("public", &self.public)
            .field("redirect_uris", &self.redirect_uris)
            .finish_non_exhaustive()
    }
}
