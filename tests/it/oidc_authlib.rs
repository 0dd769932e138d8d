//! A second, independent OIDC client and RP-initiated logout, on both backends: Authlib (Python,
//! tests/interop/authlib/client.py) as a real process doing discovery, client credentials with
//! `client_secret_basic` and `client_secret_post`, introspection before and after revocation,
//! and ID token validation against our JWKS; and the end-session endpoint over HTTP (the
//! confirmation page, the redirect with `state`, the dead session cookie, the refusals).

use crate::oidc::{
    PASSWORD, REDIRECT, claims_of, client, csrf_of, location, post_form, query_param,
    sign_in_and_authorize,
};
use crate::on_both_backends;
use crate::support::server::{Backend, Installation, Server};
use gatehouse_core::{EventAction, EventQuery, EventStore};
use reqwest::StatusCode;
use serde_json::Value;

const BYE: &str = "https://rp.example/signed-out";

/// An installation with a confidential client `grafana` (redirect and post-logout URIs
/// registered) and a second client `other`; returns the server and grafana's secret.
pub(crate) async fn installation(backend: Backend) -> (Installation, Server, String) {
    let gh = Installation::new(backend).await;
    let created: Value = serde_json::from_str(&gh.cli_ok(
        &[
            "app",
            "create",
            "grafana",
            "--client-id",
            "grafana",
            "--redirect-uri",
            REDIRECT,
            "--post-logout-redirect-uri",
            BYE,
            "--json",
        ],
        None,
    ))
    .expect("json");
    assert_eq!(
        created["oidc"]["post_logout_redirect_uris"],
        serde_json::json!([BYE])
    );
    let secret = created["client_secret"]
        .as_str()
        .expect("secret")
        .to_owned();
    gh.cli_ok(
        &[
            "app",
            "create",
            "other",
            "--client-id",
            "other",
            "--redirect-uri",
            REDIRECT,
            "--post-logout-redirect-uri",
            BYE,
        ],
        None,
    );
    let server = Server::start(&gh, &[("GATEHOUSE_BOOTSTRAP_PASSWORD", PASSWORD)]);
    server.wait_ready().await;
    (gh, server, secret)
}

