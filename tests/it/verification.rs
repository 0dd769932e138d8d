//! Email verification inside a flow, against real processes: the enrollment flow gets an email
//! stage in verification mode (applied with `gatehouse apply`, as the docs show), a real SMTP
//! server (aiosmtpd) receives the link, and following it in another browser confirms the
//! address and finishes the flow signed in. Over HTTP on both backends with the refusals
//! (expired, replayed, made-up links), and once in Chromium.

use crate::pages::{current_path, press_submit, type_into};
use crate::support::browser::Browser;
use crate::support::forms::csrf_of;
use crate::support::server::{Backend, Installation, Server};
use crate::support::smtp::SmtpSink;
use fantoccini::Locator;
use gatehouse_core::{
    AuditContext, EventAction, EventQuery, EventStore, NewToken, TokenIntent, TokenStore, User,
    UserStore,
};
use gatehouse_flows::{EmailPurpose, Stage, StageBinding, StageKind};
use reqwest::StatusCode;
use std::time::Duration;

const ENROLL: &str = "/if/flow/default-enrollment-flow/";
const PASSPHRASE: &str = "a long and unusual passphrase";

crate::on_both_backends!(verification_link_confirms_the_address_once);

/// Starts a server whose enrollment flow verifies the address before signing the user in.
async fn start(installation: &Installation, sink: &SmtpSink) -> Server {
    let mut extra: Vec<(&str, String)> = vec![(
        "GATEHOUSE_BOOTSTRAP_PASSWORD",
        "admin's long passphrase".into(),
    )];
    extra.extend(sink.gatehouse_env());
    let extra: Vec<(&str, &str)> = extra.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server = Server::start(installation, &extra);
    server.wait_ready().await;

    let mut flow = gatehouse_flows::default_flows()
        .into_iter()
        .find(|f| f.slug == "default-enrollment-flow")
        .expect("enrollment flow");
    flow.bindings.push(StageBinding::new(
        40,
        Stage::new(
            "enrollment-verify-email",
            StageKind::Email {
                purpose: EmailPurpose::Verification,
                token_expiry_minutes: 60,
                subject: "Confirm your email address".into(),
                template: "email/account_confirmation.html".into(),
            },
        ),
    ));
    // JSON is YAML: the document `gatehouse apply` reads.
    let document = serde_json::json!({ "flows": [flow] }).to_string();
    let path = installation.data_dir().join("verification-flow.yaml");
    std::fs::write(&path, document).expect("write document");
    installation.cli_ok(&["apply", "-f", &path.to_string_lossy()], None);
    server
}

/// The invitation link `invitation create` printed, as a path on the test server.
fn invite(installation: &Installation, email: &str) -> String {
    let printed = installation.cli_ok(&["invitation", "create", "--email", email], None);
    let line = printed
        .lines()
        .find(|l| l.contains("?itoken="))
        .unwrap_or_else(|| panic!("no link in {printed:?}"));
    let start = line.find(ENROLL).expect("flow path");
    line[start..].trim().to_owned()
}

/// A cookie-keeping HTTP client: one browser.
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

    fn url(&self, path_or_url: &str) -> String {
        if path_or_url.starts_with("http") {
            path_or_url.to_owned()
        } else {
            format!("{}{path_or_url}", self.base)
        }
    }

    async fn get(&self, path_or_url: &str) -> (StatusCode, reqwest::Url, String) {
        let response = self
            .client
            .get(self.url(path_or_url))
            .send()
            .await
            .expect("GET");
        let (status, url) = (response.status(), response.url().clone());
        (status, url, response.text().await.expect("body"))
    }

    async fn post(
        &self,
        path: &str,
        page: &str,
        fields: &[(&str, &str)],
    ) -> (StatusCode, reqwest::Url, String) {
        let csrf = csrf_of(page);
        let mut form = vec![("csrf", csrf.as_str())];
        form.extend_from_slice(fields);
        let response = self
            .client
            .post(self.url(path))
            .form(&form)
            .send()
            .await
            .expect("POST");
        let (status, url) = (response.status(), response.url().clone());
        (status, url, response.text().await.expect("body"))
    }

    /// Opens a link and presses its button; returns where the browser ends up.
    async fn follow_link(&self, link: &str) -> (StatusCode, reqwest::Url, String) {
        let (status, _, page) = self.get(link).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert!(page.contains("Confirm your email address"), "{page}");
        let token = link.split("flow_token=").nth(1).expect("token");
        self.post(ENROLL, &page, &[("flow_token", token)]).await
    }
}

async fn user(installation: &Installation, username: &str) -> User {
    installation
        .store()
        .await
        .user_by_username(username)
        .await
        .expect("lookup")
        .expect("user exists")
}

