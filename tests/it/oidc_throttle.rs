//! Guessing limits at the OAuth2 edge, over real HTTP (SQLite; the counters live in the
//! process, not the database): failed service-account app-password checks go through the
//! login throttle by account and by client address, and a throttled attempt is HTTP 429
//! `invalid_request` with `Retry-After`, even with the right password; wrong user codes on
//! `/if/device/` are limited per session and per client address (RFC 8628 §5.1).

use crate::oidc::{PASSWORD, client, post_form, sign_in_from};
use crate::support::server::{Backend, Installation, Server};
use gatehouse_core::EventAction;
use reqwest::StatusCode;
use serde_json::Value;

/// Two free failures per key, then 60 s; an address gets four.
const POLICY: [(&str, &str); 4] = [
    ("GATEHOUSE_BOOTSTRAP_PASSWORD", PASSWORD),
    ("GATEHOUSE_LOGIN_THROTTLE__FREE_ATTEMPTS", "2"),
    ("GATEHOUSE_LOGIN_THROTTLE__BASE_DELAY_SECS", "60"),
    ("GATEHOUSE_LOGIN_THROTTLE__IP_FREE_ATTEMPTS", "4"),
];

fn public_client(gh: &Installation) {
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
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_app_passwords_are_throttled_by_account_and_address() {
    let gh = Installation::new(Backend::Sqlite).await;
    public_client(&gh);
    gh.cli_ok(
        &["user", "create", "robot", "--type", "service_account"],
        None,
    );
    let password = gh
        .cli_ok(&["user", "app-password", "create", "robot"], None)
        .trim()
        .to_owned();
    let server = Server::start(&gh, &POLICY);
    server.wait_ready().await;
    let http = client();
    let token_url = server.url("/application/o/token/");
    let attempt = |username: &'static str, password: String| {
        let (http, token_url) = (http.clone(), token_url.clone());
        async move {
            let form = [
                ("grant_type", "client_credentials"),
                ("client_id", "cli"),
                ("username", username),
                ("password", password.as_str()),
            ];
            let (status, headers, body) = post_form(&http, &token_url, None, &form).await;
            let retry_after = headers
                .get("retry-after")
                .map(|v| v.to_str().expect("ascii").to_owned());
            (
                status,
                body["error"].as_str().map(str::to_owned),
                retry_after,
            )
        }
    };
    let invalid_grant = (
        StatusCode::BAD_REQUEST,
        Some("invalid_grant".to_owned()),
        None,
    );

    assert_eq!(attempt("robot", password.clone()).await.0, StatusCode::OK);
    for _ in 0..3 {
        assert_eq!(attempt("robot", "wrong".into()).await, invalid_grant);
    }
    // The account waits: even the right password is refused unchecked.
    let (status, error, retry_after) = attempt("robot", password.clone()).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(error.as_deref(), Some("invalid_request"));
    let secs: u64 = retry_after.expect("Retry-After").parse().expect("seconds");
    assert!((1..=60).contains(&secs), "{secs}");

    // Another account from the same address is not the robot's wait...
    assert_eq!(attempt("ghost", "wrong".into()).await, invalid_grant);
    // ...but the address's failures add up: its fifth failure makes it wait too.
    assert_eq!(attempt("ghost", "wrong".into()).await, invalid_grant);
    let (status, error, _) = attempt("someone", "wrong".into()).await;
    assert_eq!(
        (status, error.as_deref()),
        (StatusCode::TOO_MANY_REQUESTS, Some("invalid_request"))
    );

    let events = gh.events().await;
    let throttled = events
        .iter()
        .filter(|e| e.action == EventAction::LoginFailed)
        .filter(|e| {
            e.context.get("reason").and_then(Value::as_str) == Some("client_credentials: throttled")
        })
        .count();
    assert_eq!(throttled, 2, "{events:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_code_guesses_are_limited_per_session_and_address() {
    let gh = Installation::new(Backend::Sqlite).await;
    public_client(&gh);
    let server = Server::start(&gh, &POLICY);
    server.wait_ready().await;
    let (status, _, started) = post_form(
        &client(),
        &server.url("/application/o/device/"),
        None,
        &[("client_id", "cli"), ("scope", "openid")],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{started}");
    let code = started["user_code"].as_str().expect("user_code").to_owned();
    let wrong = if code == "BCDF-GHJK" {
        "BCDF-GHJL"
    } else {
        "BCDF-GHJK"
    };
    let device = server.url("/if/device/");
    let look = |browser: reqwest::Client, typed: String| {
        let url = format!("{device}?code={typed}");
        async move {
            let response = browser.get(url).send().await.expect("page");
            let status = response.status();
            let retry_after = response.headers().get("retry-after").is_some();
            let page = response.text().await.expect("body");
            (status, retry_after, page)
        }
    };

    // One session: two free misses, the third starts a wait that stops even the right code.
    let first = client();
    sign_in_from(&server, &first, &device).await;
    for _ in 0..3 {
        let (status, _, page) = look(first.clone(), wrong.into()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(page.contains("not valid"), "{page}");
    }
    let (status, retry_after, page) = look(first.clone(), code.clone()).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{page}");
    assert!(
        retry_after && page.contains("Too many wrong codes"),
        "{page}"
    );

    // A new session from the same address starts afresh...
    let second = client();
    sign_in_from(&server, &second, &device).await;
    let (status, _, page) = look(second.clone(), code.clone()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Connect"), "{page}");
    // ...until the address has had its share of misses (four free, the fifth waits).
    for _ in 0..2 {
        assert_eq!(
            look(second.clone(), wrong.into()).await.0,
            StatusCode::BAD_REQUEST
        );
    }
    let (status, retry_after, _) = look(second.clone(), code.clone()).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(retry_after);
}
