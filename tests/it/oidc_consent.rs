//! Consent at the authorization endpoint over real HTTP on both backends: `explicit` asks
//! every time, `remembered` asks once and again for a new scope (and the grant is stored with
//! an audit event), Deny answers `access_denied` with `state`, `prompt=none` answers
//! `consent_required`, `prompt=consent` forces the page, and a tampered pending request or a
//! missing CSRF token is refused without a redirect.

use crate::on_both_backends;
use crate::support::forms::hidden_field as field;
use crate::support::server::{Backend, Installation, Server};
use gatehouse_core::{ConsentStore, EventAction, EventQuery, EventStore, UserStore};
use reqwest::StatusCode;

const LOGIN: &str = "/if/flow/default-authentication-flow/";
const CONSENT: &str = "/application/o/authorize/consent/";
const REDIRECT: &str = "https://rp.example/callback";
const PASSWORD: &str = "the first passphrase";

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("location")
        .map(|v| v.to_str().expect("ascii").to_owned())
        .unwrap_or_default()
}

fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then(|| gatehouse_oidc::client_auth::form_decode(v).expect("decodable"))
    })
}

fn authorize_url(server: &Server, client_id: &str, scope: &str, extra: &[(&str, &str)]) -> String {
    let mut url = server.url(&format!(
        "/application/o/authorize/?response_type=code&client_id={client_id}&redirect_uri={}&scope={}&state=st%2Fate",
        gatehouse_oidc::authorize::form_encode(REDIRECT),
        gatehouse_oidc::authorize::form_encode(scope),
    ));
    for (k, v) in extra {
        url.push_str(&format!(
            "&{k}={}",
            gatehouse_oidc::authorize::form_encode(v)
        ));
    }
    url
}

/// Signs in through the real flow pages.
async fn sign_in(server: &Server, browser: &reqwest::Client) {
    let mut page = browser
        .get(server.url(&format!("{LOGIN}?next=/if/user/")))
        .send()
        .await
        .expect("login")
        .text()
        .await
        .expect("body");
    for (name, value) in [("uid", "admin"), ("password", PASSWORD)] {
        let csrf = field(&page, "csrf");
        let mut response = browser
            .post(server.url(LOGIN))
            .form(&[("csrf", csrf.as_str()), (name, value)])
            .send()
            .await
            .expect("post");
        loop {
            if response.status() != StatusCode::SEE_OTHER {
                page = response.text().await.expect("body");
                break;
            }
            let target = location(&response);
            if !target.starts_with(LOGIN) {
                return;
            }
            response = browser
                .get(server.url(&target))
                .send()
                .await
                .expect("follow");
        }
    }
    panic!("sign-in did not finish: {page}");
}

/// What the authorization endpoint answered.
enum Outcome {
    /// The consent page.
    Page(String),
    /// A redirect back to the client.
    Redirect(String),
}

async fn outcome(response: reqwest::Response) -> Outcome {
    match response.status() {
        StatusCode::OK => Outcome::Page(response.text().await.expect("body")),
        StatusCode::SEE_OTHER => {
            let target = location(&response);
            assert!(target.starts_with(REDIRECT), "{target}");
            Outcome::Redirect(target)
        }
        other => panic!(
            "unexpected {other}: {}",
            response.text().await.unwrap_or_default()
        ),
    }
}

async fn authorize(browser: &reqwest::Client, url: &str) -> Outcome {
    outcome(browser.get(url).send().await.expect("authorize")).await
}

fn page(outcome: Outcome) -> String {
    match outcome {
        Outcome::Page(html) => html,
        Outcome::Redirect(to) => panic!("expected the consent page, got a redirect to {to}"),
    }
}

fn redirect(outcome: Outcome) -> String {
    match outcome {
        Outcome::Redirect(to) => to,
        Outcome::Page(html) => panic!("expected a redirect, got a page: {html}"),
    }
}

async fn answer(server: &Server, browser: &reqwest::Client, html: &str, decision: &str) -> Outcome {
    let response = browser
        .post(server.url(CONSENT))
        .form(&[
            ("csrf", field(html, "csrf").as_str()),
            ("request", field(html, "request").as_str()),
            ("decision", decision),
        ])
        .send()
        .await
        .expect("answer");
    outcome(response).await
}

fn assert_code(to: &str) {
    assert!(query_param(to, "code").is_some(), "{to}");
    assert_eq!(query_param(to, "state").as_deref(), Some("st/ate"));
    assert!(query_param(to, "iss").is_some(), "{to}");
}

