//! The full browser login with a real relying party, as issue 4 asks: panva's openid-client
//! builds the authorization URL, headless Chromium signs in and consents on Gatehouse's own
//! pages and lands on the RP's redirect URI (a small listener on 127.0.0.1), and openid-client
//! redeems the code and validates the ID token. Then the Grafana-style check: the `groups`
//! claim drives the role rule Grafana's docs recommend,
//! `contains(groups[*], 'grafana-admins') && 'Admin' || 'Viewer'`, for two users (the second
//! signs in over the first's session with `prompt=login` and `login_hint`). A third login, to
//! an application with implicit consent, goes from the password page straight to the RP: the
//! browser follows the redirects only because the page's `form-action` names the client.

use crate::oidc::{PASSWORD, relying_party};
use crate::pages::{press_submit, submit_field};
use crate::support::browser::Browser;
use crate::support::server::{Backend, Installation, Server};
use fantoccini::Locator;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

const ROLE_RULE: &str = "contains(groups[*], 'grafana-admins') && 'Admin' || 'Viewer'";

/// The relying party's redirect URI: answers every request with a small page and reports
/// the request target it was called with.
pub(crate) async fn callback_listener() -> (String, mpsc::UnboundedReceiver<String>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let (sender, receiver) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut head = Vec::new();
            let mut buffer = [0u8; 4096];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 65_536 {
                match stream.read(&mut buffer).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buffer[..n]),
                }
            }
            let text = String::from_utf8_lossy(&head);
            if let Some(target) = text.lines().next().and_then(|l| l.split(' ').nth(1))
                && (target.starts_with("/login/generic_oauth") || target.starts_with("/signed-out"))
            {
                let _ = sender.send(target.to_owned());
            }
            let body =
                "<!doctype html><title>Grafana</title><p id=rp>Signing you in to Grafana</p>";
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes()).await;
        }
    });
    (base, receiver)
}

/// Signs `user` in through Chromium from the RP's authorization URL and allows the consent
/// page when `consent` (explicit consent); returns the callback URL the RP received.
pub(crate) async fn browser_login(
    page: &fantoccini::Client,
    (url, consent): (&str, bool),
    user: Option<&str>,
    password: &str,
    base: &str,
    callbacks: &mut mpsc::UnboundedReceiver<String>,
) -> String {
    page.goto(url).await.expect("open the authorization URL");
    if let Some(user) = user {
        submit_field(page, "uid", user).await;
    } else {
        press_submit(page).await;
    }
    if consent {
        submit_field(page, "password", password).await;
        let allow = page
            .find(Locator::Id("consent-allow"))
            .await
            .expect("the consent page");
        allow.click().await.expect("allow");
    } else {
        crate::pages::type_into(page, "password", password).await;
        let button = page
            .find(Locator::Css("button[type=submit]"))
            .await
            .expect("button");
        button.click().await.expect("continue");
    }
    let Ok(Some(target)) =
        tokio::time::timeout(std::time::Duration::from_secs(15), callbacks.recv()).await
    else {
        panic!(
            "the browser did not reach the redirect URI; it shows {} with {}",
            page.current_url().await.expect("url"),
            page.source().await.expect("source")
        );
    };
    format!("{base}{target}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_login_with_openid_client_and_grafana_roles() {
    let gh = Installation::new(Backend::Sqlite).await;
    gh.cli_ok(&["group", "create", "grafana-admins"], None);
    gh.cli_ok(
        &[
            "user",
            "create",
            "alice",
            "--group",
            "grafana-admins",
            "--password-stdin",
        ],
        Some("a long first passphrase\n"),
    );
    gh.cli_ok(
        &["user", "create", "bob", "--password-stdin"],
        Some("another long passphrase\n"),
    );
    let (base, mut callbacks) = callback_listener().await;
    let redirect = format!("{base}/login/generic_oauth");
    let created: Value = serde_json::from_str(&gh.cli_ok(
        &[
            "app",
            "create",
            "grafana",
            "--name",
            "Grafana",
            "--client-id",
            "grafana",
            "--redirect-uri",
            &redirect,
            "--consent",
            "explicit",
            "--json",
        ],
        None,
    ))
    .expect("json");
    let secret = created["client_secret"].as_str().expect("secret");
    let wiki: Value = serde_json::from_str(&gh.cli_ok(
        &[
            "app",
            "create",
            "wiki",
            "--client-id",
            "wiki",
            "--redirect-uri",
            &redirect,
            "--post-logout-redirect-uri",
            &format!("{base}/signed-out"),
            "--json",
        ],
        None,
    ))
    .expect("json");
    let wiki_secret = wiki["client_secret"].as_str().expect("secret");
    let server = Server::start(&gh, &[("GATEHOUSE_BOOTSTRAP_PASSWORD", PASSWORD)]);
    server.wait_ready().await;
    let browser = Browser::start().await;
    let page = &browser.client;

    let mut roles = Vec::new();
    for (client_id, secret, user, password, extra) in [
        (
            "grafana",
            secret,
            "alice",
            "a long first passphrase",
            json!({}),
        ),
        (
            "grafana",
            secret,
            "bob",
            "another long passphrase",
            json!({ "prompt": "login", "login_hint": "bob" }),
        ),
        (
            "wiki",
            wiki_secret,
            "alice",
            "a long first passphrase",
            json!({ "prompt": "login" }),
        ),
    ] {
        let issuer = server.url(&format!("/application/o/{client_id}/"));
        let start = relying_party(&[
            "start",
            &issuer,
            client_id,
            secret,
            &redirect,
            &extra.to_string(),
        ]);
        let url = start["url"].as_str().expect("url");
        // With login_hint the username is already filled in: only Continue is pressed.
        let typed = extra.get("login_hint").is_none().then_some(user);
        let consent = client_id == "grafana";
        let callback =
            browser_login(page, (url, consent), typed, password, &base, &mut callbacks).await;
        assert_eq!(
            page.current_url().await.expect("url").as_str(),
            callback,
            "Chromium landed on the RP's redirect URI"
        );
        let result = relying_party(&[
            "redeem",
            &issuer,
            client_id,
            secret,
            &callback,
            start["state"].as_str().expect("state"),
            start["nonce"].as_str().expect("nonce"),
            start["verifier"].as_str().expect("verifier"),
            "",
            ROLE_RULE,
        ]);
        assert_eq!(result["claims"]["preferred_username"], user, "{result}");
        assert_eq!(result["claims"]["aud"], client_id);
        roles.push((user, result["role"].clone()));
    }
    assert_eq!(
        roles,
        [
            ("alice", json!("Admin")),
            ("bob", json!("Viewer")),
            ("alice", json!("Admin"))
        ],
        "the groups claim drives the role"
    );

    // RP-initiated logout: confirming on Gatehouse's page lands on the RP's registered
    // post-logout URI (again a form whose redirects leave Gatehouse).
    let logout = server.url(&format!(
        "/application/o/wiki/end-session/?client_id=wiki&state=bye&post_logout_redirect_uri={}",
        gatehouse_oidc::authorize::form_encode(&format!("{base}/signed-out"))
    ));
    page.goto(&logout).await.expect("end-session");
    page.find(Locator::Id("sign-out"))
        .await
        .expect("the confirmation page")
        .click()
        .await
        .expect("sign out");
    let Ok(Some(target)) =
        tokio::time::timeout(std::time::Duration::from_secs(15), callbacks.recv()).await
    else {
        panic!(
            "logout did not reach the RP; the browser shows {}",
            page.current_url().await.expect("url")
        );
    };
    assert_eq!(target, "/signed-out?state=bye");
    browser.close().await;
}