/// Signs `browser` in through the code flow and returns the ID token it earned.
pub(crate) async fn id_token(server: &Server, browser: &reqwest::Client, secret: &str) -> String {
    let url = server.url(&format!(
        "/application/o/authorize/?response_type=code&client_id=grafana&redirect_uri={}&scope=openid%20profile&state=s&nonce=n",
        gatehouse_oidc::authorize::form_encode(REDIRECT)
    ));
    let back = sign_in_and_authorize(server, browser, &url).await;
    let code = query_param(&back, "code").expect("code");
    let (status, _, body) = post_form(
        &client(),
        &server.url("/application/o/token/"),
        Some(("grafana", secret)),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["id_token"].as_str().expect("id_token").to_owned()
}

pub(crate) fn authlib(args: &[&str]) -> Value {
    serde_json::from_str(&authlib_script("client.py", args)).expect("client.py prints JSON")
}

/// Runs `tests/interop/authlib/<script>` with the Authlib virtualenv's interpreter and
/// returns what it printed; fails the test if it fails.
pub(crate) fn authlib_script(script: &str, args: &[&str]) -> String {
    let python = std::env::var("GATEHOUSE_TEST_AUTHLIB_PYTHON").expect(
        "GATEHOUSE_TEST_AUTHLIB_PYTHON: run scripts/test, which installs Authlib into a virtualenv",
    );
    let output = std::process::Command::new(python)
        .arg(format!(
            "{}/../../tests/interop/authlib/{script}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .args(args)
        .output()
        .expect("run python");
    assert!(
        output.status.success(),
        "Authlib ({script}) failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8")
}

async fn authlib_interop(backend: Backend) {
    let (_gh, server, secret) = installation(backend).await;
    let issuer = server.url("/application/o/grafana/");
    let token = id_token(&server, &client(), &secret).await;
    let out = authlib(&[&issuer, "grafana", &secret, &token]);
    assert_eq!(out["issuer"], issuer);
    assert_eq!(
        out["end_session_endpoint"],
        server.url("/application/o/grafana/end-session/")
    );
    for method in ["basic", "post"] {
        assert_eq!(out[method]["token_type"], "Bearer", "{method}: {out}");
    }
    assert_eq!(out["introspected"]["status"], 200);
    assert_eq!(out["introspected"]["active"], true);
    assert_eq!(out["introspected"]["client_id"], "grafana");
    assert_eq!(out["revocation_status"], 200);
    assert_eq!(out["after_revocation"]["active"], false);
    assert_eq!(out["other_token"]["active"], true);
    let claims = &out["id_token"]["claims"];
    assert_eq!(claims["iss"], issuer);
    assert_eq!(claims["aud"], "grafana");
    assert_eq!(claims["nonce"], "n");
    assert_eq!(claims["preferred_username"], "admin");
    assert_eq!(claims["sub"], claims_of(&token)["sub"]);
    assert_eq!(out["id_token"]["header"]["alg"], "RS256");
    assert_ne!(out["tampered"], "accepted");
}

async fn end_session(backend: Backend) {
    let (gh, server, secret) = installation(backend).await;
    let browser = client();
    let hint = id_token(&server, &browser, &secret).await;
    let end_session = server.url("/application/o/grafana/end-session/");
    let form_encode = gatehouse_oidc::authorize::form_encode;

    // Refusals are pages, never redirects, and leave the session alone: an unregistered
    // post-logout URI, a hint for another client, a hint that is not ours.
    let refused = [
        format!(
            "{end_session}?id_token_hint={hint}&post_logout_redirect_uri={}&state=x",
            form_encode("https://evil.example/bye")
        ),
        format!(
            "{}?id_token_hint={hint}&post_logout_redirect_uri={}",
            server.url("/application/o/other/end-session/"),
            form_encode(BYE)
        ),
        format!("{end_session}?client_id=other"),
        format!("{end_session}?id_token_hint=a.b.c"),
    ];
    for url in refused {
        let response = browser.get(&url).send().await.expect("get");
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{url}");
        assert!(response.headers().get("location").is_none(), "{url}");
        let page = response.text().await.expect("body");
        assert!(
            page.contains("This sign-out request cannot be completed"),
            "{page}"
        );
    }
    let missing = browser
        .get(server.url("/application/o/nope/end-session/"))
        .send()
        .await
        .expect("get");
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);

    // The request: a confirmation page, nothing ended yet.
    let url = format!(
        "{end_session}?id_token_hint={hint}&post_logout_redirect_uri={}&state={}&ui_locales=de",
        form_encode(BYE),
        form_encode("st/ate 1")
    );
    let response = browser.get(&url).send().await.expect("get");
    assert_eq!(response.status(), StatusCode::OK);
    let page = response.text().await.expect("body");
    assert!(page.contains("Sign out of Gatehouse?"), "{page}");
    assert!(page.contains("admin"));
    let csrf = csrf_of(&page);
    let portal = browser
        .get(server.url("/if/user/"))
        .send()
        .await
        .expect("portal");
    assert_eq!(portal.status(), StatusCode::OK, "still signed in");

    // A confirmation without the CSRF cookie's token is refused.
    let forged = browser
        .post(&end_session)
        .form(&[("csrf", "forged"), ("id_token_hint", hint.as_str())])
        .send()
        .await
        .expect("post");
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);

    // Confirming ends the session and returns to the registered URI with state.
    let response = browser
        .post(&end_session)
        .form(&[
            ("csrf", csrf.as_str()),
            ("id_token_hint", hint.as_str()),
            ("post_logout_redirect_uri", BYE),
            ("state", "st/ate 1"),
        ])
        .send()
        .await
        .expect("confirm");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let back = location(&response);
    assert!(back.starts_with(&format!("{BYE}?")), "{back}");
    assert_eq!(query_param(&back, "state").as_deref(), Some("st/ate 1"));
    let portal = browser
        .get(server.url("/if/user/"))
        .send()
        .await
        .expect("portal");
    assert_eq!(portal.status(), StatusCode::SEE_OTHER, "signed out");

    // Without a session there is nothing to confirm; with no redirect URI, a plain page.
    let response = browser
        .get(format!("{end_session}?id_token_hint={hint}"))
        .send()
        .await
        .expect("get");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response
            .text()
            .await
            .expect("body")
            .contains("You are signed out")
    );

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
    let logouts: Vec<_> = events
        .iter()
        .filter(|e| e.action == EventAction::Logout)
        .collect();
    assert_eq!(logouts.len(), 1);
    assert_eq!(logouts[0].context["application"], "grafana");
}

on_both_backends!(authlib_interop, end_session);
