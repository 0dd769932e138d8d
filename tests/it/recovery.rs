//! Password recovery by email against real processes: a real SMTP server (aiosmtpd) receives
//! the link, Chromium follows it in a fresh browser profile, and plain HTTP checks the
//! refusals (used link, expired link) and that unknown accounts get the same page and no email.

use crate::on_both_backends;
use crate::pages::{current_path, navigate_by, press_submit, submit_field, type_into};
use crate::support::browser::Browser;
use crate::support::forms::csrf_of;
use crate::support::server::{Backend, Installation, Server};
use crate::support::smtp::SmtpSink;
use fantoccini::Locator;
use gatehouse_core::{EventAction, EventQuery, EventStore, NewToken, TokenIntent, TokenStore};
use reqwest::StatusCode;
use std::time::Duration;

const LOGIN: &str = "/if/flow/default-authentication-flow/";
const RECOVERY: &str = "/if/flow/default-recovery-flow/";
const OLD_PASSWORD: &str = "admin's long passphrase";
const NEW_PASSWORD: &str = "a brand new recovered passphrase";
/// A fixed secret key, so the test can make tokens the server accepts.
const SECRET_KEY: &str = "recovery-test-secret-key-0123456789abcdefghijkl";

fn start(installation: &Installation, sink: &SmtpSink) -> Server {
    let mut extra: Vec<(&str, String)> = vec![
        ("GATEHOUSE_BOOTSTRAP_PASSWORD", OLD_PASSWORD.into()),
        ("GATEHOUSE_BOOTSTRAP_EMAIL", "ops@example.com".into()),
        ("GATEHOUSE_SECRET_KEY", SECRET_KEY.into()),
    ];
    extra.extend(sink.gatehouse_env());
    let extra: Vec<(&str, &str)> = extra.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Server::start(installation, &extra)
}

async fn events(installation: &Installation, action: EventAction) -> Vec<gatehouse_core::Event> {
    installation
        .store()
        .await
        .list_events(&EventQuery {
            action: Some(action),
            limit: 100,
            ..EventQuery::default()
        })
        .await
        .expect("events")
        .items
}

async fn recovery_journey_in_chromium(backend: Backend) {
    let installation = Installation::new(backend).await;
    let sink = SmtpSink::start(0);
    let server = start(&installation, &sink);
    server.wait_ready().await;
    let browser = Browser::start().await;
    let page = &browser.client;

    // "Forgot password?" on the sign-in page leads to the recovery flow.
    page.goto(&server.url(LOGIN)).await.expect("sign-in page");
    let forgot = page
        .find(Locator::Id("forgot-password"))
        .await
        .expect("forgot-password link");
    navigate_by(page, forgot).await;
    assert_eq!(current_path(page).await, RECOVERY);

    // The email address works, in any letter case.
    submit_field(page, "uid", "OPS@Example.com").await;
    let notice = page
        .find(Locator::Id("email-notice"))
        .await
        .expect("notice")
        .text()
        .await
        .expect("text");
    assert!(notice.starts_with("If an account"), "{notice}");

    let messages = sink.wait_for(1, Duration::from_secs(20)).await;
    assert_eq!(messages[0].recipients, "ops@example.com");
    assert!(messages[0].raw.contains("Subject: Reset your password"));
    assert!(messages[0].raw.contains("text/html"), "has an HTML part");
    let link = messages[0]
        .link_containing("flow_token=")
        .expect("link in the message");
    assert!(link.starts_with(&server.url(RECOVERY)), "{link}");

    // Follow it in "another browser": no cookies from the request.
    page.delete_all_cookies().await.expect("clear cookies");
    page.goto(&link).await.expect("open link");
    press_submit(page).await;
    assert_eq!(current_path(page).await, RECOVERY);

    // The password policy applies.
    type_into(page, "password", "short").await;
    type_into(page, "password_repeat", "short").await;
    press_submit(page).await;
    let error = page
        .find(Locator::Id("password-error"))
        .await
        .expect("policy error")
        .text()
        .await
        .expect("text");
    assert!(error.contains("at least 10 characters"), "{error}");

    type_into(page, "password", NEW_PASSWORD).await;
    type_into(page, "password_repeat", NEW_PASSWORD).await;
    press_submit(page).await;
    assert_eq!(current_path(page).await, LOGIN, "back to sign-in");

    // The old password no longer signs in; the new one does.
    submit_field(page, "uid", "admin").await;
    submit_field(page, "password", OLD_PASSWORD).await;
    assert!(page.find(Locator::Id("form-error")).await.is_ok());
    submit_field(page, "password", NEW_PASSWORD).await;
    assert_eq!(current_path(page).await, "/if/user/");
    browser.close().await;

    assert_eq!(
        events(&installation, EventAction::RecoveryRequested)
            .await
            .len(),
        1
    );
    let password_set = events(&installation, EventAction::PasswordSet).await;
    assert_eq!(
        password_set[0].actor, "admin",
        "set by the user through the link"
    );
}

/// A cookie-keeping HTTP client walking the recovery pages.
struct Visitor {
    client: reqwest::Client,
    base: String,
}

impl Visitor {
    fn new(server: &Server) -> Self {
        Self {
            client: reqwest::Client::builder()
                .cookie_store(true)
                .build()
                .expect("client"),
            base: server.url(""),
        }
    }

    async fn get(&self, path_or_url: &str) -> (StatusCode, String) {
        let url = if path_or_url.starts_with("http") {
            path_or_url.to_owned()
        } else {
            format!("{}{path_or_url}", self.base)
        };
        let response = self.client.get(url).send().await.expect("GET");
        (response.status(), response.text().await.expect("body"))
    }

