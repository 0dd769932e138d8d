//! Sign-in over plain HTTP (no browser): login throttling with growing waits, identical for
//! existing and unknown accounts, and audited.

use crate::support::server::{Backend, Installation, Server};
use gatehouse_core::{EventAction, EventQuery, EventStore};
use reqwest::StatusCode;

const LOGIN: &str = "/if/flow/default-authentication-flow/";

/// A cookie-keeping client walking the sign-in flow the way a browser would.
struct Visitor {
    client: reqwest::Client,
    base: String,
    csrf: String,
}

impl Visitor {
    async fn start(server: &Server, username: &str) -> Self {
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .build()
            .expect("client");
        let base = server.url("");
        let page = client
            .get(format!("{base}{LOGIN}"))
            .send()
            .await
            .expect("GET")
            .text()
            .await
            .expect("body");
        let mut visitor = Self {
            client,
            base,
            csrf: csrf_of(&page),
        };
        let page = visitor.post(&[("uid", username)]).await.1;
        assert!(
            page.contains(r#"autocomplete="current-password""#),
            "password page: {page}"
        );
        visitor.csrf = csrf_of(&page);
        visitor
    }

    async fn post(&self, fields: &[(&str, &str)]) -> (StatusCode, String) {
        let mut form = vec![("csrf", self.csrf.as_str())];
        form.extend_from_slice(fields);
        let response = self
            .client
            .post(format!("{}{LOGIN}", self.base))
            .form(&form)
            .send()
            .await
            .expect("POST");
        let status = response.status();
        (status, response.text().await.expect("body"))
    }

    async fn password(&self, password: &str) -> String {
        self.post(&[("password", password)]).await.1
    }
}

fn csrf_of(html: &str) -> String {
    let marker = r#"name="csrf" value=""#;
    let start = html
        .find(marker)
        .map(|i| i + marker.len())
        .expect("csrf field");
    html[start..].split('"').next().expect("value").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_sign_ins_are_throttled_alike_for_every_account() {
    let installation = Installation::new(Backend::Sqlite).await;
    let server = Server::start(
        &installation,
        &[
            ("GATEHOUSE_BOOTSTRAP_PASSWORD", "admin's long passphrase"),
            ("GATEHOUSE_LOGIN_THROTTLE__FREE_ATTEMPTS", "2"),
            ("GATEHOUSE_LOGIN_THROTTLE__BASE_DELAY_SECS", "60"),
        ],
    );
    server.wait_ready().await;

    let mut answers = Vec::new();
    for account in ["admin", "no-such-user"] {
        let visitor = Visitor::start(&server, account).await;
        for _ in 0..3 {
            let page = visitor.password("wrong guess").await;
            assert!(page.contains("Invalid username or password"), "{page}");
        }
        // Even the right password is refused without being checked while the wait lasts.
        let page = visitor.password("admin's long passphrase").await;
        assert!(
            page.contains("Too many failed attempts. Try again in 60 seconds."),
            "{page}"
        );
        assert!(!page.contains("Hello,"), "not signed in");
        answers.push(
            page.replace(account, "ACCOUNT")
                .split("name=\"csrf\"")
                .next()
                .map(str::to_owned),
        );
    }
    assert_eq!(
        answers[0], answers[1],
        "an unknown account is throttled exactly like a real one"
    );

    let store = installation.store().await;
    let events = store
        .list_events(&EventQuery {
            limit: 100,
            ..EventQuery::default()
        })
        .await
        .expect("events");
    let throttled = events
        .items
        .iter()
        .filter(|e| {
            e.action == EventAction::LoginFailed
                && e.context.get("reason").and_then(|r| r.as_str()) == Some("throttled")
        })
        .count();
    assert_eq!(throttled, 2);
    assert!(events.items.iter().all(|e| e.action != EventAction::Login));
}
