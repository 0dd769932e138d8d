//! Behind a reverse proxy: forwarding headers name the client only when the connection comes
//! from a proxy listed in `listen.trusted_proxy_cidrs`; otherwise they are ignored, so nobody
//! can pick the address their failed sign-ins are throttled and audited under.

use crate::login::Visitor;
use crate::support::server::{Backend, Installation, Server};
use gatehouse_core::{Event, EventAction, EventQuery, EventStore};
use reqwest::header::{HeaderMap, HeaderValue};

/// Fails one sign-in through a client that sends `forwarded_for`, and returns the audited
/// failure.
async fn failed_sign_in_via(
    server: &Server,
    installation: &Installation,
    forwarded_for: &str,
) -> Event {
    let mut headers = HeaderMap::new();
    headers.insert(
        "x-forwarded-for",
        HeaderValue::from_str(forwarded_for).expect("header"),
    );
    let visitor = Visitor::start_with(
        server,
        "admin",
        reqwest::Client::builder().default_headers(headers),
    )
    .await;
    let page = visitor.password("not the password").await;
    assert!(page.contains("Invalid username or password"), "{page}");
    let events = installation
        .store()
        .await
        .list_events(&EventQuery {
            limit: 1,
            action: Some(EventAction::LoginFailed),
            ..EventQuery::default()
        })
        .await
        .expect("events");
    events
        .items
        .into_iter()
        .next()
        .expect("a login_failed event")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_for_names_the_client_only_behind_a_trusted_proxy() {
    let installation = Installation::new(Backend::Sqlite).await;
    let password = [("GATEHOUSE_BOOTSTRAP_PASSWORD", "admin's long passphrase")];

    let direct = Server::start(&installation, &password);
    direct.wait_ready().await;
    let event = failed_sign_in_via(&direct, &installation, "203.0.113.7").await;
    assert_eq!(
        event.client_ip.as_deref(),
        Some("127.0.0.1"),
        "header ignored"
    );
    direct.terminate();

    let proxied = Server::start(
        &installation,
        &[
            password[0],
            ("GATEHOUSE_LISTEN__TRUSTED_PROXY_CIDRS", "127.0.0.0/8, ::1"),
        ],
    );
    proxied.wait_ready().await;
    // The client's own claim (198.51.100.1) is left of what the proxy saw (203.0.113.7).
    let event = failed_sign_in_via(&proxied, &installation, "198.51.100.1, 203.0.113.7").await;
    assert_eq!(event.client_ip.as_deref(), Some("203.0.113.7"));
    proxied.terminate();
}

#[test]
fn an_invalid_proxy_list_is_refused_naming_the_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = std::process::Command::new(crate::support::server::binary())
        .arg("check-config")
        .env_clear()
        .env("GATEHOUSE_DATA_DIR", dir.path())
        .env(
            "GATEHOUSE_LISTEN__TRUSTED_PROXY_CIDRS",
            "10.0.0.0/8, 10.0.0/33",
        )
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("listen.trusted_proxy_cidrs") && stderr.contains("10.0.0/33"),
        "{stderr}"
    );
}

#[test]
fn the_proxy_list_is_a_yaml_list_or_a_comma_separated_variable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("gatehouse.yaml");
    std::fs::write(
        &file,
        "listen:\n  trusted_proxy_cidrs: [10.0.0.0/8, \"fd00::/8\"]\n",
    )
    .expect("write config");
    let check = |env: &[(&str, &str)]| {
        let output = std::process::Command::new(crate::support::server::binary())
            .args([
                "--config",
                file.to_str().expect("utf-8 path"),
                "check-config",
            ])
            .env_clear()
            .env("GATEHOUSE_DATA_DIR", dir.path())
            .envs(env.iter().copied())
            .output()
            .expect("run");
        assert!(output.status.success(), "{output:?}");
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let printed = check(&[]);
    assert!(
        printed.contains("- 10.0.0.0/8") && printed.contains("- fd00::/8"),
        "{printed}"
    );
    let printed = check(&[(
        "GATEHOUSE_LISTEN__TRUSTED_PROXY_CIDRS",
        "192.0.2.1 , 127.0.0.1",
    )]);
    assert!(
        printed.contains("- 192.0.2.1") && printed.contains("- 127.0.0.1"),
        "{printed}"
    );
}
