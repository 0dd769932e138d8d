//! Passkeys in a real browser: headless Chromium with Chrome's virtual authenticator (the
//! WebDriver WebAuthn extension: CTAP2, internal transport, resident keys, user verification)
//! registers a passkey from the portal, signs in with it alone, and uses it as the second
//! factor after a password; a replayed passkey response is refused. The server sees exactly
//! what a phone or laptop would send.

use crate::pages::{current_path, navigate_by, submit_field, type_into};
use crate::support::browser::Browser;
use crate::support::server::{Backend, Installation, Server, free_addr};
use fantoccini::{Client, Locator};
use gatehouse_core::{DeviceKind, DeviceStore, EventAction, EventQuery, EventStore, UserStore};

const PASSWORD: &str = "admin's long passphrase";

/// Makes the page keep a copy of the form body the passkey script submits.
const CAPTURE_FORM_POST: &str = r#"
const original = HTMLFormElement.prototype.submit;
HTMLFormElement.prototype.submit = function () {
  sessionStorage.setItem("gatehouse_captured", new URLSearchParams(new FormData(this)).toString());
  return original.call(this);
};
"#;

/// Adds a virtual platform authenticator (a passkey provider that verifies the user) to the
/// browser session; returns its id.
async fn add_virtual_authenticator(browser: &Browser) -> String {
    let session = browser
        .client
        .session_id()
        .await
        .expect("session id")
        .expect("a session");
    let response: serde_json::Value = reqwest::Client::new()
        .post(format!(
            "{}/session/{session}/webauthn/authenticator",
            browser.driver_url
        ))
        .json(&serde_json::json!({
            "protocol": "ctap2",
            "transport": "internal",
            "hasResidentKey": true,
            "hasUserVerification": true,
            "isUserVerified": true,
            "automaticPresenceSimulation": true,
        }))
        .send()
        .await
        .expect("add authenticator")
        .json()
        .await
        .expect("json");
    response["value"]
        .as_str()
        .unwrap_or_else(|| panic!("authenticator id in {response}"))
        .to_owned()
}

/// Clicks the page's passkey button and waits for the page the form post leads to.
async fn use_passkey(page: &Client) {
    let button = page
        .wait()
        .for_element(Locator::Css("#webauthn-start:not([hidden])"))
        .await
        .expect("passkey button shown");
    navigate_by(page, button).await;
}

async fn text_of(page: &Client, id: &str) -> String {
    page.find(Locator::Id(id))
        .await
        .expect(id)
        .text()
        .await
        .expect("text")
}

async fn sign_out(page: &Client) {
    let link = page.find(Locator::Id("sign-out")).await.expect("sign out");
    navigate_by(page, link).await;
}

