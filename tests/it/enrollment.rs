//! Enrollment by invitation: the CLI issues a link, a person opens it, fills in the form and
//! lands signed in, in the invitation's groups. Over HTTP on both backends (including every
//! refusal: no, unknown, expired or used invitation, mismatched repeat, weak password) and
//! once in Chromium.

use crate::pages::{current_path, press_submit, type_into};
use crate::support::browser::Browser;
use crate::support::forms::csrf_of;
use crate::support::server::{Backend, Installation, Server};
use chrono::{Duration, Utc};
use fantoccini::Locator;
use gatehouse_core::{
    AuditContext, EventAction, EventQuery, EventStore, InvitationStore, NewInvitation,
};
use gatehouse_crypto::{SecretKey, TokenDigester};
use reqwest::StatusCode;

const ENROLL: &str = "/if/flow/default-enrollment-flow/";
const PASSPHRASE: &str = "a long and unusual passphrase";

crate::on_both_backends!(invitation_enrollment_over_http);

/// The path and query of the link `invitation create` printed (its host is the configured
/// base URL, not the test server's free port).
fn link_path(cli_output: &str) -> String {
    let line = cli_output
        .lines()
        .find(|l| l.contains("?itoken="))
        .unwrap_or_else(|| panic!("no link in {cli_output:?}"));
    let start = line.find(ENROLL).expect("flow path");
    line[start..].trim().to_owned()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .expect("client")
}

async fn get(client: &reqwest::Client, url: String) -> (StatusCode, String) {
    let response = client.get(url).send().await.expect("GET");
    (response.status(), response.text().await.expect("body"))
}

async fn post(
    client: &reqwest::Client,
    url: String,
    page: &str,
    fields: &[(&str, &str)],
) -> (StatusCode, reqwest::Url, String) {
    let csrf = csrf_of(page);
    let mut form = vec![("csrf", csrf.as_str())];
    form.extend_from_slice(fields);
    let response = client.post(url).form(&form).send().await.expect("POST");
    let (status, url) = (response.status(), response.url().clone());
    (status, url, response.text().await.expect("body"))
}

fn signup<'a>(password: &'a str, repeat: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("username", "newbie"),
        ("name", "New Person"),
        // Tampering with the fixed email changes nothing.
        ("email", "attacker@example.com"),
        ("password", password),
        ("password_repeat", repeat),
    ]
}

