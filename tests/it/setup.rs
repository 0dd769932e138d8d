//! First-run setup: the one-time link, the form's validation and CSRF protection, the admin it
//! creates, and the unattended bootstrap variables.

use crate::on_both_backends;
use crate::support::server::{Backend, Installation, Server};
use gatehouse_core::{
    EventAction, EventQuery, EventStore, GroupStore, TokenIntent, TokenStore, UserStore,
};
use reqwest::StatusCode;
use reqwest::header::{COOKIE, SET_COOKIE};

/// A browser-like session on the setup page: keeps the CSRF cookie and the form's token.
struct SetupForm {
    client: reqwest::Client,
    action: String,
    cookie: String,
    csrf: String,
    token: String,
}

impl SetupForm {
    async fn open(link: &str) -> Self {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let response = client.get(link).send().await.expect("GET setup page");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["referrer-policy"], "no-referrer");
        assert_eq!(response.headers()["cache-control"], "no-store");
        let set_cookie = response.headers()[SET_COOKIE]
            .to_str()
            .expect("cookie")
            .to_owned();
        assert!(
            set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"),
            "{set_cookie}"
        );
        let cookie = set_cookie
            .split(';')
            .next()
            .expect("cookie pair")
            .to_owned();
        let html = response.text().await.expect("body");
        assert!(html.contains(r#"autocomplete="new-password""#));
        assert!(html.contains(r#"autocomplete="username""#));
        let url = reqwest::Url::parse(link).expect("link");
        let token = url
            .query_pairs()
            .find(|(k, _)| k == "token")
            .map(|(_, v)| v.into_owned())
            .expect("token in link");
        Self {
            action: format!(
                "{}://{}/if/flow/initial-setup/",
                url.scheme(),
                url.authority()
            ),
            client,
            cookie,
            csrf: hidden_value(&html, "csrf"),
            token,
        }
    }

    async fn submit(&self, fields: &[(&str, &str)]) -> (StatusCode, String) {
        self.submit_with(fields, Some(&self.cookie), &self.csrf)
            .await
    }

    async fn submit_with(
        &self,
        fields: &[(&str, &str)],
        cookie: Option<&str>,
        csrf: &str,
    ) -> (StatusCode, String) {
        let mut form: Vec<(&str, &str)> = vec![("token", &self.token), ("csrf", csrf)];
        form.extend_from_slice(fields);
        let mut request = self.client.post(&self.action).form(&form);
        if let Some(cookie) = cookie {
            request = request.header(COOKIE, cookie);
        }
        let response = request.send().await.expect("POST setup form");
        let status = response.status();
        (status, response.text().await.expect("body"))
    }
}

fn hidden_value(html: &str, name: &str) -> String {
    let marker = format!(r#"name="{name}" value=""#);
    let start = html
        .find(&marker)
        .map(|i| i + marker.len())
        .expect("hidden field");
    html[start..].split('"').next().expect("value").to_owned()
}

const GOOD: [(&str, &str); 4] = [
    ("username", "root-admin"),
    ("email", "admin@example.com"),
    ("password", "correct horse battery staple"),
    ("password_repeat", "correct horse battery staple"),
];

async fn setup_link_creates_the_first_admin_once(backend: Backend) {
    let installation = Installation::new(backend).await;
    let server = Server::start(&installation, &[]);
    let link = server.setup_link().await;
    server.wait_ready().await;
    let form = SetupForm::open(&link).await;

    // Without the CSRF cookie, or with a forged token, nothing happens.
    let (status, body) = form.submit_with(&GOOD, None, &form.csrf).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, _) = form
        .submit_with(&GOOD, Some(&form.cookie), "forged.value")
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Validation errors are shown next to the fields and keep what was typed.
    let (status, body) = form
        .submit(&[
            ("username", "root-admin"),
            ("email", "nope"),
            ("password", "short"),
            ("password_repeat", "short"),
        ])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("id=\"email-error\""), "{body}");
    assert!(
        body.contains("Password must be at least 10 characters"),
        "{body}"
    );
    assert!(body.contains(r#"value="root-admin""#));
    let (status, body) = form
        .submit(&[
            ("username", "root-admin"),
            ("email", "admin@example.com"),
            ("password", "correct horse battery staple"),
            ("password_repeat", "different horse battery"),
        ])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("Passwords do not match"), "{body}");
    assert!(
        !body.contains("correct horse"),
        "passwords are never echoed back"
    );

    let store = installation.store().await;
    assert!(
        store
            .user_by_username("root-admin")
            .await
            .expect("lookup")
            .is_none(),
        "nothing written on errors"
    );

    let (status, body) = form.submit(&GOOD).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("Administrator created"));

    // The admin exists, is a superuser through the default group, and the CLI sees it.
    let listed = installation.cli_ok(&["user", "list"], None);
    assert!(
        listed.contains("root-admin") && listed.contains("admin@example.com"),
        "{listed}"
    );
    let shown = installation.cli_ok(&["user", "show", "root-admin", "--json"], None);
    let shown: serde_json::Value = serde_json::from_str(&shown).expect("json");
    assert_eq!(
        shown["effective_groups"],
        serde_json::json!(["gatehouse-admins"])
    );
    assert_eq!(shown["has_password"], true);
    assert!(store.superuser_exists().await.expect("query"));

    // The creation was audited with the client's address, and no event holds the password.
    let events = store
        .list_events(&EventQuery {
            limit: 100,
            ..EventQuery::default()
        })
        .await
        .expect("events");
    let created = events
        .items
        .iter()
        .find(|e| {
            e.action == EventAction::ModelCreated
                && e.context.get("name").and_then(|v| v.as_str()) == Some("root-admin")
        })
        .expect("model_created event for the admin");
    assert_eq!(created.client_ip.as_deref(), Some("127.0.0.1"));
    let all = serde_json::to_string(&events.items).expect("json");
    assert!(!all.contains("correct horse"));

    // The link is spent: the page and the form both refuse it.
    let again = reqwest::get(&link).await.expect("GET");
    assert_eq!(again.status(), StatusCode::NOT_FOUND);
    let (status, _) = form
        .submit(&[
            ("username", "second"),
            ("email", "b@example.com"),
            ("password", "another fine passphrase"),
            ("password_repeat", "another fine passphrase"),
        ])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        store
            .user_by_username("second")
            .await
            .expect("lookup")
            .is_none()
    );
    assert!(
        store
            .list_tokens(None)
            .await
            .expect("tokens")
            .iter()
            .all(|t| t.intent != TokenIntent::Setup)
    );

    // Restarting with an administrator present prints no new link.
    assert!(server.terminate().success());
    let server = Server::start(&installation, &[]);
    server.wait_ready().await;
    assert!(
        !server.logs().contains("initial-setup/?token="),
        "{}",
        server.logs()
    );
}

async fn only_the_latest_setup_link_works(backend: Backend) {
    let installation = Installation::new(backend).await;
    let first = Server::start(&installation, &[]);
    let old_link = first.setup_link().await;
    assert!(first.terminate().success());
    let second = Server::start(&installation, &[]);
    let new_link = second.setup_link().await;
    assert_ne!(old_link, new_link);
    // The old link, presented to the new server.
    let old_token = old_link.split("token=").nth(1).expect("token");
    let old_link = second.url(&format!("/if/flow/initial-setup/?token={old_token}"));
    assert_eq!(
        reqwest::get(&old_link).await.expect("GET").status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        reqwest::get(&new_link).await.expect("GET").status(),
        StatusCode::OK
    );
    let tampered = format!("{new_link}x");
    assert_eq!(
        reqwest::get(&tampered).await.expect("GET").status(),
        StatusCode::NOT_FOUND
    );
}

async fn bootstrap_variables_create_the_admin_unattended(backend: Backend) {
    let installation = Installation::new(backend).await;
    let api_token = "gh_bootstrap_token_for_automation_0123456789";
    let server = Server::start(
        &installation,
        &[
            ("GATEHOUSE_BOOTSTRAP_PASSWORD", "bootstrap passphrase here"),
            ("GATEHOUSE_BOOTSTRAP_EMAIL", "ops@example.com"),
            ("GATEHOUSE_BOOTSTRAP_TOKEN", api_token),
        ],
    );
    server.wait_ready().await;
    assert!(
        !server.logs().contains("initial-setup/?token="),
        "no setup link once bootstrapped"
    );
    let shown = installation.cli_ok(&["user", "show", "admin", "--json"], None);
    let shown: serde_json::Value = serde_json::from_str(&shown).expect("json");
    assert_eq!(shown["email"], "ops@example.com");
    assert_eq!(
        shown["effective_groups"],
        serde_json::json!(["gatehouse-admins"])
    );

    let store = installation.store().await;
    let admin = store
        .user_by_username("admin")
        .await
        .expect("lookup")
        .expect("admin");
    let hasher = gatehouse_crypto::PasswordHasher::new(gatehouse_crypto::PasswordParams::default())
        .expect("hasher");
    let verdict = hasher
        .verify(
            "bootstrap passphrase here".into(),
            admin.password_hash.clone().expect("hash"),
        )
        .await
        .expect("verify");
    assert!(matches!(
        verdict,
        gatehouse_crypto::Verification::Valid { .. }
    ));
    let (key, generated) =
        gatehouse_crypto::SecretKey::load_or_generate(installation.data_dir()).expect("secret key");
    assert!(!generated, "the server generated and kept the secret key");
    let digest = gatehouse_crypto::TokenDigester::new(&key).digest(api_token);
    let token = store
        .token_by_digest(TokenIntent::Api, &digest)
        .await
        .expect("lookup")
        .expect("api token stored");
    assert_eq!(token.user_id, Some(admin.id));

    // Bootstrap runs on first start only: a changed password variable changes nothing.
    assert!(server.terminate().success());
    let server = Server::start(
        &installation,
        &[("GATEHOUSE_BOOTSTRAP_PASSWORD", "a different passphrase")],
    );
    server.wait_ready().await;
    let again = store
        .user_by_username("admin")
        .await
        .expect("lookup")
        .expect("admin");
    assert_eq!(again.password_hash, admin.password_hash);
}

on_both_backends!(
    setup_link_creates_the_first_admin_once,
    only_the_latest_setup_link_works,
    bootstrap_variables_create_the_admin_unattended,
);
