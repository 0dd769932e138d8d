//! Static recovery codes over HTTP on both backends: set them up from the portal, sign in
//! with one, and find it refused the second time.

use crate::support::forms::csrf_of;
use crate::support::server::{Backend, Installation, Server};
use gatehouse_core::{EventAction, EventQuery, EventStore};
use reqwest::StatusCode;

const LOGIN: &str = "/if/flow/default-authentication-flow/";
const SETUP: &str = "/if/flow/default-authenticator-static-setup/";
const PASSWORD: &str = "admin's long passphrase";

crate::on_both_backends!(recovery_codes_set_up_sign_in_and_reuse_refused);

/// A browser-like client that has gone through identification and password.
struct Visitor {
    client: reqwest::Client,
    server_base: String,
    page: String,
}

impl Visitor {
    async fn signed_in_up_to_password(server: &Server) -> Self {
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .build()
            .expect("client");
        let page = client
            .get(server.url(LOGIN))
            .send()
            .await
            .expect("GET")
            .text()
            .await
            .expect("body");
        let mut visitor = Self {
            client,
            server_base: server.url(""),
            page,
        };
        visitor.submit(LOGIN, &[("uid", "admin")]).await;
        visitor.submit(LOGIN, &[("password", PASSWORD)]).await;
        visitor
    }

    async fn submit(&mut self, path: &str, fields: &[(&str, &str)]) -> (StatusCode, String) {
        let csrf = csrf_of(&self.page);
        let mut form = vec![("csrf", csrf.as_str())];
        form.extend_from_slice(fields);
        let response = self
            .client
            .post(format!("{}{path}", self.server_base))
            .form(&form)
            .send()
            .await
            .expect("POST");
        let status = response.status();
        let path = response.url().path().to_owned();
        self.page = response.text().await.expect("body");
        (status, path)
    }

    async fn open(&mut self, path: &str) {
        self.page = self
            .client
            .get(format!("{}{path}", self.server_base))
            .send()
            .await
            .expect("GET")
            .text()
            .await
            .expect("body");
    }
}

fn codes_of(page: &str) -> Vec<String> {
    page.split("<li><code>")
        .skip(1)
        .filter_map(|rest| rest.split("</code>").next())
        .map(str::to_owned)
        .collect()
}

async fn recovery_codes_set_up_sign_in_and_reuse_refused(backend: Backend) {
    let installation = Installation::new(backend).await;
    let server = Server::start(&installation, &[("GATEHOUSE_BOOTSTRAP_PASSWORD", PASSWORD)]);
    server.wait_ready().await;

    // Set up from the portal.
    let mut admin = Visitor::signed_in_up_to_password(&server).await;
    assert!(admin.page.contains("Hello,"), "{}", admin.page);
    assert!(
        admin
            .page
            .contains(r#"id="add-recovery-codes">Set up recovery codes"#)
    );
    admin.open(SETUP).await;
    let codes = codes_of(&admin.page);
    assert_eq!(codes.len(), 6, "{}", admin.page);
    assert!(
        codes
            .iter()
            .all(|c| c.len() == 11 && c.as_bytes()[5] == b'-')
    );
    // A reload before confirming shows the same codes.
    admin.open(SETUP).await;
    assert_eq!(codes_of(&admin.page), codes);
    let (_, path) = admin.submit(SETUP, &[]).await;
    assert_eq!(path, "/if/user/");
    assert!(
        admin.page.contains("(recovery codes, added"),
        "{}",
        admin.page
    );
    assert!(admin.page.contains("6 left"), "{}", admin.page);
    assert!(admin.page.contains("Regenerate recovery codes"));

    // Sign in with one (typed in capitals, without the dash).
    let mut laptop = Visitor::signed_in_up_to_password(&server).await;
    assert!(laptop.page.contains(r#"name="code""#), "{}", laptop.page);
    let typed = codes[0].replace('-', "").to_uppercase();
    let (_, path) = laptop.submit(LOGIN, &[("code", &typed)]).await;
    assert_eq!(path, "/if/user/", "{}", laptop.page);
    assert!(laptop.page.contains("5 left"), "{}", laptop.page);

    // The same code is refused the second time; another one works.
    let mut phone = Visitor::signed_in_up_to_password(&server).await;
    let (status, _) = phone.submit(LOGIN, &[("code", &codes[0])]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        phone.page.contains("Invalid or already used recovery code"),
        "{}",
        phone.page
    );
    assert!(!phone.page.contains("Hello,"));
    let (_, path) = phone.submit(LOGIN, &[("code", &codes[1])]).await;
    assert_eq!(path, "/if/user/");
    assert!(phone.page.contains("4 left"), "{}", phone.page);

    // Regenerating replaces every earlier code.
    phone.open(SETUP).await;
    let fresh = codes_of(&phone.page);
    phone.submit(SETUP, &[]).await;
    assert!(phone.page.contains("6 left"), "{}", phone.page);
    let mut tablet = Visitor::signed_in_up_to_password(&server).await;
    let (status, _) = tablet.submit(LOGIN, &[("code", &codes[2])]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, path) = tablet.submit(LOGIN, &[("code", &fresh[0])]).await;
    assert_eq!(path, "/if/user/");
    for code in codes.iter().chain(&fresh) {
        assert!(!server.logs().contains(code.as_str()), "codes never logged");
    }

    // Audited: sign-ins by recovery code, the refusal, and the device changes.
    let events = installation
        .store()
        .await
        .list_events(&EventQuery {
            limit: 500,
            ..EventQuery::default()
        })
        .await
        .expect("events")
        .items;
    let count = |f: &dyn Fn(&gatehouse_core::Event) -> bool| events.iter().filter(|e| f(e)).count();
    assert_eq!(
        count(&|e| e.action == EventAction::Login
            && e.context.get("method").and_then(|m| m.as_str()) == Some("password,static")),
        3
    );
    assert!(
        count(&|e| e.action == EventAction::LoginFailed
            && e.context.get("reason").and_then(|r| r.as_str())
                == Some("second factor: Invalid or already used recovery code"))
            >= 2
    );
    let device_events = |action: EventAction| {
        count(&|e| {
            e.action == action
                && e.context.get("model").and_then(|m| m.as_str()) == Some("device")
                && e.context.get("kind").and_then(|k| k.as_str()) == Some("static")
        })
    };
    assert_eq!(device_events(EventAction::ModelCreated), 2);
    assert_eq!(device_events(EventAction::ModelDeleted), 1);
}
