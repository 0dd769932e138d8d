//! RFC 8628, the device authorization grant, over real HTTP on both backends: panva's
//! openid-client starts a device authorization and polls (`initiateDeviceAuthorization`,
//! `pollDeviceAuthorizationGrant`) while the user signs in and confirms the code on
//! `/if/device/`, then validates the ID token; a denial reaches the polling client as
//! `access_denied`. Over raw HTTP: a public client, `authorization_pending`, `slow_down`,
//! single use, wrong codes, CSRF, the application's group policy, and the audit events.

use crate::oidc::{PASSWORD, client, csrf_of, post_form, relying_party_script, sign_in_from};
use crate::on_both_backends;
use crate::support::server::{Backend, Installation, Server};
use gatehouse_core::{EventAction, EventQuery, EventStore};
use reqwest::StatusCode;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

const DEVICE: &str = "/if/device/";

/// openid-client's device flow as a child process: the first line it prints is the device
/// authorization response; the second, after polling ends, the outcome.
struct PollingDevice {
    child: Child,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
    script: std::path::PathBuf,
}

impl PollingDevice {
    fn start(issuer: &str, client_id: &str, secret: &str) -> (Self, Value) {
        let script = relying_party_script();
        let mut child = Command::new("node")
            .arg(&script)
            .args(["device", issuer, client_id, secret, "openid profile"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("run node");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let first = lines
            .next()
            .expect("a device authorization response")
            .expect("read");
        let started = serde_json::from_str(&first).expect("json");
        (
            Self {
                child,
                lines,
                script,
            },
            started,
        )
    }

    async fn outcome(mut self) -> Value {
        let outcome = tokio::task::spawn_blocking(move || {
            let line = self.lines.next().expect("an outcome").expect("read");
            let status = self.child.wait().expect("wait");
            let _ = std::fs::remove_file(&self.script);
            assert!(status.success(), "openid-client failed");
            line
        })
        .await
        .expect("join");
        serde_json::from_str(&outcome).expect("json")
    }
}

/// Opens the user-code page for `code` and answers it; returns the status and page.
async fn answer(
    server: &Server,
    browser: &reqwest::Client,
    code: &str,
    decision: &str,
) -> (StatusCode, String) {
    let page = browser
        .get(server.url(&format!("{DEVICE}?code={code}")))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("body");
    assert!(page.contains(r#"name="csrf""#), "{page}");
    let response = browser
        .post(server.url(DEVICE))
        .form(&[
            ("csrf", csrf_of(&page).as_str()),
            ("code", code),
            ("decision", decision),
        ])
        .send()
        .await
        .expect("answer");
    let status = response.status();
    (status, response.text().await.expect("body"))
}

async fn device_flow(backend: Backend) {
    let gh = Installation::new(backend).await;
    gh.cli_ok(&["group", "create", "tv-viewers"], None);
    let created: Value = serde_json::from_str(&gh.cli_ok(
        &[
            "app",
            "create",
            "tv",
            "--name",
            "Living Room TV",
            "--client-id",
            "tv",
            "--redirect-uri",
            "https://tv.example/cb",
            "--json",
        ],
        None,
    ))
    .expect("json");
    let secret = created["client_secret"].as_str().expect("secret");
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
        ],
        None,
    );
    gh.cli_ok(
        &[
            "app",
            "create",
            "locked",
            "--client-id",
            "locked",
            "--public",
            "--redirect-uri",
            "http://127.0.0.1/cb",
            "--allowed-group",
            "tv-viewers",
        ],
        None,
    );
    let server = Server::start(&gh, &[("GATEHOUSE_BOOTSTRAP_PASSWORD", PASSWORD)]);
    server.wait_ready().await;
    let issuer = server.url("/application/o/tv/");
    let discovery: Value = reqwest::get(format!("{issuer}.well-known/openid-configuration"))
        .await
        .expect("discovery")
        .json()
        .await
        .expect("json");
    assert_eq!(
        discovery["device_authorization_endpoint"],
        server.url("/application/o/device/")
    );

    // openid-client starts, the user confirms on the page while it polls.
    let (device, started) = PollingDevice::start(&issuer, "tv", secret);
    let user_code = started["user_code"].as_str().expect("user_code").to_owned();
    assert_eq!(user_code.len(), 9, "{user_code}");
    assert!(
        user_code
            .chars()
            .all(|c| c == '-' || "BCDFGHJKLMNPQRSTVWXZ".contains(c)),
        "{user_code}"
    );
    assert_eq!(started["verification_uri"], server.url(DEVICE));
    assert_eq!(started["interval"], 5);
    assert_eq!(started["expires_in"], 600);
    let complete = started["verification_uri_complete"]
        .as_str()
        .expect("complete");
    let browser = client();
    let back = sign_in_from(&server, &browser, complete).await;
    assert_eq!(back, format!("{DEVICE}?code={user_code}"));
    let page = browser
        .get(server.url(&back))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("body");
    assert!(page.contains("Connect Living Room TV?"), "{page}");
    assert!(page.contains(&user_code), "{page}");
    // Without the CSRF token the answer is refused.
    let forged = browser
        .post(server.url(DEVICE))
        .form(&[("code", user_code.as_str()), ("decision", "allow")])
        .send()
        .await
        .expect("forged");
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    // Typed loosely (lower case, no dash) it is the same code.
    let loose = user_code.replace('-', "").to_lowercase();
    let (status, done) = answer(&server, &browser, &loose, "allow").await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert!(done.contains("Device connected"), "{done}");
    let outcome = device.outcome().await;
    let claims = &outcome["claims"];
    assert_eq!(claims["aud"], "tv", "{outcome}");
    assert_eq!(claims["iss"], issuer);
    assert_eq!(claims["preferred_username"], "admin");
    assert_eq!(claims["amr"], serde_json::json!(["pwd"]));
    assert!(claims["auth_time"].is_i64());
    // A code is answered once: the page no longer knows it, nor does the form.
    let again = browser
        .get(server.url(&format!("{DEVICE}?code={user_code}")))
        .send()
        .await
        .expect("page");
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    assert!(
        again
            .text()
            .await
            .expect("body")
            .contains("not valid or has expired")
    );
    let csrf = csrf_of(&page);
    let replay = browser
        .post(server.url(DEVICE))
        .form(&[
            ("csrf", csrf.as_str()),
            ("code", user_code.as_str()),
            ("decision", "allow"),
        ])
        .send()
        .await
        .expect("replay");
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST);

    // A denial reaches the polling client.
    let (device, started) = PollingDevice::start(&issuer, "tv", secret);
    let code = started["user_code"].as_str().expect("user_code");
    let (status, denied) = answer(&server, &browser, code, "deny").await;
    assert_eq!(status, StatusCode::OK);
    assert!(denied.contains("Request denied"), "{denied}");
    assert_eq!(device.outcome().await["error"], "access_denied");

    // A public client over raw HTTP: pending, then slow_down, then single use.
    let http = client();
    let token_url = server.url("/application/o/token/");
    let (status, _, started) = post_form(
        &http,
        &server.url("/application/o/device/"),
        None,
        &[("client_id", "cli"), ("scope", "openid nonsense")],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{started}");
    let device_code = started["device_code"].as_str().expect("device_code");
    let poll = [
        ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
        ("client_id", "cli"),
        ("device_code", device_code),
    ];
    let (status, headers, body) = post_form(&http, &token_url, None, &poll).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "authorization_pending");
    assert_eq!(headers["cache-control"], "no-store");
    let (_, _, body) = post_form(&http, &token_url, None, &poll).await;
    assert_eq!(body["error"], "slow_down");
    // Another client cannot redeem it.
    let (_, _, body) = post_form(
        &http,
        &token_url,
        None,
        &[
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("client_id", "locked"),
            ("device_code", device_code),
        ],
    )
    .await;
    assert_eq!(body["error"], "invalid_grant");
    let (status, _) = answer(
        &server,
        &browser,
        started["user_code"].as_str().expect("code"),
        "allow",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, tokens) = post_form(&http, &token_url, None, &poll).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["scope"], "openid", "unknown scopes are dropped");
    assert!(tokens["id_token"].is_string());
    let (_, _, body) = post_form(&http, &token_url, None, &poll).await;
    assert_eq!(
        body["error"], "invalid_grant",
        "a device code is single-use"
    );

