//! Signing-key rotation with overlap on both backends: `gatehouse key rotate` while the
//! server runs makes new tokens carry the new `kid` (once the 5 s provider cache turns over),
//! JWKS keeps the old key, and Authlib
//! (a real client library) still verifies an ID token signed before the rotation against
//! the JWKS afterwards. The store part: rotation retires the active key with its
//! `verify_until` in one transaction, and the sweep deletes it once that has passed.

use crate::oidc::client;
use crate::oidc_authlib::{authlib, id_token, installation};
use crate::support::server::{Backend, Server};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{Duration, Utc};
use gatehouse_core::{
    AuditContext, EventAction, EventQuery, EventStore, KeyAlgorithm, KeyStore, NewSigningKey,
};
use gatehouse_store::SqlStore;
use serde_json::Value;

fn kid_of(token: &str) -> String {
    let header = token.split('.').next().expect("header");
    let header: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).expect("b64")).expect("json");
    header["kid"].as_str().expect("kid").to_owned()
}

/// The first ID token not signed with `old_kid`: servers see a new key within the provider
/// cache's lifetime (5 s, docs/oidc.md).
async fn token_signed_after(server: &Server, secret: &str, old_kid: &str) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let token = id_token(server, &client(), secret).await;
        if kid_of(&token) != old_kid {
            return token;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "tokens still signed with {old_kid}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

async fn rotation_keeps_old_tokens_verifiable(backend: Backend) {
    let (gh, server, secret) = installation(backend).await;
    let old_token = id_token(&server, &client(), &secret).await;
    let old_kid = kid_of(&old_token);

    let printed = gh.cli_ok(&["key", "rotate", "--alg", "RS256"], None);
    assert!(
        printed.contains(&format!("retired key {old_kid}")),
        "{printed}"
    );

    let new_kid = kid_of(&token_signed_after(&server, &secret, &old_kid).await);
    let jwks: Value = client()
        .get(server.url("/application/o/grafana/jwks/"))
        .send()
        .await
        .expect("jwks")
        .json()
        .await
        .expect("json");
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter_map(|k| k["kid"].as_str())
        .collect();
    assert!(kids.contains(&old_kid.as_str()) && kids.contains(&new_kid.as_str()));

    // A real library verifies the token signed before the rotation against today's JWKS.
    let issuer = server.url("/application/o/grafana/");
    let out = authlib(&[&issuer, "grafana", &secret, &old_token]);
    assert_eq!(out["id_token"]["header"]["kid"], old_kid.as_str());
    assert_eq!(out["id_token"]["claims"]["iss"], issuer);
    assert_ne!(out["tampered"], "accepted");

    let listed: Value =
        serde_json::from_str(&gh.cli_ok(&["key", "list", "--json"], None)).expect("json");
    let old = listed
        .as_array()
        .expect("list")
        .iter()
        .find(|k| k["kid"] == old_kid.as_str())
        .expect("old key listed");
    assert!(old["retired_at"].is_string() && old["verify_until"].is_string());

    let events = gh
        .store()
        .await
        .list_events(&EventQuery {
            limit: 500,
            ..EventQuery::default()
        })
        .await
        .expect("events")
        .items;
    assert!(
        events.iter().any(
            |e| e.action == EventAction::ModelUpdated && e.context.contains_key("verify_until")
        )
    );
}

/// `gatehouse key import` with an RSA key OpenSSL made (PKCS#1 PEM, as older tools and many
/// IdPs keep it): new tokens carry the imported key's `kid`, and Authlib verifies them
/// against JWKS, which publishes the modulus OpenSSL reports.
async fn an_imported_key_signs_new_tokens(backend: Backend) {
    let (gh, server, secret) = installation(backend).await;
    let old_kid = kid_of(&id_token(&server, &client(), &secret).await);
    let dir = tempfile::tempdir().expect("dir");
    let pem = dir.path().join("idp.pem");
    let made = std::process::Command::new("openssl")
        .args(["genrsa", "-traditional", "-out"])
        .arg(&pem)
        .arg("2048")
        .output()
        .expect("run openssl (Debian package openssl)");
    assert!(made.status.success(), "{made:?}");
    let modulus = std::process::Command::new("openssl")
        .args(["rsa", "-noout", "-modulus", "-in"])
        .arg(&pem)
        .output()
        .expect("openssl rsa");
    let modulus = String::from_utf8(modulus.stdout).expect("ascii");
    let modulus = modulus
        .trim()
        .trim_start_matches("Modulus=")
        .to_ascii_lowercase();

    let path = pem.to_str().expect("utf-8 path");
    let printed = gh.cli_ok(&["key", "import", path, "--name", "previous-idp"], None);
    assert!(printed.contains("new active RS256 key"), "{printed}");
    assert!(
        printed.contains(&format!("retired key {old_kid}")),
        "{printed}"
    );
    let failed = gh.cli(&["key", "import", "/dev/null"], None);
    assert!(!failed.status.success());
    assert!(
        String::from_utf8_lossy(&failed.stderr).contains("no private key found"),
        "{failed:?}"
    );

    let token = token_signed_after(&server, &secret, &old_kid).await;
    let jwks: Value = client()
        .get(server.url("/application/o/grafana/jwks/"))
        .send()
        .await
        .expect("jwks")
        .json()
        .await
        .expect("json");
    let jwk = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["kid"] == kid_of(&token).as_str())
        .expect("the imported key is published")
        .clone();
    let n = URL_SAFE_NO_PAD
        .decode(jwk["n"].as_str().expect("n"))
        .expect("b64");
    let hex: String = n.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(hex.trim_start_matches('0'), modulus.trim_start_matches('0'));

    let issuer = server.url("/application/o/grafana/");
    let out = authlib(&[&issuer, "grafana", &secret, &token]);
    assert_eq!(out["id_token"]["header"]["kid"], kid_of(&token).as_str());
    assert_ne!(out["tampered"], "accepted");
}

