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

/// The metadata document for `slug`, whose tokens are signed with `alg` and which allows
/// `scopes`.
pub fn document(base_url: &str, slug: &str, alg: KeyAlgorithm, scopes: &[String]) -> Value {
    let base = base_url.trim_end_matches('/');
    let endpoint = |path: &str| format!("{base}/application/o/{path}");
    json!({
        "issuer": issuer(base, slug),
        "authorization_endpoint": endpoint("authorize/"),
        "token_endpoint": endpoint("token/"),
        "userinfo_endpoint": endpoint("userinfo/"),
        "introspection_endpoint": endpoint("introspect/"),
        "revocation_endpoint": endpoint("revoke/"),
        "jwks_uri": endpoint(&format!("{slug}/jwks/")),
        "end_session_endpoint": endpoint(&format!("{slug}/end-session/")),
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "device_authorization_endpoint": endpoint("device/"),
        "grant_types_supported": [
            "authorization_code", "refresh_token", "client_credentials", crate::device::DEVICE_CODE_GRANT,
        ],
        "subject_types_supported": ["public", "pairwise"],
        "id_token_signing_alg_values_supported": [alg.as_str()],
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
    })
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
