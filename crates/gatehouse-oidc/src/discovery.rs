//! The OpenID Provider metadata document (OIDC Discovery 1.0 §3, RFC 8414 §2), per
//! application as authentik publishes it: the issuer is `<base>/application/o/<slug>/` and
//! the shared endpoints live under `<base>/application/o/`.

use crate::client_assertion::SIGNING_ALGS;
use gatehouse_core::KeyAlgorithm;
use serde_json::{Value, json};

/// The issuer URL of an application (with the trailing slash authentik uses).
pub fn issuer(base_url: &str, slug: &str) -> String {
    format!("{}/application/o/{slug}/", base_url.trim_end_matches('/'))
}

/// Where one issuer's endpoints are: an application's own (authentik's layout) or the
/// Dex-compatible alias (`crate::dex::alias_endpoints`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoints {
    /// The issuer identifier.
    pub issuer: String,
    /// Authorization endpoint.
    pub authorization: String,
    /// Token endpoint.
    pub token: String,
    /// Userinfo endpoint.
    pub userinfo: String,
    /// Introspection endpoint (RFC 7662).
    pub introspection: String,
    /// Revocation endpoint (RFC 7009).
    pub revocation: String,
    /// JWKS.
    pub jwks: String,
    /// RP-initiated logout; `None` for an issuer shared by several applications, whose
    /// logout and back-channel logout tokens could not carry it.
    pub end_session: Option<String>,
    /// Device authorization endpoint (RFC 8628), when served for this issuer.
    pub device_authorization: Option<String>,
}

impl Endpoints {
    /// The endpoints of application `slug` under `base_url`.
    pub fn of_application(base_url: &str, slug: &str) -> Self {
        let base = base_url.trim_end_matches('/');
        let endpoint = |path: &str| format!("{base}/application/o/{path}");
        Self {
            issuer: issuer(base, slug),
            authorization: endpoint("authorize/"),
            token: endpoint("token/"),
            userinfo: endpoint("userinfo/"),
            introspection: endpoint("introspect/"),
            revocation: endpoint("revoke/"),
            jwks: endpoint(&format!("{slug}/jwks/")),
            end_session: Some(endpoint(&format!("{slug}/end-session/"))),
            device_authorization: Some(endpoint("device/")),
        }
    }
}

/// The metadata document for `slug`, whose tokens are signed with `alg` and which allows
/// `scopes`.
pub fn document(base_url: &str, slug: &str, alg: KeyAlgorithm, scopes: &[String]) -> Value {
    document_for(&Endpoints::of_application(base_url, slug), &[alg], scopes)
}

/// The metadata document of an issuer with these `endpoints`, signing with `algs`.
pub fn document_for(endpoints: &Endpoints, algs: &[KeyAlgorithm], scopes: &[String]) -> Value {
    let algs: Vec<&str> = algs.iter().map(|a| a.as_str()).collect();
    let mut grant_types = vec!["authorization_code", "refresh_token", "client_credentials"];
    if endpoints.device_authorization.is_some() {
        grant_types.push(crate::device::DEVICE_CODE_GRANT);
    }
    let mut document = json!({
        "issuer": endpoints.issuer,
        "authorization_endpoint": endpoints.authorization,
        "token_endpoint": endpoints.token,
        "userinfo_endpoint": endpoints.userinfo,
        "introspection_endpoint": endpoints.introspection,
        "revocation_endpoint": endpoints.revocation,
        "jwks_uri": endpoints.jwks,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": grant_types,
        "subject_types_supported": ["public", "pairwise"],
        "id_token_signing_alg_values_supported": algs,
        "scopes_supported": scopes,
        "claims_supported": [
            "sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "at_hash",
            "sid", "name", "preferred_username", "nickname", "groups", "email", "email_verified",
        ],
        "token_endpoint_auth_methods_supported":
            ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
        "token_endpoint_auth_signing_alg_values_supported": SIGNING_ALGS,
        "introspection_endpoint_auth_methods_supported":
            ["client_secret_basic", "client_secret_post", "private_key_jwt"],
        "introspection_endpoint_auth_signing_alg_values_supported": SIGNING_ALGS,
        "revocation_endpoint_auth_methods_supported":
            ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
        "revocation_endpoint_auth_signing_alg_values_supported": SIGNING_ALGS,
        "code_challenge_methods_supported": ["S256"],
        "prompt_values_supported": ["none", "login", "consent"],
        "acr_values_supported": crate::authn_context::ACR_VALUES_SUPPORTED,
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "authorization_response_iss_parameter_supported": true,
    });
    if let Some(end_session) = &endpoints.end_session {
        document["end_session_endpoint"] = Value::from(end_session.as_str());
        document["backchannel_logout_supported"] = Value::Bool(true);
        document["backchannel_logout_session_supported"] = Value::Bool(true);
    }
    if let Some(device) = &endpoints.device_authorization {
        document["device_authorization_endpoint"] = Value::from(device.as_str());
    }
    document
}