crate::on_both_backends!(
    rotation_keeps_old_tokens_verifiable,
    an_imported_key_signs_new_tokens
);

mod store {
    use super::*;

    crate::on_both_stores!(rotation_retires_then_the_sweep_deletes);

    fn key(name: &str) -> NewSigningKey {
        let generated = gatehouse_crypto::generate_signing_key(KeyAlgorithm::Es256).expect("key");
        NewSigningKey {
            name: name.into(),
            algorithm: KeyAlgorithm::Es256,
            private_key_sealed: "sealed".into(),
            public_key_der: base64::engine::general_purpose::STANDARD
                .encode(&generated.public_key_der),
        }
    }

    async fn rotation_retires_then_the_sweep_deletes(store: SqlStore) {
        let audit = AuditContext::system();
        let first = store.create_signing_key(key("a"), &audit).await.expect("a");
        let soon = Utc::now() + Duration::minutes(5);
        let (second, retired) = store
            .rotate_signing_key(key("b"), soon, &audit)
            .await
            .expect("rotate");
        assert_eq!(retired.len(), 1);
        assert_eq!(retired[0].id, first.id);
        assert!(retired[0].retired_at.is_some());
        assert!(retired[0].verifiable_at(Utc::now()));
        assert!(!retired[0].verifiable_at(soon + Duration::seconds(1)));
        assert_eq!(second.retired_at, None);
        // Not yet: the overlap has not passed.
        assert_eq!(
            store
                .delete_unverifiable_signing_keys(Utc::now())
                .await
                .expect("sweep"),
            0
        );
        let later = soon + Duration::seconds(1);
        assert_eq!(
            store
                .delete_unverifiable_signing_keys(later)
                .await
                .expect("sweep"),
            1
        );
        let left: Vec<_> = store
            .signing_keys()
            .await
            .expect("keys")
            .into_iter()
            .map(|k| k.id)
            .collect();
        assert_eq!(left, vec![second.id]);
    }
}
