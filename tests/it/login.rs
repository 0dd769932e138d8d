//! Sign-in over plain HTTP (no browser): login throttling with growing waits, identical for
//! existing and unknown accounts, and audited.

use crate::support::forms::csrf_of;
use crate::support::server::{Backend, Installation, Server};
use gatehouse_core::{EventAction, EventQuery, EventStore, SessionStore, UserStore};
use reqwest::StatusCode;

const LOGIN: &str = "/if/flow/default-authentication-flow/";

/// A cookie-keeping client walking the sign-in flow the way a browser would.
pub(crate) struct Visitor {
    client: reqwest::Client,
    base: String,
    csrf: String,
}

impl Visitor {
    async fn start(server: &Server, username: &str) -> Self {
        Self::start_with(server, username, reqwest::Client::builder()).await
    }

    /// Like `start`, with a client carrying whatever `builder` adds (headers, say).
    pub(crate) async fn start_with(
        server: &Server,
        username: &str,
        builder: reqwest::ClientBuilder,
    ) -> Self {
        let client = builder.cookie_store(true).build().expect("client");
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

    pub(crate) async fn password(&self, password: &str) -> String {
        self.post(&[("password", password)]).await.1
    }

    /// The visitor's HTTP client, with its cookies (session and CSRF).
    pub(crate) fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// A CSRF token valid for this visitor's CSRF cookie.
    pub(crate) fn csrf(&self) -> &str {
        &self.csrf
    }
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
    // Every refused attempt is counted for dashboards, exactly as it is audited.
    let failed = events
        .items
        .iter()
        .filter(|e| e.action == EventAction::LoginFailed)
        .count();
    assert_eq!(
        server
            .metric(r#"gatehouse_logins_total{result="failure"}"#)
            .await,
        Some(failed as f64)
    );
    assert_eq!(
        server
            .metric(r#"gatehouse_logins_total{result="success"}"#)
            .await,
        None
    );
}

impl Visitor {
    /// Signs in completely and returns the portal page.
    async fn sign_in(server: &Server, username: &str, password: &str) -> (Self, String) {
        let visitor = Self::start(server, username).await;
        let page = visitor.password(password).await;
        (visitor, page)
    }

    async fn get(&self, path: &str) -> (reqwest::Url, String) {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("GET");
        let url = response.url().clone();
        (url, response.text().await.expect("body"))
    }

    async fn post_to(
        &self,
        path: &str,
        fields: &[(&str, &str)],
    ) -> (StatusCode, reqwest::Url, String) {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .form(fields)
            .send()
            .await
            .expect("POST");
        let (status, url) = (response.status(), response.url().clone());
        (status, url, response.text().await.expect("body"))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_change_ends_other_sessions_and_sessions_can_be_revoked() {
    let installation = Installation::new(Backend::Sqlite).await;
    let server = Server::start(
        &installation,
        &[("GATEHOUSE_BOOTSTRAP_PASSWORD", "the first passphrase")],
    );
    server.wait_ready().await;
    const CHANGE: &str = "/if/flow/default-password-change/";

    // Only a signed-in user can change a password.
    let anonymous = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let response = anonymous.get(server.url(CHANGE)).send().await.expect("GET");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(
        response.headers()["location"]
            .to_str()
            .expect("location")
            .starts_with(LOGIN)
    );

    let (laptop, page) = Visitor::sign_in(&server, "admin", "the first passphrase").await;
    assert!(page.contains("Hello,"), "{page}");
    let (phone, _) = Visitor::sign_in(&server, "admin", "the first passphrase").await;
    let (_, portal) = laptop.get("/if/user/").await;
    assert_eq!(portal.matches("<li>").count(), 2, "{portal}");
    assert_eq!(
        portal.matches("Sign out this session").count(),
        1,
        "only the other session"
    );

    // The prompt checks its fields and shows errors next to them.
    let (_, form) = laptop.get(CHANGE).await;
    assert!(form.contains(r#"autocomplete="new-password""#), "{form}");
    let csrf = csrf_of(&form);
    let (status, _, page) = laptop
        .post_to(
            CHANGE,
            &[
                ("csrf", &csrf),
                ("password", "a new long passphrase"),
                ("password_repeat", "something else"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains(r#"id="password_repeat-error""#), "{page}");
    assert!(
        !page.contains("a new long passphrase"),
        "passwords are never echoed"
    );
    let (status, url, page) = laptop
        .post_to(
            CHANGE,
            &[
                ("csrf", &csrf),
                ("password", "a new long passphrase"),
                ("password_repeat", "a new long passphrase"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(url.path(), "/if/user/");

    // The other session ended; this one lives on; the new password is the one that works.
    assert_eq!(phone.get("/if/user/").await.0.path(), LOGIN);
    assert_eq!(laptop.get("/if/user/").await.0.path(), "/if/user/");
    let (_, page) = Visitor::sign_in(&server, "admin", "the first passphrase").await;
    assert!(page.contains("Invalid username or password"));
    let (tablet, page) = Visitor::sign_in(&server, "admin", "a new long passphrase").await;
    assert!(page.contains("Hello,"), "{page}");

    // The laptop signs the tablet out from its session list.
    let (_, portal) = laptop.get("/if/user/").await;
    let marker = r#"name="session" value=""#;
    let start = portal
        .find(marker)
        .map(|i| i + marker.len())
        .expect("a revoke button");
    let session_id = portal[start..].split('"').next().expect("id").to_owned();
    let csrf = csrf_of(&portal);
    let (_, url, _) = laptop
        .post_to(
            "/if/user/sessions/revoke",
            &[("csrf", &csrf), ("session", &session_id)],
        )
        .await;
    assert_eq!(url.path(), "/if/user/");
    assert_eq!(tablet.get("/if/user/").await.0.path(), LOGIN);
    // Without the CSRF token nothing happens.
    let (status, _, _) = laptop
        .post_to("/if/user/sessions/revoke", &[("session", &session_id)])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let store = installation.store().await;
    let events = store
        .list_events(&EventQuery {
            limit: 100,
            ..EventQuery::default()
        })
        .await
        .expect("events");
    let password_set: Vec<_> = events
        .items
        .iter()
        .filter(|e| e.action == EventAction::PasswordSet)
        .collect();
    assert_eq!(
        password_set.len(),
        1,
        "bootstrap stores a hash directly; the change is the one event"
    );
    assert_eq!(password_set[0].actor, "admin");
    // The revocation is audited, by the user who pressed the button, naming the session.
    assert!(
        events
            .items
            .iter()
            .any(|e| e.action == EventAction::ModelDeleted
                && e.actor == "admin"
                && e.context.get("model").and_then(|m| m.as_str()) == Some("session")
                && e.context.get("pk").and_then(|p| p.as_str()) == Some(session_id.as_str())),
        "a model_deleted event for the revoked session"
    );
}

/// The code an authenticator app would show for `secret` at time step `step`.
pub(crate) fn totp_code(secret: &str, step: u64) -> String {
    use gatehouse_crypto::totp::{TotpParams, TotpSecret, code_at};
    let params = TotpParams::default();
    let secret = TotpSecret::from_base32(secret).expect("base32 secret");
    code_at(&secret, &params, step * u64::from(params.period_secs()))
}

/// The current TOTP time step (30 seconds).
pub(crate) fn current_step() -> u64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    now / 30
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn totp_setup_then_sign_in_with_single_use_codes() {
    let installation = Installation::new(Backend::Sqlite).await;
    let server = Server::start(
        &installation,
        &[("GATEHOUSE_BOOTSTRAP_PASSWORD", "the first passphrase")],
    );
    server.wait_ready().await;
    const SETUP: &str = "/if/flow/default-authenticator-totp-setup/";

    let (laptop, _) = Visitor::sign_in(&server, "admin", "the first passphrase").await;
    let (_, page) = laptop.get(SETUP).await;
    assert!(page.contains("<svg"), "a QR code: {page}");
    assert!(
        page.contains("otpauth://totp/Gatehouse:admin?secret="),
        "{page}"
    );
    let marker = r#"<code id="totp-secret">"#;
    let start = page
        .find(marker)
        .map(|i| i + marker.len())
        .expect("secret shown");
    let secret = page[start..].split('<').next().expect("secret").to_owned();
    let csrf = csrf_of(&page);

    // A wrong code adds nothing; the right one adds the device and spends its time step.
    let (status, _, page) = laptop
        .post_to(
            SETUP,
            &[("csrf", &csrf), ("name", "Phone"), ("code", "000000")],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("does not match"), "{page}");
    let mut setup_step = current_step();
    let (status, url, page) = laptop
        .post_to(
            SETUP,
            &[
                ("csrf", &csrf),
                ("name", "Phone"),
                ("code", &totp_code(&secret, setup_step)),
            ],
        )
        .await;
    if status == StatusCode::BAD_REQUEST {
        // The 30-second step turned over between computing and checking (skew covers the past
        // step, so this can only mean the check ran late); retry once with the new step.
        setup_step = current_step();
        let (status2, url2, page2) = laptop
            .post_to(
                SETUP,
                &[
                    ("csrf", &csrf),
                    ("name", "Phone"),
                    ("code", &totp_code(&secret, setup_step)),
                ],
            )
            .await;
        assert_eq!(status2, StatusCode::OK, "{page2}");
        assert_eq!(url2.path(), "/if/user/");
    } else {
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(url.path(), "/if/user/");
    }
    let (_, portal) = laptop.get("/if/user/").await;
    assert!(portal.contains("Phone (authenticator app"), "{portal}");

    // Signing in now asks for a code after the password.
    let phone = Visitor::start(&server, "admin").await;
    let page = phone.password("the first passphrase").await;
    assert!(
        page.contains(r#"autocomplete="one-time-code""#),
        "code page: {page}"
    );
    let code_page_csrf = csrf_of(&page);
    let submit_code = |code: String| {
        let phone = &phone;
        let csrf = code_page_csrf.clone();
        async move {
            phone
                .post(&[("csrf", csrf.as_str()), ("code", code.as_str())])
                .await
                .1
        }
    };
    // The code that confirmed the setup cannot be used again, nor a wrong one.
    let page = submit_code(totp_code(&secret, setup_step)).await;
    assert!(page.contains("already used"), "{page}");
    let page = submit_code("123456".into()).await;
    assert!(page.contains("Invalid code"), "{page}");
    // The next step's code (within the allowed clock skew) signs in, once.
    let next = totp_code(&secret, setup_step + 1);
    let page = submit_code(next.clone()).await;
    assert!(page.contains("Hello,"), "{page}");
    let tablet = Visitor::start(&server, "admin").await;
    let page = tablet.password("the first passphrase").await;
    let page = tablet
        .post(&[("csrf", csrf_of(&page).as_str()), ("code", next.as_str())])
        .await
        .1;
    assert!(
        page.contains("already used"),
        "a code signs in once: {page}"
    );

    // Removing the device from the portal drops the second step.
    let (_, portal) = laptop.get("/if/user/").await;
    let marker = r#"name="device" value=""#;
    let start = portal
        .find(marker)
        .map(|i| i + marker.len())
        .expect("remove button");
    let device = portal[start..].split('"').next().expect("id").to_owned();

    // Renaming: a bad name is refused and changes nothing; a good one shows in the portal.
    let (status, _, page) = laptop
        .post_to(
            "/if/user/devices/rename",
            &[
                ("csrf", &csrf_of(&portal)),
                ("device", &device),
                ("name", "   "),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{page}");
    assert!(page.contains("must not be empty"), "{page}");
    let (_, url, page) = laptop
        .post_to(
            "/if/user/devices/rename",
            &[
                ("csrf", &csrf_of(&portal)),
                ("device", &device),
                ("name", "Work phone"),
            ],
        )
        .await;
    assert_eq!(url.path(), "/if/user/");
    assert!(page.contains("Work phone (authenticator app"), "{page}");
    let (status, _, _) = laptop
        .post_to(
            "/if/user/devices/rename",
            &[("device", &device), ("name", "No CSRF token")],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (_, url, _) = laptop
        .post_to(
            "/if/user/devices/remove",
            &[("csrf", &csrf_of(&portal)), ("device", &device)],
        )
        .await;
    assert_eq!(url.path(), "/if/user/");
    let (_, page) = Visitor::sign_in(&server, "admin", "the first passphrase").await;
    assert!(page.contains("Hello,"), "password alone again: {page}");

    let store = installation.store().await;
    let events = store
        .list_events(&EventQuery {
            limit: 200,
            ..EventQuery::default()
        })
        .await
        .expect("events");
    let methods: Vec<&str> = events
        .items
        .iter()
        .filter(|e| e.action == EventAction::Login)
        .filter_map(|e| e.context.get("method").and_then(|m| m.as_str()))
        .collect();
    assert!(methods.contains(&"password,totp"), "{methods:?}");
    let device_events = events
        .items
        .iter()
        .filter(|e| e.context.get("model").and_then(|m| m.as_str()) == Some("device"))
        .count();
    assert_eq!(device_events, 3, "added, renamed and removed");
    assert!(
        !serde_json::to_string(&events.items)
            .expect("json")
            .contains(&secret),
        "the seed is never logged"
    );
}

/// Signs `username` in without following redirects, ticking "Stay signed in" or not, and
/// returns the `Set-Cookie` value that starts the session.
async fn session_cookie_of_sign_in(server: &Server, username: &str, remember: bool) -> String {
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let url = server.url(LOGIN);
    let page = client
        .get(&url)
        .send()
        .await
        .expect("GET")
        .text()
        .await
        .expect("body");
    let response = client
        .post(&url)
        .form(&[("csrf", csrf_of(&page).as_str()), ("uid", username)])
        .send()
        .await
        .expect("POST uid");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let page = client
        .get(&url)
        .send()
        .await
        .expect("GET")
        .text()
        .await
        .expect("body");
    assert!(page.contains("Stay signed in"), "{page}");
    let csrf = csrf_of(&page);
    let mut form = vec![
        ("csrf", csrf.as_str()),
        ("password", "admin's long passphrase"),
    ];
    if remember {
        form.push(("remember_me", "true"));
    }
    let response = client
        .post(&url)
        .form(&form)
        .send()
        .await
        .expect("POST password");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    // The next page runs the user-login stage and sets the session cookie.
    let response = client.get(&url).send().await.expect("GET");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        // The old session's cookie is cleared first; the new one follows.
        .rfind(|v| v.starts_with("gatehouse_session=") && !v.starts_with("gatehouse_session=;"))
        .expect("a session cookie")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stay_signed_in_keeps_the_session_past_the_browser() {
    let installation = Installation::new(Backend::Sqlite).await;
    let server = Server::start(
        &installation,
        &[("GATEHOUSE_BOOTSTRAP_PASSWORD", "admin's long passphrase")],
    );
    server.wait_ready().await;

    let browser_only = session_cookie_of_sign_in(&server, "admin", false).await;
    assert!(!browser_only.contains("Max-Age"), "{browser_only}");
    let remembered = session_cookie_of_sign_in(&server, "admin", true).await;
    // The default flow: 12 hours for a browser session, plus 30 days when remembered.
    assert!(
        remembered.contains(&format!("Max-Age={}", 12 * 3600 + 30 * 24 * 3600)),
        "{remembered}"
    );

    let store = installation.store().await;
    let admin = store
        .user_by_username("admin")
        .await
        .expect("read")
        .expect("admin");
    let mut lifetimes: Vec<i64> = store
        .sessions_of(admin.id)
        .await
        .expect("sessions")
        .iter()
        .map(|s| (s.expires_at - s.created_at).num_hours())
        .collect();
    lifetimes.sort_unstable();
    assert_eq!(lifetimes, [12, 12 + 30 * 24]);
}