async fn consent_modes(backend: Backend) {
    let gh = Installation::new(backend).await;
    for (slug, mode) in [("wiki", "explicit"), ("chat", "remembered")] {
        gh.cli_ok(
            &[
                "app",
                "create",
                slug,
                "--name",
                &format!("The {slug}"),
                "--client-id",
                slug,
                "--redirect-uri",
                REDIRECT,
                "--consent",
                mode,
            ],
            None,
        );
    }
    let server = Server::start(&gh, &[("GATEHOUSE_BOOTSTRAP_PASSWORD", PASSWORD)]);
    server.wait_ready().await;
    let browser = client();
    sign_in(&server, &browser).await;

    // Explicit: the page every time, with the app name and the scopes in plain words.
    let url = authorize_url(&server, "wiki", "openid email offline_access", &[]);
    for _ in 0..2 {
        let html = page(authorize(&browser, &url).await);
        assert!(html.contains("The wiki"), "{html}");
        assert!(html.contains("your email address"), "{html}");
        assert!(html.contains("stay signed in to the app (offline access)"));
        assert!(!html.contains("your name, your username and your groups"));
        assert_code(&redirect(answer(&server, &browser, &html, "allow").await));
    }
    // prompt=none when a page is needed: consent_required, with state.
    let to = redirect(
        authorize(
            &browser,
            &authorize_url(&server, "wiki", "openid", &[("prompt", "none")]),
        )
        .await,
    );
    assert_eq!(
        query_param(&to, "error").as_deref(),
        Some("consent_required")
    );
    assert_eq!(query_param(&to, "state").as_deref(), Some("st/ate"));
    // Deny: access_denied back to the client with state and iss, and no code.
    let html = page(authorize(&browser, &url).await);
    let to = redirect(answer(&server, &browser, &html, "deny").await);
    assert_eq!(query_param(&to, "error").as_deref(), Some("access_denied"));
    assert_eq!(query_param(&to, "state").as_deref(), Some("st/ate"));
    assert!(query_param(&to, "iss").is_some());
    assert!(query_param(&to, "code").is_none());
    // The form is single-use: answering it again within its ten minutes (Allow after Allow,
    // Allow after Deny) is refused with a page, and no second code is issued.
    let html = page(authorize(&browser, &url).await);
    assert_code(&redirect(answer(&server, &browser, &html, "allow").await));
    let denied = page(authorize(&browser, &url).await);
    redirect(answer(&server, &browser, &denied, "deny").await);
    for (form, decision) in [(&html, "allow"), (&denied, "allow"), (&html, "deny")] {
        let response = browser
            .post(server.url(CONSENT))
            .form(&[
                ("csrf", field(form, "csrf").as_str()),
                ("request", field(form, "request").as_str()),
                ("decision", decision),
            ])
            .send()
            .await
            .expect("post");
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert!(response.headers().get("location").is_none());
        let body = response.text().await.expect("body");
        assert!(body.contains("already answered"), "{body}");
    }
    // A tampered pending request: refused with a page, never a redirect.
    let html = page(authorize(&browser, &url).await);
    let sealed = field(&html, "request");
    let mut bytes = sealed.into_bytes();
    let middle = bytes.len() / 2;
    bytes[middle] = if bytes[middle] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(bytes).expect("ascii");
    let response = browser
        .post(server.url(CONSENT))
        .form(&[
            ("csrf", field(&html, "csrf").as_str()),
            ("request", tampered.as_str()),
            ("decision", "allow"),
        ])
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.headers().get("location").is_none());
    // A missing CSRF token: refused, no redirect.
    let response = browser
        .post(server.url(CONSENT))
        .form(&[
            ("request", field(&html, "request").as_str()),
            ("decision", "allow"),
        ])
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(response.headers().get("location").is_none());
    // The pending request is bound to the session: another signed-in browser cannot use it.
    let other = client();
    sign_in(&server, &other).await;
    let other_html = page(authorize(&other, &url).await);
    let response = other
        .post(server.url(CONSENT))
        .form(&[
            ("csrf", field(&other_html, "csrf").as_str()),
            ("request", field(&html, "request").as_str()),
            ("decision", "allow"),
        ])
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.headers().get("location").is_none());

    // Remembered: asked once, then not; asked again when the scopes grow.
    let small = authorize_url(&server, "chat", "openid email", &[]);
    let html = page(authorize(&browser, &small).await);
    assert!(html.contains("remember your answer"), "{html}");
    assert_code(&redirect(answer(&server, &browser, &html, "allow").await));
    assert_code(&redirect(authorize(&browser, &small).await));
    assert_code(&redirect(
        authorize(
            &browser,
            &authorize_url(&server, "chat", "email openid", &[("prompt", "none")]),
        )
        .await,
    ));
    let bigger = authorize_url(&server, "chat", "openid email profile", &[]);
    let html = page(authorize(&browser, &bigger).await);
    assert!(html.contains("your name, your username and your groups"));
    assert_code(&redirect(answer(&server, &browser, &html, "allow").await));
    assert_code(&redirect(authorize(&browser, &bigger).await));
    assert_code(&redirect(
        authorize(&browser, &authorize_url(&server, "chat", "profile", &[])).await,
    ));
    // prompt=consent forces the page even when remembered.
    page(
        authorize(
            &browser,
            &authorize_url(&server, "chat", "openid", &[("prompt", "consent")]),
        )
        .await,
    );

    // The grant is stored (the union of what was allowed) with audit events.
    let store = gh.store().await;
    let admin = store
        .user_by_username("admin")
        .await
        .expect("store")
        .expect("admin");
    let app = gatehouse_core::ApplicationStore::application_by_slug(&store, "chat")
        .await
        .expect("store")
        .expect("chat");
    let consent = store
        .consent(admin.id, app.id)
        .await
        .expect("store")
        .expect("consent stored");
    assert_eq!(consent.scopes, ["openid", "email", "profile"]);
    let wiki = gatehouse_core::ApplicationStore::application_by_slug(&store, "wiki")
        .await
        .expect("store")
        .expect("wiki");
    assert!(
        store
            .consent(admin.id, wiki.id)
            .await
            .expect("store")
            .is_none(),
        "explicit consent is never remembered"
    );
    let mut seen = Vec::new();
    for action in [EventAction::ModelCreated, EventAction::ModelUpdated] {
        let events = store
            .list_events(&EventQuery {
                action: Some(action),
                limit: 500,
                ..EventQuery::default()
            })
            .await
            .expect("events");
        seen.extend(
            events
                .items
                .into_iter()
                .filter(|e| e.context.get("model").and_then(|m| m.as_str()) == Some("consent"))
                .map(|e| e.action),
        );
    }
    assert_eq!(
        seen,
        [EventAction::ModelCreated, EventAction::ModelUpdated],
        "one event per grant"
    );
}

on_both_backends!(consent_modes);
