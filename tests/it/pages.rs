//! Pages in a real browser: headless Chromium fills in the first-run setup form the way a
//! person (or a password manager) would.

use crate::support::browser::Browser;
use crate::support::server::{Backend, Installation, Server};
use fantoccini::Locator;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_run_setup_in_chromium() {
    let installation = Installation::new(Backend::Sqlite).await;
    let server = Server::start(&installation, &[]);
    let link = server.setup_link().await;
    server.wait_ready().await;
    let browser = Browser::start().await;
    let page = &browser.client;

    page.goto(&link).await.expect("open setup link");
    assert!(
        page.title()
            .await
            .expect("title")
            .starts_with("Create the administrator")
    );

    // A weak password is refused next to the field; the typed username survives.
    type_into(page, "username", "browser-admin").await;
    type_into(page, "email", "admin@example.com").await;
    type_into(page, "password", "tooshort").await;
    type_into(page, "password_repeat", "tooshort").await;
    press_submit(page).await;
    let error = page
        .find(Locator::Id("password-error"))
        .await
        .expect("password error shown");
    assert!(
        error
            .text()
            .await
            .expect("text")
            .contains("at least 10 characters")
    );
    let kept = page
        .find(Locator::Id("username"))
        .await
        .expect("field")
        .prop("value")
        .await
        .expect("value");
    assert_eq!(kept.as_deref(), Some("browser-admin"));

    type_into(page, "password", "a long and unusual passphrase").await;
    type_into(page, "password_repeat", "a long and unusual passphrase").await;
    press_submit(page).await;
    let heading = page
        .find(Locator::Css("h1"))
        .await
        .expect("heading")
        .text()
        .await
        .expect("text");
    assert_eq!(heading, "Administrator created");

    let listed = installation.cli_ok(&["user", "list"], None);
    assert!(listed.contains("browser-admin"), "{listed}");

    // Reloading the spent link shows the invalid-link page.
    page.goto(&link).await.expect("reload link");
    let heading = page
        .find(Locator::Css("h1"))
        .await
        .expect("heading")
        .text()
        .await
        .expect("text");
    assert_eq!(heading, "Link not valid");
    browser.close().await;
}

pub(crate) async fn current_path(page: &fantoccini::Client) -> String {
    page.current_url().await.expect("url").path().to_owned()
}

/// Replaces the text of input `field` with `value`, as a person typing would.
pub(crate) async fn type_into(page: &fantoccini::Client, field: &str, value: &str) {
    let input = page.find(Locator::Id(field)).await.expect("field");
    input.clear().await.expect("clear");
    input.send_keys(value).await.expect("type");
}

/// Clicks the form's submit button and waits for the resulting page.
pub(crate) async fn press_submit(page: &fantoccini::Client) {
    let button = page
        .find(Locator::Css("button[type=submit]"))
        .await
        .expect("button");
    navigate_by(page, button).await;
}

