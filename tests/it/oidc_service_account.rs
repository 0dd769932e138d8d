//! Service accounts in the client_credentials grant (authentik's form), on both backends:
//! Authlib as a real client sends `username` and an app password made with `gatehouse user
//! app-password create`, once as a public client naming itself by `client_id` and once as a
//! confidential client authenticating with its secret, and validates the tokens against our
//! JWKS. A confidential client naming itself without its secret is `invalid_client`. Then the
//! refusals over plain HTTP: wrong password, half a credential, a bad client secret, a
//! deactivated account, the application's group policy, a deleted app password; each one
//! `invalid_grant` (or the RFC 6749 §5.2 code that fits) and an audited `login_failed`.

use crate::oidc::{client, post_form};
use crate::oidc_authlib::authlib_script;
use crate::on_both_backends;
use crate::support::server::{Backend, Installation, Server};
use gatehouse_core::EventAction;
use reqwest::StatusCode;
use serde_json::Value;

async fn service_account_tokens(backend: Backend) {
    let gh = Installation::new(backend).await;
    gh.cli_ok(&["group", "create", "robots"], None);
    let created: Value = serde_json::from_str(&gh.cli_ok(
        &[
            "app",
            "create",
            "ci",
            "--client-id",
            "ci",
            "--redirect-uri",
            "https://ci.example/cb",
            "--allowed-group",
            "robots",
            "--json",
        ],
        None,
    ))
    .expect("json");
    let client_secret = created["client_secret"]
        .as_str()
        .expect("secret")
        .to_owned();
    // The same application's public twin: the form with only `client_id` is for these.
    gh.cli_ok(
        &[
            "app",
            "create",
            "cli",
            "--client-id",
            "cli",
            "--public",
            "--redirect-uri",
            "http://127.0.0.1/cb",
            "--allowed-group",
            "robots",
        ],
        None,
    );
    gh.cli_ok(
        &["user", "create", "robot", "--type", "service_account"],
        None,
    );
    let password = gh
        .cli_ok(
            &[
                "user",
                "app-password",
                "create",
                "robot",
                "--name",
                "deploy",
            ],
            None,
        )
        .trim()
        .to_owned();
    assert!(password.len() >= 32, "{password}");
    // People get no app passwords: they sign in through flows.
    gh.cli_ok(&["user", "create", "alice"], None);
    let refused = gh.cli(&["user", "app-password", "create", "alice"], None);
    assert!(!refused.status.success());
    let listed: Value = serde_json::from_str(
        &gh.cli_ok(&["user", "app-password", "list", "robot", "--json"], None),
    )
    .expect("json");
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    assert_eq!(listed[0]["description"], "deploy");
    assert!(!listed.to_string().contains(&password));

    let server = Server::start(&gh, &[]);
    server.wait_ready().await;
    let http = client();
    let token_url = server.url("/application/o/token/");
    let issuer = server.url("/application/o/ci/");
    let grant = |password: &str| {
        vec![
            ("grant_type", "client_credentials"),
            ("client_id", "cli"),
            ("username", "robot"),
            ("password", password),
        ]
        .into_iter()
        .map(|(k, v)| (k, v.to_owned()))
        .collect::<Vec<_>>()
    };
    let post = |form: Vec<(&'static str, String)>, basic: Option<(&'static str, String)>| {
        let http = http.clone();
        let token_url = token_url.clone();
        async move {
            let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let basic = basic.as_ref().map(|(id, s)| (*id, s.as_str()));
            let (status, _, body) = post_form(&http, &token_url, basic, &pairs).await;
            (status, body["error"].as_str().map(str::to_owned))
        }
    };
    let invalid_grant = (StatusCode::BAD_REQUEST, Some("invalid_grant".to_owned()));

    // Outside the application's group: refused like a wrong password.
    assert_eq!(post(grant(&password), None).await, invalid_grant);
    gh.cli_ok(&["group", "add-member", "robots", "robot"], None);

    // Authlib gets tokens whose subject is the account: as the public client naming itself
    // by id only, and as the confidential client authenticating with its secret.
    for (client_id, issuer, secret) in [
        ("cli", server.url("/application/o/cli/"), None),
        ("ci", issuer.clone(), Some(client_secret.as_str())),
    ] {
        let mut args = vec![issuer.as_str(), client_id, "robot", password.as_str()];
        args.extend(secret);
        let out: Value =
            serde_json::from_str(&authlib_script("service_account.py", &args)).expect("json");
        assert_eq!(out["id_token"]["preferred_username"], "robot", "{out}");
        assert_eq!(out["id_token"]["aud"], client_id);
        assert_eq!(out["access_token"]["sub"], out["id_token"]["sub"]);
        assert_eq!(out["access_token"]["client_id"], client_id);
        assert_eq!(out["has_refresh_token"], false);
        assert_eq!(out["scope"], "openid profile");
    }

    // A confidential client must authenticate (RFC 6749 §3.2.1): naming it is not enough,
    // a wrong secret is refused, the right one works.
    let mut confidential = grant(&password);
    confidential[1].1 = "ci".into();
    assert_eq!(
        post(confidential.clone(), None).await,
        (StatusCode::UNAUTHORIZED, Some("invalid_client".to_owned()))
    );
    // A client secret sent along is checked, for a public client too.
    for client_id in ["ci", "cli"] {
        let mut form = grant(&password);
        form.retain(|(k, _)| *k != "client_id");
        assert_eq!(
            post(form, Some((client_id, "wrong".to_owned()))).await.0,
            StatusCode::UNAUTHORIZED,
            "{client_id}"
        );
    }
    let mut with_secret = grant(&password);
    with_secret.retain(|(k, _)| *k != "client_id");
    assert_eq!(
        post(with_secret, Some(("ci", client_secret.clone())))
            .await
            .0,
        StatusCode::OK
    );

    // Refusals.
    assert_eq!(post(grant("not-the-password"), None).await, invalid_grant);
    let mut half = grant(&password);
    // Half a credential is malformed, whoever the client is.
    half.retain(|(k, _)| *k != "password");
    assert_eq!(
        post(half.clone(), None).await,
        (StatusCode::BAD_REQUEST, Some("invalid_request".to_owned()))
    );
    half.retain(|(k, _)| *k != "client_id");
    assert_eq!(
        post(half, Some(("ci", client_secret.clone()))).await,
        (StatusCode::BAD_REQUEST, Some("invalid_request".to_owned()))
    );
    let mut unknown = grant(&password);
    unknown[2].1 = "nobody".into();
    assert_eq!(post(unknown, None).await, invalid_grant);
    let oversized = "x".repeat(600);
    assert_eq!(post(grant(&oversized), None).await, invalid_grant);
    gh.cli_ok(&["user", "deactivate", "robot"], None);
    assert_eq!(post(grant(&password), None).await, invalid_grant);
    gh.cli_ok(&["user", "activate", "robot"], None);
    assert_eq!(post(grant(&password), None).await.0, StatusCode::OK);
    let id = listed[0]["id"].as_str().expect("id");
    gh.cli_ok(&["user", "app-password", "delete", "robot", id], None);
    assert_eq!(post(grant(&password), None).await, invalid_grant);

    // Audit: the issued tokens name the account; every refusal is a login_failed with why.
    let events = gh.events().await;
    let issued = events
        .iter()
        .filter(|e| e.action == EventAction::TokenIssued)
        .filter(|e| e.context.get("user").and_then(Value::as_str) == Some("robot"))
        .count();
    assert_eq!(issued, 4, "{events:?}");
    let reasons: Vec<&str> = events
        .iter()
        .filter(|e| e.action == EventAction::LoginFailed)
        .filter_map(|e| e.context.get("reason").and_then(Value::as_str))
        .collect();
    for reason in [
        "client_credentials: denied by the application's group policy",
        "client_credentials: wrong app password",
        "client_credentials: unknown user",
        "client_credentials: credentials too long",
        "client_credentials: user inactive",
    ] {
        assert!(
            reasons.iter().filter(|r| **r == reason).count() >= 1,
            "{reason}: {reasons:?}"
        );
    }
    assert_eq!(
        reasons
            .iter()
            .filter(|r| **r == "client_credentials: wrong app password")
            .count(),
        2,
        "the wrong password and the deleted one: {reasons:?}"
    );
    assert!(
        !format!("{events:?}").contains(&password),
        "no secret in the audit log"
    );
}

on_both_backends!(service_account_tokens);