    async fn post(&self, path: &str, page: &str, fields: &[(&str, &str)]) -> (StatusCode, String) {
        let csrf = csrf_of(page);
        let mut form = vec![("csrf", csrf.as_str())];
        form.extend_from_slice(fields);
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .form(&form)
            .send()
            .await
            .expect("POST");
        (response.status(), response.text().await.expect("body"))
    }

    /// Asks for a recovery link for `uid`; returns the page shown afterwards.
    async fn request_link(&self, uid: &str) -> String {
        let (status, page) = self.get(RECOVERY).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let (status, page) = self.post(RECOVERY, &page, &[("uid", uid)]).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        page
    }

    /// Opens a link and presses its button; returns the status and page.
    async fn follow_link(&self, link: &str) -> (StatusCode, String) {
        let (status, page) = self.get(link).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let token = link.split("flow_token=").nth(1).expect("token");
        self.post(RECOVERY, &page, &[("flow_token", token)]).await
    }
}

/// The page without its per-request parts (the CSRF token).
fn comparable(page: &str) -> String {
    page.split("name=\"csrf\"")
        .next()
        .unwrap_or(page)
        .to_owned()
}

async fn used_and_expired_links_are_refused(backend: Backend) {
    let installation = Installation::new(backend).await;
    let sink = SmtpSink::start(0);
    let server = start(&installation, &sink);
    server.wait_ready().await;

    let visitor = Visitor::new(&server);
    visitor.request_link("admin").await;
    let link = sink.wait_for(1, Duration::from_secs(20)).await[0]
        .link_containing("flow_token=")
        .expect("link");

    // Opening the link alone (a mail scanner) spends nothing.
    let other = Visitor::new(&server);
    other.get(&link).await;
    let (status, page) = visitor.follow_link(&link).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(r#"name="password_repeat""#), "{page}");

    // The second use is refused, in another browser too.
    let (status, page) = other.follow_link(&link).await;
    assert_eq!(status, StatusCode::GONE);
    assert!(page.contains("expired or has already been used"), "{page}");

    // An expired token is refused; a made-up one too.
    let digester = gatehouse_crypto::TokenDigester::new(
        &gatehouse_crypto::SecretKey::from_configured(SECRET_KEY).expect("key"),
    );
    let store = installation.store().await;
    let admin = {
        use gatehouse_core::UserStore;
        store
            .user_by_username("admin")
            .await
            .expect("lookup")
            .expect("admin")
    };
    store
        .create_token(
            NewToken {
                intent: TokenIntent::Recovery,
                user_id: Some(admin.id),
                description: "expired link".into(),
                digest: digester.digest("expired-secret"),
                expires_at: Some(chrono::Utc::now() - chrono::Duration::seconds(1)),
                state: None,
            },
            &gatehouse_core::AuditContext::system(),
        )
        .await
        .expect("token");
    for secret in ["expired-secret", "made-up-secret"] {
        let link = server.url(&format!("{RECOVERY}?flow_token={secret}"));
        let (status, page) = Visitor::new(&server).follow_link(&link).await;
        assert_eq!(status, StatusCode::GONE, "{secret}");
        assert!(page.contains("expired or has already been used"), "{page}");
    }
}

async fn unknown_accounts_get_the_same_page_and_no_email(backend: Backend) {
    let installation = Installation::new(backend).await;
    let sink = SmtpSink::start(0);
    let server = start(&installation, &sink);
    server.wait_ready().await;

    let real = Visitor::new(&server).request_link("admin").await;
    let by_unknown_name = Visitor::new(&server).request_link("nobody").await;
    let by_unknown_address = Visitor::new(&server)
        .request_link("nobody@example.com")
        .await;
    assert_eq!(comparable(&real), comparable(&by_unknown_name));
    assert_eq!(comparable(&real), comparable(&by_unknown_address));

    sink.wait_for(1, Duration::from_secs(20)).await;
    // Give any stray message time to arrive.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let messages = sink.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].recipients, "ops@example.com");
    assert_eq!(
        events(&installation, EventAction::RecoveryRequested)
            .await
            .len(),
        1
    );
}

on_both_backends!(
    recovery_journey_in_chromium,
    used_and_expired_links_are_refused,
    unknown_accounts_get_the_same_page_and_no_email,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_email_recovery_says_it_is_not_available() {
    let installation = Installation::new(Backend::Sqlite).await;
    let server = Server::start(
        &installation,
        &[("GATEHOUSE_BOOTSTRAP_PASSWORD", OLD_PASSWORD)],
    );
    server.wait_ready().await;
    let visitor = Visitor::new(&server);
    let (status, page) = visitor.get(RECOVERY).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        page.contains("Recovery by email is not available"),
        "{page}"
    );
    let (_, sign_in) = visitor.get(LOGIN).await;
    assert!(!sign_in.contains("Forgot password?"), "no dead link");
    server
        .wait_for_log("email is not configured", Duration::from_secs(10))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn temporary_smtp_failures_are_retried() {
    let installation = Installation::new(Backend::Sqlite).await;
    let sink = SmtpSink::start(1);
    let mut extra: Vec<(&str, String)> = vec![
        ("GATEHOUSE_BOOTSTRAP_PASSWORD", OLD_PASSWORD.into()),
        ("GATEHOUSE_BOOTSTRAP_EMAIL", "ops@example.com".into()),
        ("GATEHOUSE_EMAIL__RETRY_BASE_SECS", "1".into()),
    ];
    extra.extend(sink.gatehouse_env());
    let extra: Vec<(&str, &str)> = extra.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server = Server::start(&installation, &extra);
    server.wait_ready().await;
    Visitor::new(&server).request_link("admin").await;
    let messages = sink.wait_for(1, Duration::from_secs(30)).await;
    assert_eq!(messages.len(), 1);
    server
        .wait_for_log("will retry", Duration::from_secs(5))
        .await;
}