async fn verification_link_confirms_the_address_once(backend: Backend) {
    let installation = Installation::new(backend).await;
    let sink = SmtpSink::start(0);
    let server = start(&installation, &sink).await;

    // Enrol: the account is created, and the flow waits on "check your inbox".
    let visitor = Visitor::new(&server);
    let (status, _, page) = visitor.get(&invite(&installation, "new@example.com")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let (status, url, page) = visitor
        .post(
            ENROLL,
            &page,
            &[
                ("username", "newbie"),
                ("name", "New Person"),
                ("email", "new@example.com"),
                ("password", PASSPHRASE),
                ("password_repeat", PASSPHRASE),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(url.path(), ENROLL);
    assert!(page.contains("sent a link to new@example.com"), "{page}");
    let (_, _, again) = visitor.get(ENROLL).await;
    assert!(
        again.contains("Check your inbox"),
        "a reload shows the same page"
    );
    let newbie = user(&installation, "newbie").await;
    assert!(!newbie.email_verified);
    let (_, url, _) = visitor.get("/if/user/").await;
    assert_ne!(url.path(), "/if/user/", "not signed in before confirming");

    // One message (the reload sent no second one), to the new address, with the link.
    let messages = sink.wait_for(1, Duration::from_secs(20)).await;
    assert_eq!(messages[0].recipients, "new@example.com");
    assert!(
        messages[0]
            .raw
            .contains("Subject: Confirm your email address")
    );
    let link = messages[0]
        .link_containing("flow_token=")
        .expect("link in the message");
    assert!(link.starts_with(&server.url(ENROLL)), "{link}");

    // An expired link for this user, and a made-up one, are refused and confirm nothing.
    // (The server and the CLI share the key generated into the data directory.)
    let (key, _) =
        gatehouse_crypto::SecretKey::load_or_generate(installation.data_dir()).expect("key");
    let digester = gatehouse_crypto::TokenDigester::new(&key);
    installation
        .store()
        .await
        .create_token(
            NewToken {
                intent: TokenIntent::EmailVerification,
                user_id: Some(newbie.id),
                description: "expired link".into(),
                digest: digester.digest("expired-secret"),
                expires_at: Some(chrono::Utc::now() - chrono::Duration::seconds(1)),
                state: None,
            },
            &AuditContext::system(),
        )
        .await
        .expect("token");
    for secret in ["expired-secret", "made-up-secret"] {
        let link = server.url(&format!("{ENROLL}?flow_token={secret}"));
        let (status, _, page) = Visitor::new(&server).follow_link(&link).await;
        assert_eq!(status, StatusCode::GONE, "{secret}");
        assert!(page.contains("expired or has already been used"), "{page}");
    }
    assert!(!user(&installation, "newbie").await.email_verified);

    // Opening the link alone (a mail scanner) spends nothing; pressing the button in
    // another browser confirms the address and finishes the flow there, signed in.
    Visitor::new(&server).get(&link).await;
    let phone = Visitor::new(&server);
    let (status, url, page) = phone.follow_link(&link).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(url.path(), "/if/user/", "{page}");
    assert!(page.contains("newbie"), "{page}");
    assert!(user(&installation, "newbie").await.email_verified);

    // The link works once.
    let (status, _, page) = Visitor::new(&server).follow_link(&link).await;
    assert_eq!(status, StatusCode::GONE);
    assert!(page.contains("expired or has already been used"), "{page}");

    let events = installation
        .store()
        .await
        .list_events(&EventQuery {
            limit: 200,
            ..EventQuery::default()
        })
        .await
        .expect("events")
        .items;
    assert!(
        events.iter().any(|e| e.action == EventAction::ModelUpdated
            && serde_json::to_string(&e.context)
                .unwrap_or_default()
                .contains("email_verified")),
        "the confirmation is audited"
    );
    assert!(events.iter().any(|e| e.action == EventAction::TokenUsed));
    assert!(!server.logs().contains(PASSPHRASE), "no secret in the logs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrollment_with_email_verification_in_chromium() {
    let installation = Installation::new(Backend::Sqlite).await;
    let sink = SmtpSink::start(0);
    let server = start(&installation, &sink).await;
    let browser = Browser::start().await;
    let page = &browser.client;

    page.goto(&server.url(&invite(&installation, "browser@example.com")))
        .await
        .expect("open invitation");
    type_into(page, "username", "browser-user").await;
    type_into(page, "name", "Browser User").await;
    type_into(page, "password", PASSPHRASE).await;
    type_into(page, "password_repeat", PASSPHRASE).await;
    press_submit(page).await;
    let notice = page
        .find(Locator::Id("email-notice"))
        .await
        .expect("check-your-inbox notice")
        .text()
        .await
        .expect("text");
    assert!(notice.contains("browser@example.com"), "{notice}");

    let link = sink.wait_for(1, Duration::from_secs(20)).await[0]
        .link_containing("flow_token=")
        .expect("link in the message");
    // Follow it in "another browser": no cookies from the sign-up.
    page.delete_all_cookies().await.expect("clear cookies");
    page.goto(&link).await.expect("open link");
    press_submit(page).await;
    assert_eq!(current_path(page).await, "/if/user/");
    let shown = page
        .find(Locator::Id("username"))
        .await
        .expect("portal")
        .text()
        .await
        .expect("text");
    assert_eq!(shown, "browser-user");
    browser.close().await;
    assert!(user(&installation, "browser-user").await.email_verified);
}