async fn invitation_enrollment_over_http(backend: Backend) {
    let installation = Installation::new(backend).await;
    let server = Server::start(
        &installation,
        &[("GATEHOUSE_BOOTSTRAP_PASSWORD", "admin's long passphrase")],
    );
    server.wait_ready().await;
    installation.cli_ok(&["group", "create", "staff"], None);
    let printed = installation.cli_ok(
        &[
            "invitation",
            "create",
            "--email",
            "new@example.com",
            "--group",
            "staff",
        ],
        None,
    );
    let link = server.url(&link_path(&printed));

    // Without an invitation, or with a made-up one, there is no form.
    let (status, page) = get(&client(), server.url(ENROLL)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(page.contains("You need an invitation"), "{page}");
    assert!(!page.contains("password_repeat"));
    let (status, page) = get(&client(), server.url(&format!("{ENROLL}?itoken=made-up"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(page.contains("invitation link is not valid"), "{page}");

    // The form: the invited email is shown read-only; the inputs carry the autocomplete
    // hints password managers need.
    let visitor = client();
    let (status, page) = get(&visitor, link.clone()).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(
        page.contains(r#"value="new@example.com" autocomplete="email" required readonly"#),
        "{page}"
    );
    assert!(page.contains(r#"autocomplete="username""#));
    assert_eq!(page.matches(r#"autocomplete="new-password""#).count(), 2);

    // A mismatched repeat and a weak password are refused next to their fields.
    let (status, _, page) = post(
        &visitor,
        server.url(ENROLL),
        &page,
        &signup(PASSPHRASE, "something else entirely"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        page.contains(r#"id="password_repeat-error">Does not match."#),
        "{page}"
    );
    let (status, _, page) = post(
        &visitor,
        server.url(ENROLL),
        &page,
        &signup("short", "short"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("at least 10 characters"), "{page}");
    let mut taken = signup(PASSPHRASE, PASSPHRASE);
    taken[0].1 = "ADMIN";
    let (status, _, page) = post(&visitor, server.url(ENROLL), &page, &taken).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        page.contains(r#"id="username-error">This username is taken"#),
        "{page}"
    );
    assert!(page.contains(r#"value="ADMIN""#), "typed values are kept");
    assert!(
        installation
            .cli_ok(&["user", "list"], None)
            .lines()
            .all(|l| !l.contains("newbie"))
    );

    // A good submission creates the account in the invitation's group and signs it in.
    let (status, url, page) = post(
        &visitor,
        server.url(ENROLL),
        &page,
        &signup(PASSPHRASE, PASSPHRASE),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(url.path(), "/if/user/");
    assert!(page.contains("Hello, New Person"), "{page}");
    assert!(page.contains(r#"<dd id="groups">staff</dd>"#), "{page}");
    let shown: serde_json::Value =
        serde_json::from_str(&installation.cli_ok(&["user", "show", "newbie", "--json"], None))
            .expect("json");
    assert_eq!(shown["email"], "new@example.com");
    assert_eq!(shown["groups"], serde_json::json!(["staff"]));
    assert_eq!(shown["has_password"], true);

    // The link was single-use.
    let (status, page) = get(&client(), link.clone()).await;
    assert_eq!(status, StatusCode::GONE);
    assert!(page.contains("already been used"), "{page}");
    let listed = installation.cli_ok(&["invitation", "list"], None);
    assert!(
        listed.contains("single/1") && listed.contains("used"),
        "{listed}"
    );

    // An expired invitation is refused with its own message.
    let store = installation.store().await;
    let (key, _) = SecretKey::load_or_generate(installation.data_dir()).expect("secret key");
    let token = "an-expired-invitation-token";
    store
        .create_invitation(
            NewInvitation {
                flow_slug: "default-enrollment-flow".into(),
                single_use: true,
                fixed_data: serde_json::Map::new(),
                groups: Vec::new(),
                expires_at: Some(Utc::now() - Duration::minutes(1)),
                created_by: None,
                digest: TokenDigester::new(&key).digest(token),
            },
            &AuditContext::default(),
        )
        .await
        .expect("expired invitation");
    let (status, page) = get(&client(), server.url(&format!("{ENROLL}?itoken={token}"))).await;
    assert_eq!(status, StatusCode::GONE);
    assert!(page.contains("This invitation has expired"), "{page}");

    // Audited: invitation created and used, user created (by the enrollment).
    let events = store
        .list_events(&EventQuery {
            limit: 200,
            ..EventQuery::default()
        })
        .await
        .expect("events")
        .items;
    let has = |action: EventAction, model: &str| {
        events
            .iter()
            .filter(|e| {
                e.action == action && e.context.get("model").and_then(|m| m.as_str()) == Some(model)
            })
            .count()
    };
    assert_eq!(has(EventAction::TokenUsed, "invitation"), 1);
    assert!(has(EventAction::ModelCreated, "invitation") >= 2);
    assert!(events.iter().any(|e| e.action == EventAction::ModelCreated
        && e.actor == "enrollment:newbie"
        && e.context.get("name").and_then(|n| n.as_str()) == Some("newbie")));
    assert!(events.iter().any(|e| e.action == EventAction::Login));
    assert!(!server.logs().contains(PASSPHRASE), "no secret in the logs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invitation_enrollment_in_chromium() {
    let installation = Installation::new(Backend::Sqlite).await;
    let server = Server::start(
        &installation,
        &[("GATEHOUSE_BOOTSTRAP_PASSWORD", "admin's long passphrase")],
    );
    server.wait_ready().await;
    installation.cli_ok(&["group", "create", "engineers"], None);
    let printed = installation.cli_ok(
        &[
            "invitation",
            "create",
            "--email",
            "browser@example.com",
            "--group",
            "engineers",
            "--expires",
            "2h",
        ],
        None,
    );
    let browser = Browser::start().await;
    let page = &browser.client;
    page.goto(&server.url(&link_path(&printed)))
        .await
        .expect("open invitation");
    assert!(
        page.title()
            .await
            .expect("title")
            .starts_with("Create your account")
    );
    let email = page.find(Locator::Id("email")).await.expect("email");
    assert_eq!(
        email.prop("value").await.expect("value").as_deref(),
        Some("browser@example.com")
    );
    assert!(email.attr("readonly").await.expect("attr").is_some());
    for (field, hint) in [
        ("username", "username"),
        ("email", "email"),
        ("password", "new-password"),
        ("password_repeat", "new-password"),
    ] {
        let input = page.find(Locator::Id(field)).await.expect("field");
        assert_eq!(
            input.attr("autocomplete").await.expect("attr").as_deref(),
            Some(hint),
            "{field}"
        );
    }

    type_into(page, "username", "browser-user").await;
    type_into(page, "name", "Browser User").await;
    type_into(page, "password", PASSPHRASE).await;
    type_into(page, "password_repeat", "not the same passphrase").await;
    press_submit(page).await;
    let error = page
        .find(Locator::Id("password_repeat-error"))
        .await
        .expect("repeat error shown");
    assert_eq!(error.text().await.expect("text"), "Does not match.");
    // What was typed survives, except the passwords.
    for (field, kept) in [
        ("username", "browser-user"),
        ("name", "Browser User"),
        ("password", ""),
    ] {
        let value = page
            .find(Locator::Id(field))
            .await
            .expect("field")
            .prop("value")
            .await
            .expect("value");
        assert_eq!(value.as_deref(), Some(kept), "{field}");
    }

    type_into(page, "password", PASSPHRASE).await;
    type_into(page, "password_repeat", PASSPHRASE).await;
    press_submit(page).await;
    assert_eq!(current_path(page).await, "/if/user/");
    let text = |id: &'static str| async move {
        page.find(Locator::Id(id))
            .await
            .expect("element")
            .text()
            .await
            .expect("text")
    };
    assert_eq!(text("username").await, "browser-user");
    assert_eq!(text("groups").await, "engineers");
    browser.close().await;

    let shown = installation.cli_ok(&["user", "show", "browser-user"], None);
    assert!(shown.contains("browser@example.com"), "{shown}");
    assert!(shown.contains("engineers"), "{shown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invitation_create_send_emails_the_link() {
    let mut gh = Installation::new(Backend::Sqlite).await;
    let send = [
        "invitation",
        "create",
        "--email",
        "newcomer@example.com",
        "--send",
    ];

    // Without email delivery, or without an address, --send refuses and creates nothing.
    let output = gh.cli(&send, None);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--send needs email delivery"), "{stderr}");
    let output = gh.cli(&["invitation", "create", "--send"], None);
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("--send needs --email"),
        "{output:?}"
    );
    assert!(
        gh.cli_ok(&["invitation", "list"], None)
            .contains("(0 invitations)")
    );

    let sink = crate::support::smtp::SmtpSink::start(0);
    for (name, value) in sink.gatehouse_env() {
        gh.env.insert(name.into(), value);
    }
    let printed = gh.cli_ok(&send, None);
    let server = Server::start(&gh, &[]);
    server.wait_ready().await;
    let messages = sink.wait_for(1, std::time::Duration::from_secs(20)).await;
    assert!(
        messages[0].recipients.contains("newcomer@example.com"),
        "{messages:?}"
    );
    let emailed = messages[0]
        .link_containing("itoken=")
        .expect("a link in the email");
    assert!(
        emailed.ends_with(&link_path(&printed)),
        "{emailed} vs {printed}"
    );
    server.terminate();
}
