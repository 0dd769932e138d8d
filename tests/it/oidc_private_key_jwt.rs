//! `private_key_jwt` client authentication (RFC 7523 §2.2, OIDC Core §9) on both backends:
//! Authlib (Python, tests/interop/authlib/private_key_jwt.py) as a real client signing its
//! assertions with RS256, ES256 (with `kid`) and EdDSA (without) keys that Gatehouse knows
//! only from the JWKS registered with `gatehouse app create --jwks-file`, at the token,
//! introspection and revocation endpoints; a replayed assertion, an unregistered key and the
//! secret methods of a client registered for `private_key_jwt` are refused. The store part:
//! a `jti` is single-use per client until it expires, then swept.

use crate::oidc_authlib::authlib_script;
use crate::support::server::{Backend, Installation, Server};
use chrono::{Duration, Utc};
use gatehouse_core::ClientAssertionStore;
use gatehouse_store::SqlStore;
use serde_json::Value;

fn authlib(args: &[&str]) -> String {
    authlib_script("private_key_jwt.py", args)
}

async fn authlib_private_key_jwt(backend: Backend) {
    let gh = Installation::new(backend).await;
    let keys_dir = tempfile::tempdir().expect("temp dir");
    let keys_path = keys_dir.path().to_str().expect("utf-8 path");
    let jwks = authlib(&["keygen", keys_path]);
    let jwks_file = keys_dir.path().join("jwks.json");
    std::fs::write(&jwks_file, &jwks).expect("write jwks");
    let jwks_file = jwks_file.to_str().expect("utf-8 path");

    // A JWKS with a key that cannot verify anything is refused before anything is stored.
    let bad_file = keys_dir.path().join("bad.json");
    std::fs::write(&bad_file, r#"{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}"#).expect("write");
    let refused = gh.cli(
        &[
            "app",
            "create",
            "bad",
            "--client-id",
            "bad",
            "--jwks-file",
            bad_file.to_str().expect("utf-8 path"),
        ],
        None,
    );
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("jwks: keys[0]"));

    let created: Value = serde_json::from_str(&gh.cli_ok(
        &[
            "app",
            "create",
            "service",
            "--client-id",
            "service",
            "--jwks-file",
            jwks_file,
            "--token-endpoint-auth-method",
            "private_key_jwt",
            "--json",
        ],
        None,
    ))
    .expect("json");
    assert_eq!(
        created["oidc"]["token_endpoint_auth_method"],
        "private_key_jwt"
    );
    assert_eq!(
        created["oidc"]["jwks"],
        serde_json::from_str::<Value>(&jwks).expect("jwks")
    );

    let server = Server::start(&gh, &[]);
    server.wait_ready().await;
    let issuer = server.url("/application/o/service/");
    let out: Value =
        serde_json::from_str(&authlib(&["run", &issuer, "service", keys_path])).expect("json");

    assert!(
        out["methods"]
            .as_array()
            .expect("methods")
            .contains(&Value::from("private_key_jwt"))
    );
    assert_eq!(out["algs"], serde_json::json!(["RS256", "ES256", "EdDSA"]));
    for alg in ["RS256", "ES256", "EdDSA"] {
        let result = &out[alg];
        assert_eq!(result["token_type"], "Bearer", "{alg}: {out}");
        assert_eq!(result["introspected"]["status"], 200, "{alg}: {out}");
        assert_eq!(result["introspected"]["active"], true, "{alg}: {out}");
        assert_eq!(result["introspected"]["client_id"], "service");
        assert_eq!(result["revocation_status"], 200, "{alg}: {out}");
        assert_eq!(result["after_revocation"]["active"], false, "{alg}: {out}");
    }
    assert_eq!(out["first_use"]["status"], 200, "{out}");
    for refused in ["replayed", "unregistered_key", "client_secret_basic"] {
        assert_eq!(out[refused]["status"], 401, "{refused}: {out}");
        assert_eq!(out[refused]["error"], "invalid_client", "{refused}: {out}");
    }
}

crate::on_both_backends!(authlib_private_key_jwt);

mod store {
    use super::*;

    crate::on_both_stores!(client_assertions_are_single_use_until_they_expire);

    async fn client_assertions_are_single_use_until_they_expire(store: SqlStore) {
        let now = Utc::now();
        let later = now + Duration::minutes(5);
        assert!(
            store
                .record_client_assertion("a", "j1", later)
                .await
                .expect("record")
        );
        assert!(
            !store
                .record_client_assertion("a", "j1", later)
                .await
                .expect("replay")
        );
        // The same jti from another client is another assertion.
        assert!(
            store
                .record_client_assertion("b", "j1", later)
                .await
                .expect("other")
        );
        // Two racing uses: exactly one wins.
        let (x, y) = tokio::join!(
            store.record_client_assertion("a", "j2", later),
            store.record_client_assertion("a", "j2", later),
        );
        assert!(x.expect("x") ^ y.expect("y"));
        // An expired record no longer makes a replay, and the sweep removes expired ones.
        let past = now - Duration::minutes(1);
        assert!(
            store
                .record_client_assertion("a", "old", past)
                .await
                .expect("old")
        );
        assert!(
            store
                .record_client_assertion("a", "old", later)
                .await
                .expect("again")
        );
        assert!(
            store
                .record_client_assertion("a", "gone", past)
                .await
                .expect("gone")
        );
        assert_eq!(
            store
                .delete_expired_client_assertions(now)
                .await
                .expect("sweep"),
            1
        );
        assert!(
            !store
                .record_client_assertion("a", "j1", later)
                .await
                .expect("kept")
        );
    }
}