/// Adds a provider's custom claims (from its scope mappings) to `claims_supported`; its
/// custom scopes are already among the allowed scopes in `scopes_supported`.
pub fn add_custom_claims<'a>(document: &mut Value, claims: impl IntoIterator<Item = &'a str>) {
    if let Some(Value::Array(supported)) = document.get_mut("claims_supported") {
        for claim in claims {
            if !supported.iter().any(|c| c == claim) {
                supported.push(Value::from(claim));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_and_endpoints() {
        let doc = document(
            "https://id.example/",
            "grafana",
            KeyAlgorithm::Es256,
            &["openid".into()],
        );
        assert_eq!(doc["issuer"], "https://id.example/application/o/grafana/");
        assert_eq!(
            doc["jwks_uri"],
            "https://id.example/application/o/grafana/jwks/"
        );
        assert_eq!(
            doc["end_session_endpoint"],
            "https://id.example/application/o/grafana/end-session/"
        );
        assert_eq!(
            doc["token_endpoint"],
            "https://id.example/application/o/token/"
        );
        assert_eq!(
            doc["id_token_signing_alg_values_supported"],
            json!(["ES256"])
        );
    }

    #[test]
    fn a_shared_issuer_publishes_no_logout_and_lists_every_algorithm() {
        let endpoints = crate::dex::alias_endpoints(
            "https://id.example/dex",
            "https://id.example/application/o/revoke/",
        );
        let doc = document_for(
            &endpoints,
            &[KeyAlgorithm::Rs256, KeyAlgorithm::Es256],
            &["openid".into()],
        );
        assert_eq!(doc["issuer"], "https://id.example/dex");
        assert_eq!(doc["authorization_endpoint"], "https://id.example/dex/auth");
        assert_eq!(doc["jwks_uri"], "https://id.example/dex/keys");
        assert!(doc.get("end_session_endpoint").is_none());
        assert!(doc.get("backchannel_logout_supported").is_none());
        assert!(doc.get("device_authorization_endpoint").is_none());
        assert_eq!(
            doc["grant_types_supported"],
            json!(["authorization_code", "refresh_token", "client_credentials"])
        );
        assert_eq!(
            doc["id_token_signing_alg_values_supported"],
            json!(["RS256", "ES256"])
        );
    }

    #[test]
    fn custom_claims_are_listed_once() {
        let mut doc = document(
            "https://id.example",
            "grafana",
            KeyAlgorithm::Rs256,
            &["openid".into(), "team".into()],
        );
        add_custom_claims(&mut doc, ["team", "roles", "team"]);
        let claims = doc["claims_supported"].as_array().expect("array");
        assert_eq!(claims.iter().filter(|c| *c == "team").count(), 1);
        assert!(claims.contains(&json!("roles")));
        assert_eq!(doc["scopes_supported"], json!(["openid", "team"]));
    }
}
