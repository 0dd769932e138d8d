//! Concurrent client_credentials requests against a real server on both backends: the token
//! endpoint writes their records by group commit (`oidc::token_writer`), and every token it
//! answered with must be recorded, each with its own audit event, whatever batch carried it.
//! Introspection (which looks the `jti` up) and revocation prove the records exist.

use crate::on_both_backends;
use crate::support::server::{Backend, Installation, Server};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::StatusCode;
use serde_json::Value;

on_both_backends!(concurrent_client_credentials_are_all_recorded);

const SECRET: &str = "a-machine-client-secret-for-tests";
const REQUESTS: usize = 48;

async fn post(http: &reqwest::Client, url: &str, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let response = http
        .post(url)
        .header(
            "authorization",
            format!("Basic {}", STANDARD.encode(format!("machine:{SECRET}"))),
        )
        .form(form)
        .send()
        .await
        .expect("request");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn concurrent_client_credentials_are_all_recorded(backend: Backend) {
    let gh = Installation::new(backend).await;
    gh.cli_ok(
        &[
            "app",
            "create",
            "machine",
            "--client-id",
            "machine",
            "--client-secret-stdin",
            "--signing-alg",
            "ES256",
        ],
        Some(SECRET),
    );
    let server = Server::start(&gh, &[]);
    server.wait_ready().await;
    let http = reqwest::Client::new();
    let token_url = server.url("/application/o/token/");
    let introspect = server.url("/application/o/introspect/");
    let mut requests = tokio::task::JoinSet::new();
    for _ in 0..REQUESTS {
        let (http, url) = (http.clone(), token_url.clone());
        requests
            .spawn(async move { post(&http, &url, &[("grant_type", "client_credentials")]).await });
    }
    let mut tokens = Vec::new();
    while let Some(answer) = requests.join_next().await {
        let (status, body) = answer.expect("request task");
        assert_eq!(status, StatusCode::OK, "{body}");
        tokens.push(
            body["access_token"]
                .as_str()
                .expect("access_token")
                .to_owned(),
        );
    }
    for token in &tokens {
        let (_, answer) = post(&http, &introspect, &[("token", token)]).await;
        assert_eq!(answer["active"], true, "every answered token is recorded");
    }
    let (status, _) = post(
        &http,
        &server.url("/application/o/revoke/"),
        &[("token", &tokens[0])],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, answer) = post(&http, &introspect, &[("token", &tokens[0])]).await;
    assert_eq!(answer["active"], false);
    let (_, answer) = post(&http, &introspect, &[("token", &tokens[1])]).await;
    assert_eq!(
        answer["active"], true,
        "revoking one token leaves the others of its batch"
    );
    server.terminate();
}