pub(crate) async fn submit_field(page: &fantoccini::Client, field: &str, value: &str) {
    type_into(page, field, value).await;
    press_submit(page).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_sign_in_portal_and_sign_out_in_chromium() {
    use gatehouse_core::{EventAction, EventQuery, EventStore};
    let installation = Installation::new(Backend::Sqlite).await;
    let server = Server::start(
        &installation,
        &[
            ("GATEHOUSE_BOOTSTRAP_PASSWORD", "admin's long passphrase"),
            ("GATEHOUSE_BOOTSTRAP_EMAIL", "ops@example.com"),
        ],
    );
    server.wait_ready().await;
    let browser = Browser::start().await;
    let page = &browser.client;
    const LOGIN: &str = "/if/flow/default-authentication-flow/";

    // The portal sends an anonymous visitor to sign in.
    page.goto(&server.url("/if/user/")).await.expect("portal");
    assert_eq!(current_path(page).await, LOGIN);
    let uid = page.find(Locator::Id("uid")).await.expect("username field");
    assert_eq!(
        uid.attr("autocomplete").await.expect("attr").as_deref(),
        Some("username")
    );

    // An unknown account gets exactly what a wrong password gets.
    submit_field(page, "uid", "ghost").await;
    assert_eq!(
        page.find(Locator::Id("identity"))
            .await
            .expect("identity")
            .text()
            .await
            .expect("text"),
        "ghost"
    );
    submit_field(page, "password", "whatever it is").await;
    let unknown_error = page
        .find(Locator::Id("form-error"))
        .await
        .expect("error")
        .text()
        .await
        .expect("text");
    assert_eq!(unknown_error, "Invalid username or password");

    // Start again as the administrator: a wrong password, then the right one.
    page.goto(&server.url("/if/user/")).await.expect("portal");
    submit_field(page, "uid", "admin").await;
    let password = page
        .find(Locator::Id("password"))
        .await
        .expect("password field");
    assert_eq!(
        password
            .attr("autocomplete")
            .await
            .expect("attr")
            .as_deref(),
        Some("current-password")
    );
    submit_field(page, "password", "not the passphrase").await;
    let wrong_error = page
        .find(Locator::Id("form-error"))
        .await
        .expect("error")
        .text()
        .await
        .expect("text");
    assert_eq!(wrong_error, unknown_error);
    submit_field(page, "password", "admin's long passphrase").await;
    assert_eq!(
        current_path(page).await,
        "/if/user/",
        "back where the visitor wanted to go"
    );
    assert_eq!(
        page.find(Locator::Id("username"))
            .await
            .expect("username")
            .text()
            .await
            .expect("text"),
        "admin"
    );
    assert_eq!(
        page.find(Locator::Id("groups"))
            .await
            .expect("groups")
            .text()
            .await
            .expect("text"),
        "gatehouse-admins"
    );
    let sessions = page
        .find_all(Locator::Css("#sessions li"))
        .await
        .expect("sessions");
    assert_eq!(sessions.len(), 1);
    assert!(
        sessions[0]
            .text()
            .await
            .expect("text")
            .contains("(this browser)")
    );

    // The session cookie is HttpOnly: scripts cannot read it.
    let visible = page
        .execute("return document.cookie", vec![])
        .await
        .expect("script");
    assert!(
        !visible
            .as_str()
            .unwrap_or_default()
            .contains("gatehouse_session"),
        "{visible}"
    );

    // Signing out ends the session; the portal asks to sign in again.
    let target = page.find(Locator::Id("sign-out")).await.expect("link");
    navigate_by(page, target).await;
    assert_eq!(current_path(page).await, LOGIN);
    page.goto(&server.url("/if/user/")).await.expect("portal");
    assert_eq!(current_path(page).await, LOGIN);

    // `next` only accepts local paths: an absolute or protocol-relative URL is dropped.
    page.goto(&server.url(&format!("{LOGIN}?next=//evil.example/steal")))
        .await
        .expect("login");
    submit_field(page, "uid", "admin").await;
    submit_field(page, "password", "admin's long passphrase").await;
    let url = page.current_url().await.expect("url");
    assert_eq!(url.host_str(), Some("127.0.0.1"));
    assert_eq!(url.path(), "/if/user/");

    let store = installation.store().await;
    let events = store
        .list_events(&EventQuery {
            limit: 100,
            ..EventQuery::default()
        })
        .await
        .expect("events");
    let count = |action| events.items.iter().filter(|e| e.action == action).count();
    assert_eq!(count(EventAction::Login), 2);
    assert_eq!(count(EventAction::Logout), 1);
    assert_eq!(count(EventAction::LoginFailed), 2);
    browser.close().await;

    // A flow form without its CSRF token is refused.
    let client = reqwest::Client::new();
    let refused = client
        .post(server.url(LOGIN))
        .form(&[("uid", "admin")])
        .send()
        .await
        .expect("post");
    assert_eq!(refused.status(), reqwest::StatusCode::FORBIDDEN);
}

/// Clicks `element` and waits until the browser has loaded the document that replaces this
/// one (a form post answered on the same URL included), so assertions never see the old page.
pub(crate) async fn navigate_by(page: &fantoccini::Client, element: fantoccini::elements::Element) {
    page.execute("window.__gatehouseOldPage = true", vec![])
        .await
        .expect("mark page");
    element.click().await.expect("click");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let state = page
            .execute("return window.__gatehouseOldPage === undefined && document.readyState === 'complete'", vec![])
            .await;
        if matches!(state, Ok(serde_json::Value::Bool(true))) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the page did not navigate"
        );
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn totp_setup_and_sign_in_in_chromium() {
    use gatehouse_crypto::totp::{TotpParams, TotpSecret, code_at};
    let installation = Installation::new(Backend::Sqlite).await;
    let server = Server::start(
        &installation,
        &[("GATEHOUSE_BOOTSTRAP_PASSWORD", "admin's long passphrase")],
    );
    server.wait_ready().await;
    let browser = Browser::start().await;
    let page = &browser.client;

    page.goto(&server.url("/if/user/")).await.expect("portal");
    submit_field(page, "uid", "admin").await;
    submit_field(page, "password", "admin's long passphrase").await;
    let add = page.find(Locator::Id("add-totp")).await.expect("add link");
    navigate_by(page, add).await;

    // The QR code is drawn (our CSP allows the inline SVG) at a scannable size.
    let size = page
        .execute("const r = document.querySelector('.qr svg').getBoundingClientRect(); return [r.width, r.height];", vec![])
        .await
        .expect("measure QR");
    let width = size[0].as_f64().expect("width");
    assert!(
        width >= 150.0 && (size[1].as_f64().expect("height") - width).abs() < 1.0,
        "{size}"
    );

    let secret_text = page
        .find(Locator::Id("totp-secret"))
        .await
        .expect("secret")
        .text()
        .await
        .expect("text");
    let secret = TotpSecret::from_base32(&secret_text).expect("base32");
    let params = TotpParams::default();
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs()
    };
    let step = now() / 30;
    type_into(page, "name", "Phone").await;
    submit_field(page, "code", &code_at(&secret, &params, step * 30)).await;
    assert_eq!(current_path(page).await, "/if/user/");
    let devices = page
        .find(Locator::Id("devices"))
        .await
        .expect("devices")
        .text()
        .await
        .expect("text");
    assert!(devices.contains("Phone (authenticator app"), "{devices}");

    // Sign out, then sign in: password, then a code from the next time step.
    let sign_out = page.find(Locator::Id("sign-out")).await.expect("link");
    navigate_by(page, sign_out).await;
    submit_field(page, "uid", "admin").await;
    submit_field(page, "password", "admin's long passphrase").await;
    let code_field = page.find(Locator::Id("code")).await.expect("code page");
    assert_eq!(
        code_field
            .attr("autocomplete")
            .await
            .expect("attr")
            .as_deref(),
        Some("one-time-code")
    );
    submit_field(page, "code", &code_at(&secret, &params, (step + 1) * 30)).await;
    assert_eq!(current_path(page).await, "/if/user/");
    assert_eq!(
        page.find(Locator::Id("username"))
            .await
            .expect("username")
            .text()
            .await
            .expect("text"),
        "admin"
    );
    browser.close().await;
}