async fn passkey_register_then_sign_in_with_it(backend: Backend) {
    let installation = Installation::new(backend).await;
    // WebAuthn needs a domain (not an IP address) as RP ID: serve as http://localhost:PORT,
    // a secure context for browsers.
    let http = free_addr();
    let base = format!("http://localhost:{}", http.port());
    let server = Server::start_at(
        &installation.env,
        http,
        &[
            ("GATEHOUSE_BOOTSTRAP_PASSWORD", PASSWORD),
            ("GATEHOUSE_EXTERNAL_URL", &base),
        ],
    );
    server.wait_ready().await;
    let browser = Browser::start().await;
    add_virtual_authenticator(&browser).await;
    let page = &browser.client;

    // Password sign-in, then "Add a passkey" from the portal.
    page.goto(&format!("{base}/if/user/"))
        .await
        .expect("portal");
    submit_field(page, "uid", "admin").await;
    submit_field(page, "password", PASSWORD).await;
    assert_eq!(current_path(page).await, "/if/user/");
    let add = page
        .find(Locator::Id("add-passkey"))
        .await
        .expect("add link");
    navigate_by(page, add).await;
    type_into(page, "name", "Laptop").await;
    use_passkey(page).await;
    assert_eq!(current_path(page).await, "/if/user/");
    let devices = text_of(page, "devices").await;
    assert!(devices.contains("Laptop (passkey"), "{devices}");

    // Sign out; sign in with the passkey alone: no username, no password, no code.
    sign_out(page).await;
    assert_eq!(
        current_path(page).await,
        "/if/flow/default-authentication-flow/"
    );
    // Keep a copy of what the browser posts, and the cookies it posts with, to replay it.
    page.execute(CAPTURE_FORM_POST, vec![])
        .await
        .expect("install capture");
    let cookies: Vec<String> = page
        .get_all_cookies()
        .await
        .expect("cookies")
        .iter()
        .map(|c| format!("{}={}", c.name(), c.value()))
        .collect();
    use_passkey(page).await;
    assert_eq!(current_path(page).await, "/if/user/");
    assert_eq!(text_of(page, "username").await, "admin");

    // Replaying that response (same flow cookie, same challenge, valid signature) is refused
    // and starts no session.
    let captured = page
        .execute(
            "return sessionStorage.getItem('gatehouse_captured')",
            vec![],
        )
        .await
        .expect("captured");
    let body = captured.as_str().expect("a captured form post").to_owned();
    assert!(body.contains("webauthn_signature="), "{body}");
    let replay = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .post(format!("{base}/if/flow/default-authentication-flow/"))
        .header("cookie", cookies.join("; "))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .expect("replay");
    assert_eq!(replay.status(), reqwest::StatusCode::BAD_REQUEST);
    assert!(
        !replay.headers().get_all("set-cookie").iter().any(|c| c
            .to_str()
            .unwrap_or_default()
            .contains("gatehouse_session=")),
        "no session for a replay"
    );
    let page_text = replay.text().await.expect("body");
    assert!(page_text.contains("could not be verified"), "{page_text}");
    // Chrome's virtual authenticator counts signatures, so the stale counter catches this
    // replay first; the one-use challenge (for passkeys that do not count) is checked by
    // `store::*::webauthn_challenge_is_spent_once`.
    server
        .wait_for_log("passkey sign-in refused", std::time::Duration::from_secs(5))
        .await;

    // Password first, then the passkey as the second factor (allowCredentials).
    sign_out(page).await;
    submit_field(page, "uid", "admin").await;
    submit_field(page, "password", PASSWORD).await;
    assert_eq!(text_of(page, "identity").await, "admin");
    use_passkey(page).await;
    assert_eq!(current_path(page).await, "/if/user/");

    // The store saw a WebAuthn device, its counter moving, and the sign-in methods.
    let store = installation.store().await;
    let admin = store
        .user_by_username("admin")
        .await
        .expect("query")
        .expect("admin");
    let devices = store.devices_of(admin.id).await.expect("devices");
    assert_eq!(devices.len(), 1);
    assert_eq!(devices[0].kind, DeviceKind::Webauthn);
    assert!(devices[0].last_used_at.is_some());
    let events = store
        .list_events(&EventQuery {
            limit: 100,
            ..EventQuery::default()
        })
        .await
        .expect("events");
    let methods: Vec<String> = events
        .items
        .iter()
        .filter(|e| e.action == EventAction::Login)
        .filter_map(|e| e.context.get("method").and_then(|m| m.as_str()))
        .map(str::to_owned)
        .collect();
    // Newest first.
    assert_eq!(methods, ["password,webauthn", "webauthn", "password"]);
    assert!(
        events
            .items
            .iter()
            .all(|e| e.action != EventAction::LoginFailed),
        "no failed attempt"
    );

    // Removing the passkey from the portal; passkey sign-in then fails cleanly.
    let remove = page
        .find(Locator::Css("#devices button"))
        .await
        .expect("remove button");
    navigate_by(page, remove).await;
    assert!(
        store
            .devices_of(admin.id)
            .await
            .expect("devices")
            .is_empty()
    );
    sign_out(page).await;
    use_passkey(page).await;
    assert_eq!(
        current_path(page).await,
        "/if/flow/default-authentication-flow/"
    );
    let error = text_of(page, "form-error").await;
    assert!(error.contains("could not be verified"), "{error}");
    browser.close().await;
}

crate::on_both_backends!(passkey_register_then_sign_in_with_it);