    // Bad input.
    let (_, _, body) = post_form(
        &http,
        &token_url,
        None,
        &[
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("client_id", "cli"),
            ("device_code", "made-up"),
        ],
    )
    .await;
    assert_eq!(body["error"], "invalid_grant");
    let (status, _, body) = post_form(
        &http,
        &server.url("/application/o/device/"),
        Some(("tv", "wrong secret of sixteen+")),
        &[("scope", "openid")],
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "invalid_client");
    let wrong = browser
        .get(server.url(&format!("{DEVICE}?code=BCDF-GHJK")))
        .send()
        .await
        .expect("wrong code");
    assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
    assert!(
        wrong
            .text()
            .await
            .expect("body")
            .contains("not valid or has expired")
    );

    // The application's group policy applies before the question.
    let (_, _, started) = post_form(
        &http,
        &server.url("/application/o/device/"),
        None,
        &[("client_id", "locked")],
    )
    .await;
    let page = browser
        .get(server.url(&format!(
            "{DEVICE}?code={}",
            started["user_code"].as_str().expect("code")
        )))
        .send()
        .await
        .expect("page");
    assert_eq!(page.status(), StatusCode::FORBIDDEN);
    assert!(page.text().await.expect("body").contains("Access denied"));

    let events = gh
        .store()
        .await
        .list_events(&EventQuery {
            limit: 200,
            ..EventQuery::default()
        })
        .await
        .expect("events")
        .items;
    let device_grant = Some(&Value::from("urn:ietf:params:oauth:grant-type:device_code"));
    assert!(
        events
            .iter()
            .any(|e| e.action == EventAction::AuthorizeApplication
                && e.context.get("grant_type") == device_grant)
    );
    assert_eq!(
        events
            .iter()
            .filter(|e| e.action == EventAction::TokenIssued
                && e.context.get("grant_type") == device_grant)
            .count(),
        2,
        "one token_issued event per redeemed device code"
    );
}

on_both_backends!(device_flow);
