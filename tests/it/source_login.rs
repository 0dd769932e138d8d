//! Signing in through an upstream source, end to end (issue 6): panva's `oidc-provider` runs
//! on 127.0.0.1 on Forgejo's OAuth paths with a `groups` claim (tests/interop/oidc-provider),
//! and headless Chromium clicks "Sign in with …" on Gatehouse's sign-in page, signs in
//! upstream and comes back. Covered: just-in-time enrollment with group sync (groups created
//! under the source's parent), a second login that reuses the link and whose sync adds and
//! removes only the memberships the source made, email linking (and its refusal when the
//! upstream has not verified the address), deny mode, a taken username never merged, a
//! forged state and a replayed callback, each refused with a `login_failed` event; and the
//! portal's linked accounts (the last way in cannot be removed, a link added from the portal).

use crate::on_both_backends;
use crate::pages::{current_path, navigate_by, press_submit, submit_field, type_into};
use crate::support::browser::Browser;
use crate::support::server::{Backend, Installation, Server, free_addr};
use fantoccini::Locator;
use gatehouse_core::AuthenticationMethod as Method;
use gatehouse_core::{EventAction, GroupStore, SessionStore, SourceStore, UserStore};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SECRET: &str = "upstream-client-secret-for-tests";
const LOGIN: &str = "/if/flow/default-authentication-flow/";

/// The upstream provider process; killed on drop.
struct Upstream {
    child: Child,
    base: String,
    script: PathBuf,
}

impl Drop for Upstream {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.script);
    }
}

impl Upstream {
    /// Starts the provider for `redirect_uris`, with accounts read from `accounts`.
    async fn start(redirect_uris: &[String], accounts: &Path) -> Self {
        let dir = std::env::var("GATEHOUSE_TEST_OIDC_PROVIDER_DIR").expect(
            "GATEHOUSE_TEST_OIDC_PROVIDER_DIR: run scripts/test, which installs oidc-provider with npm ci",
        );
        // ES modules resolve packages next to the script: run a private copy there.
        static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let run = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let script = Path::new(&dir).join(format!("upstream-{}-{run}.mjs", std::process::id()));
        std::fs::copy(
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../tests/interop/oidc-provider/server.js"
            ),
            &script,
        )
        .expect("copy server.js next to its node_modules");
        // A port picked here may be taken before node binds it, and node may fail for its
        // own reasons: each attempt that exits is retried on another port, and the last one's
        // output is shown.
        let mut output = String::new();
        for _ in 0..3 {
            let port = free_addr().port();
            let log = script.with_extension("log");
            let child = Command::new("node")
                .arg(&script)
                .env("PORT", port.to_string())
                .env("CLIENT_ID", "gatehouse")
                .env("CLIENT_SECRET", SECRET)
                .env("REDIRECT_URIS", redirect_uris.join(","))
                .env("ACCOUNTS_FILE", accounts)
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log).expect("node's log file"))
                .spawn()
                .expect("node is installed (scripts/test installs it)");
            let mut upstream = Self {
                child,
                base: format!("http://127.0.0.1:{port}"),
                script: script.clone(),
            };
            let deadline = Instant::now() + Duration::from_secs(90);
            let discovery = format!("{}/.well-known/openid-configuration", upstream.base);
            loop {
                if reqwest::get(&discovery).await.is_ok() {
                    let _ = std::fs::remove_file(&log);
                    return upstream;
                }
                let exited = upstream.child.try_wait().expect("node's status").is_some();
                if exited || Instant::now() >= deadline {
                    output = std::fs::read_to_string(&log).unwrap_or_default();
                    let _ = std::fs::remove_file(&log);
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            // Dropping `upstream` kills node; keep the script for the next attempt.
            upstream.script = PathBuf::new();
        }
        let _ = std::fs::remove_file(&script);
        panic!("oidc-provider did not start; its output:\n{output}");
    }

    async fn last_redirect(&self) -> String {
        reqwest::get(format!("{}/test/last-redirect", self.base))
            .await
            .expect("ask the provider")
            .text()
            .await
            .expect("text")
    }
}

fn write_accounts(path: &Path, accounts: &Value) {
    std::fs::write(path, accounts.to_string()).expect("write accounts");
}

fn account(sub: &str, login: &str, email: &str, verified: bool, groups: &[&str]) -> Value {
    json!({
        "sub": sub, "preferred_username": login, "name": format!("{login} upstream"),
        "email": email, "email_verified": verified, "groups": groups,
    })
}

/// From the sign-in page, clicks the button of `source`, signs in upstream as `login` and
/// waits for the page Gatehouse answers with.
async fn sign_in_with(page: &fantoccini::Client, server: &Server, source: &str, login: &str) {
    page.delete_all_cookies().await.expect("forget cookies");
    page.goto(&server.url(LOGIN)).await.expect("sign-in page");
    let button = page
        .find(Locator::Id(&format!("source-{source}")))
        .await
        .expect("a button for the source");
    navigate_by(page, button).await;
    submit_field(page, "login", login).await;
}

async fn heading(page: &fantoccini::Client) -> String {
    page.find(Locator::Css("h1"))
        .await
        .expect("heading")
        .text()
        .await
        .expect("text")
}

async fn direct_groups(gh: &Installation, username: &str) -> Vec<String> {
    let store = gh.store().await;
    let user = store
        .user_by_username(username)
        .await
        .expect("read")
        .expect("user exists");
    let mut names: Vec<String> = store
        .direct_groups(user.id)
        .await
        .expect("groups")
        .into_iter()
        .map(|g| g.name)
        .collect();
    names.sort();
    names
}

fn failures_with(events: &[gatehouse_core::Event], reason: &str) -> usize {
    events
        .iter()
        .filter(|e| e.action == EventAction::LoginFailed)
        .filter(|e| {
            e.context
                .get("reason")
                .and_then(Value::as_str)
                .is_some_and(|r| r.contains(reason))
        })
        .count()
}

fn create_source(gh: &Installation, slug: &str, base: &str, matching: &str, sync: &[&str]) {
    let mut args = vec![
        "source",
        "create",
        slug,
        "--type",
        "forgejo",
        "--name",
        slug,
        "--base-url",
        base,
        "--client-id",
        "gatehouse",
        "--client-secret-stdin",
        "--user-matching",
        matching,
    ];
    args.extend_from_slice(sync);
    gh.cli_ok(&args, Some(&format!("{SECRET}\n")));
}

async fn sign_in_through_an_upstream_source(backend: Backend) {
    let gh = Installation::new(backend).await;
    gh.cli_ok(&["group", "create", "forgejo"], None);
    gh.cli_ok(&["group", "create", "staff"], None);
    gh.cli_ok(
        &["user", "create", "carol", "--email", "carol@example.com"],
        None,
    );
    gh.cli_ok(
        &["user", "create", "dave", "--email", "dave@example.com"],
        None,
    );
    let server = Server::start(&gh, &[("GATEHOUSE_SOURCES__ALLOW_LOOPBACK", "true")]);
    server.wait_ready().await;
    let accounts_dir = tempfile::tempdir().expect("dir");
    let accounts = accounts_dir.path().join("accounts.json");
    let mut directory = json!({
        "ada": account("101", "ada", "ada@example.com", true, &["eng", "ops"]),
        "carol": account("103", "carol", "carol@example.com", true, &[]),
        "dave": account("104", "dave", "dave@example.com", false, &[]),
        "eve": account("105", "eve", "eve@example.com", true, &[]),
        "mallory": account("106", "carol", "mallory@example.com", true, &[]),
    });
    write_accounts(&accounts, &directory);
    let slugs = ["forgejo", "forgejo-email", "forgejo-deny"];
    let callbacks: Vec<String> = slugs
        .iter()
        .map(|s| server.url(&format!("/source/oauth/callback/{s}/")))
        .collect();
    let upstream = Upstream::start(&callbacks, &accounts).await;
    create_source(
        &gh,
        "forgejo",
        &upstream.base,
        "identifier",
        &["--group-sync", "create", "--group-sync-parent", "forgejo"],
    );
    create_source(&gh, "forgejo-email", &upstream.base, "email_link", &[]);
    create_source(&gh, "forgejo-deny", &upstream.base, "deny", &[]);
    let browser = Browser::start().await;
    let page = &browser.client;

    // Just-in-time enrollment: a new user from the upstream's claims, its groups created
    // under the source's parent, signed in to the portal.
    sign_in_with(page, &server, "forgejo", "ada").await;
    assert_eq!(
        current_path(page).await,
        "/if/user/",
        "{}",
        page.source().await.expect("source")
    );
    let store = gh.store().await;
    let ada = store
        .user_by_username("ada")
        .await
        .expect("read")
        .expect("ada was enrolled");
    assert_eq!(ada.email.as_deref(), Some("ada@example.com"));
    assert!(ada.email_verified);
    assert!(ada.password_hash.is_none());
    assert_eq!(direct_groups(&gh, "ada").await, ["eng", "ops"]);
    let forgejo = store
        .group_by_name("forgejo")
        .await
        .expect("read")
        .expect("parent");
    let eng = store
        .group_by_name("eng")
        .await
        .expect("read")
        .expect("eng");
    assert_eq!(eng.parent_id, Some(forgejo.id), "created under the parent");
    let links = store.source_connections_of(ada.id).await.expect("links");
    assert_eq!(links.len(), 1);
    assert_eq!(links[0].upstream_id, "101");
    // What subject mode `dex` reads: the upstream id and the source slug (a Dex connector's
    // id after `import dex`), which Dex encoded as this `sub`.
    assert_eq!(ada.attributes["dex_user_id"], "101");
    assert_eq!(ada.attributes["dex_connector_id"], "forgejo");
    assert_eq!(
        gatehouse_oidc::dex::subject("101", "forgejo"),
        "CgMxMDESB2Zvcmdlam8"
    );
    let sessions = store.sessions_of(ada.id).await.expect("sessions");
    assert_eq!(sessions.len(), 1, "signed in");
    assert!(
        sessions[0]
            .auth_methods
            .contains(&gatehouse_core::AuthenticationMethod::Source),
        "{:?}",
        sessions[0].auth_methods
    );

    // Second login: the same user through its link; the sync joins the new upstream group,
    // leaves the one the upstream dropped, and keeps an administrator's membership.
    gh.cli_ok(&["group", "add-member", "staff", "ada"], None);
    directory["ada"]["groups"] = json!(["eng", "qa"]);
    write_accounts(&accounts, &directory);
    sign_in_with(page, &server, "forgejo", "ada").await;
    assert_eq!(current_path(page).await, "/if/user/");
    assert_eq!(direct_groups(&gh, "ada").await, ["eng", "qa", "staff"]);
    let links = store.source_connections_of(ada.id).await.expect("links");
    assert_eq!(links.len(), 1, "the same link");
    assert!(links[0].last_login.is_some());
    let sync_events = gh
        .events()
        .await
        .into_iter()
        .filter(|e| e.context.contains_key("group_sync_left"))
        .count();
    assert!(sync_events >= 2, "each sync that changed groups is audited");

    // An upstream username taken locally is never merged into that user.
    sign_in_with(page, &server, "forgejo", "mallory").await;
    assert_eq!(heading(page).await, "Sign-in refused");
    assert!(
        store
            .source_connection(
                store
                    .source_by_slug("forgejo")
                    .await
                    .expect("read")
                    .expect("source")
                    .id,
                "106"
            )
            .await
            .expect("read")
            .is_none()
    );

    // Email linking: the upstream account joins the local user with its verified address.
    sign_in_with(page, &server, "forgejo-email", "carol").await;
    assert_eq!(current_path(page).await, "/if/user/");
    let (_, link) = only_link(&gh, "carol").await;
    assert_eq!(link.source_slug, "forgejo-email");

    // …but not with an address the upstream has not verified.
    sign_in_with(page, &server, "forgejo-email", "dave").await;
    assert_eq!(heading(page).await, "Sign-in refused");
    let dave = store
        .user_by_username("dave")
        .await
        .expect("read")
        .expect("dave");
    assert!(
        store
            .source_connections_of(dave.id)
            .await
            .expect("links")
            .is_empty()
    );

    // Deny mode: only existing links sign in.
    sign_in_with(page, &server, "forgejo-deny", "eve").await;
    assert_eq!(heading(page).await, "Sign-in refused");
    assert!(store.user_by_username("eve").await.expect("read").is_none());

    // A forged state: the login started in this browser is not the one answered.
    page.delete_all_cookies().await.expect("forget cookies");
    page.goto(&server.url("/source/oauth/login/forgejo/"))
        .await
        .expect("start");
    page.goto(&server.url("/source/oauth/callback/forgejo/?code=forged&state=not-the-one-we-sent"))
        .await
        .expect("forged callback");
    assert_eq!(heading(page).await, "Sign-in refused");
    assert!(
        page.find(Locator::Id("retry")).await.is_ok(),
        "a way to start again"
    );

    // A replayed callback, even with the pending-login cookie it was issued for.
    sign_in_with_cookie_kept(page, &server, &upstream).await;

    // The portal: ada (no password) cannot remove her only link, links a second source
    // from the portal, and may then remove the first.
    page.goto(&server.url("/if/user/")).await.expect("portal");
    let shown = page
        .find(Locator::Id("connection-forgejo"))
        .await
        .expect("the link is listed")
        .text()
        .await
        .expect("text");
    assert!(shown.contains("ada"), "{shown}");
    let remove = page
        .find(Locator::Id("unlink-forgejo"))
        .await
        .expect("remove");
    navigate_by(page, remove).await;
    assert_eq!(heading(page).await, "Cannot remove this link");
    page.goto(&server.url("/if/user/")).await.expect("portal");
    let link = page
        .find(Locator::Id("link-forgejo-email"))
        .await
        .expect("a link button");
    navigate_by(page, link).await;
    // The answer moves on to the upstream by itself (meta refresh).
    let deadline = Instant::now() + Duration::from_secs(15);
    while current_path(page).await.starts_with("/source/oauth/login/") {
        assert!(Instant::now() < deadline, "the link page did not move on");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    if page.find(Locator::Id("login")).await.is_ok() {
        submit_field(page, "login", "ada").await;
    }
    assert_eq!(current_path(page).await, "/if/user/");
    page.find(Locator::Id("connection-forgejo-email"))
        .await
        .expect("the new link is listed");
    let remove = page
        .find(Locator::Id("unlink-forgejo"))
        .await
        .expect("remove");
    navigate_by(page, remove).await;
    assert_eq!(current_path(page).await, "/if/user/");
    let links = store.source_connections_of(ada.id).await.expect("links");
    assert_eq!(links.len(), 1);
    assert_eq!(links[0].source_slug, "forgejo-email");

    let events = gh.events().await;
    assert!(failures_with(&events, "source forgejo: username_taken") >= 1);
    assert!(failures_with(&events, "source forgejo-email: email_not_verified") >= 1);
    assert!(failures_with(&events, "source forgejo-deny: not_linked") >= 1);
    assert!(failures_with(&events, "source forgejo: invalid_state") >= 1);
    assert!(failures_with(&events, "source forgejo: replayed_state") >= 1);
    browser.close().await;
}

/// Signs ada in while keeping a copy of the pending-login cookie, then sends the upstream's
/// answer again with that cookie: the state was spent, so it is refused.
async fn sign_in_with_cookie_kept(page: &fantoccini::Client, server: &Server, upstream: &Upstream) {
    page.delete_all_cookies().await.expect("forget cookies");
    page.goto(&server.url(LOGIN)).await.expect("sign-in page");
    let button = page
        .find(Locator::Id("source-forgejo"))
        .await
        .expect("button");
    navigate_by(page, button).await;
    let pending = page
        .get_named_cookie("gatehouse_source")
        .await
        .expect("the pending-login cookie")
        .value()
        .to_owned();
    submit_field(page, "login", "ada").await;
    assert_eq!(current_path(page).await, "/if/user/");
    let answer = upstream.last_redirect().await;
    assert!(
        answer.contains("/source/oauth/callback/forgejo/?code="),
        "{answer}"
    );
    let replay = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .get(&answer)
        .header("cookie", format!("gatehouse_source={pending}"))
        .send()
        .await
        .expect("replay");
    assert_eq!(replay.status(), reqwest::StatusCode::FORBIDDEN);
}

/// User `username` and its one link to an upstream account.
async fn only_link(
    gh: &Installation,
    username: &str,
) -> (gatehouse_core::User, gatehouse_core::SourceConnection) {
    let store = gh.store().await;
    let user = store
        .user_by_username(username)
        .await
        .expect("read")
        .unwrap_or_else(|| panic!("no user {username}"));
    let mut links = store.source_connections_of(user.id).await.expect("links");
    assert_eq!(links.len(), 1, "{username}: {links:?}");
    (user, links.remove(0))
}

/// The text of element `id` on the current page.
async fn text_of(page: &fantoccini::Client, id: &str) -> String {
    page.find(Locator::Id(id))
        .await
        .unwrap_or_else(|_| panic!("no element {id}"))
        .text()
        .await
        .expect("text")
}

/// Whether `user` has a session that records every one of `methods`.
async fn has_session_with(
    gh: &Installation,
    user: gatehouse_core::UserId,
    methods: &[Method],
) -> bool {
    gh.store()
        .await
        .sessions_of(user)
        .await
        .expect("sessions")
        .iter()
        .any(|s| methods.iter().all(|m| s.auth_methods.contains(m)))
}

/// The value of input `id` on the current page.
async fn input_value(page: &fantoccini::Client, id: &str) -> String {
    page.find(Locator::Id(id))
        .await
        .expect("input")
        .prop("value")
        .await
        .expect("value")
        .unwrap_or_default()
}

/// Clicks the button of `source` on a fresh sign-in page and returns how long Gatehouse took
/// to answer with a page of its own.
async fn click_source(page: &fantoccini::Client, server: &Server, source: &str) -> Duration {
    page.delete_all_cookies().await.expect("forget cookies");
    page.goto(&server.url(LOGIN)).await.expect("sign-in page");
    let button = page
        .find(Locator::Id(&format!("source-{source}")))
        .await
        .expect("a button for the source");
    let started = Instant::now();
    navigate_by(page, button).await;
    started.elapsed()
}

/// Expects the "Sign-in service unavailable" page with its "Try again" link to `source`.
async fn assert_unavailable_page(page: &fantoccini::Client, source: &str) {
    assert_eq!(
        heading(page).await,
        "Sign-in service unavailable",
        "{}",
        page.source().await.expect("source")
    );
    let retry = page
        .find(Locator::Id("retry"))
        .await
        .expect("a retry link")
        .attr("href")
        .await
        .expect("href")
        .expect("a target");
    assert!(
        retry.starts_with(&format!("/source/oauth/login/{source}/")),
        "{retry}"
    );
}

/// The rest of the upstream login (issue 6): username linking, the source's enrollment flow
/// prompting for a taken username (and skipping the prompt when nothing is missing), the
/// authentication flow's TOTP stage after a source login, and an upstream that is down
/// (closed port, a listener that never answers, a token endpoint that never answers).
async fn source_enrollment_mfa_and_upstream_down(backend: Backend) {
    let gh = Installation::new(backend).await;
    gh.cli_ok(
        &["user", "create", "grace", "--email", "grace@example.com"],
        None,
    );
    gh.cli_ok(
        &["user", "create", "carol", "--email", "carol@example.com"],
        None,
    );
    // Accepts connections (the kernel's backlog) and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("a silent listener");
    let silent_base = format!("http://{}", silent.local_addr().expect("addr"));
    let closed_base = format!("http://{}", free_addr());
    let server = Server::start(
        &gh,
        &[
            ("GATEHOUSE_SOURCES__ALLOW_LOOPBACK", "true"),
            ("GATEHOUSE_SOURCES__TIMEOUT_SECS", "2"),
            ("GATEHOUSE_SOURCES__CONNECT_TIMEOUT_SECS", "2"),
        ],
    );
    server.wait_ready().await;
    let accounts_dir = tempfile::tempdir().expect("dir");
    let accounts = accounts_dir.path().join("accounts.json");
    write_accounts(
        &accounts,
        &json!({
            "grace": account("201", "grace", "grace@example.com", true, &[]),
            "carol": account("301", "carol", "carol.up@example.com", true, &[]),
            "ivan": account("302", "ivan", "ivan@example.com", true, &[]),
        }),
    );
    let slugs = ["by-name", "enrol", "token-down"];
    let callbacks: Vec<String> = slugs
        .iter()
        .map(|s| server.url(&format!("/source/oauth/callback/{s}/")))
        .collect();
    let upstream = Upstream::start(&callbacks, &accounts).await;
    create_source(&gh, "by-name", &upstream.base, "username_link", &[]);
    create_source(
        &gh,
        "enrol",
        &upstream.base,
        "identifier",
        &["--enrollment-flow", "default-source-enrollment"],
    );
    let oidc = |slug: &str, discovery: &str, extra: &[&str]| {
        let discovery = format!("{discovery}/.well-known/openid-configuration");
        let mut args = vec![
            "source",
            "create",
            slug,
            "--type",
            "oidc",
            "--discovery-url",
            &discovery,
            "--client-id",
            "gatehouse",
            "--client-secret-stdin",
        ];
        args.extend_from_slice(extra);
        gh.cli_ok(&args, Some(&format!("{SECRET}\n")));
    };
    oidc("closed", &closed_base, &[]);
    oidc("silent", &silent_base, &[]);
    let silent_token = format!("{silent_base}/token");
    oidc(
        "token-down",
        &upstream.base,
        &["--token-url", &silent_token],
    );
    let browser = Browser::start().await;
    let page = &browser.client;
    let store = gh.store().await;

    // Username linking: the local grace gets the upstream grace's link.
    sign_in_with(page, &server, "by-name", "grace").await;
    assert_eq!(current_path(page).await, "/if/user/");
    let (grace, link) = only_link(&gh, "grace").await;
    assert_eq!(link.upstream_id, "201");
    assert_eq!(link.source_slug, "by-name");

    // Signed in through the source, grace sets up an authenticator app…
    let add = page.find(Locator::Id("add-totp")).await.expect("add link");
    navigate_by(page, add).await;
    let secret = text_of(page, "totp-secret").await;
    let step = crate::login::current_step();
    type_into(page, "name", "Phone").await;
    submit_field(page, "code", &crate::login::totp_code(&secret, step)).await;
    assert_eq!(current_path(page).await, "/if/user/");

    // …and from then on a source login asks for a code before the portal.
    sign_in_with(page, &server, "by-name", "grace").await;
    assert_eq!(current_path(page).await, LOGIN);
    page.find(Locator::Id("code"))
        .await
        .expect("the authenticator stage");
    assert!(
        !has_session_with(&gh, grace.id, &[Method::Totp]).await,
        "no session with the second factor before the code"
    );
    submit_field(page, "code", "000000").await;
    assert!(
        page.find(Locator::Id("code")).await.is_ok(),
        "a wrong code is refused"
    );
    assert!(!has_session_with(&gh, grace.id, &[Method::Totp]).await);
    submit_field(page, "code", &crate::login::totp_code(&secret, step + 1)).await;
    assert_eq!(current_path(page).await, "/if/user/");
    assert!(has_session_with(&gh, grace.id, &[Method::Source, Method::Totp]).await);

    // The enrollment flow asks for another username when the upstream's is taken here.
    sign_in_with(page, &server, "enrol", "carol").await;
    assert_eq!(
        current_path(page).await,
        "/if/flow/default-source-enrollment/",
        "{}",
        page.source().await.expect("source")
    );
    let notice = text_of(page, "prompt-notice").await;
    assert!(notice.contains("carol"), "{notice}");
    assert_eq!(input_value(page, "username").await, "");
    assert_eq!(input_value(page, "email").await, "carol.up@example.com");
    assert_eq!(input_value(page, "name").await, "carol upstream");
    submit_field(page, "username", "carol").await;
    let error = text_of(page, "username-error").await;
    assert!(error.contains("taken"), "{error}");
    submit_field(page, "username", "carol2").await;
    assert_eq!(current_path(page).await, "/if/user/");
    let (carol2, link) = only_link(&gh, "carol2").await;
    assert_eq!(link.upstream_id, "301");
    assert_eq!(link.upstream_username.as_deref(), Some("carol"));
    assert_eq!(carol2.email.as_deref(), Some("carol.up@example.com"));
    assert!(carol2.email_verified, "the address the upstream verified");
    assert_eq!(carol2.attributes["dex_user_id"], "301");
    let carol = store
        .user_by_username("carol")
        .await
        .expect("read")
        .expect("carol");
    assert!(
        store
            .source_connections_of(carol.id)
            .await
            .expect("links")
            .is_empty(),
        "the local carol is never merged"
    );
    assert!(
        has_session_with(&gh, carol2.id, &[Method::Source]).await,
        "signed in"
    );
    // The next login uses the link.
    sign_in_with(page, &server, "enrol", "carol").await;
    assert_eq!(current_path(page).await, "/if/user/");

    // Nothing missing: the prompt is skipped and the account created from the claims.
    sign_in_with(page, &server, "enrol", "ivan").await;
    assert_eq!(current_path(page).await, "/if/user/");
    assert_eq!(only_link(&gh, "ivan").await.1.upstream_id, "302");

    // The enrollment flow is only reachable from a source login.
    page.delete_all_cookies().await.expect("forget cookies");
    page.goto(&server.url("/if/flow/default-source-enrollment/"))
        .await
        .expect("direct visit");
    assert_eq!(heading(page).await, "Access denied");
    assert!(page.find(Locator::Id("username")).await.is_err());

    // Upstream down: a closed port, a listener that never answers, and a token endpoint
    // that never answers each give the retry page within the configured timeout.
    let took = click_source(page, &server, "closed").await;
    assert_unavailable_page(page, "closed").await;
    assert!(took < Duration::from_secs(5), "{took:?}");
    let took = click_source(page, &server, "silent").await;
    assert_unavailable_page(page, "silent").await;
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(8),
        "bounded by the 2 s timeout: {took:?}"
    );
    click_source(page, &server, "token-down").await;
    type_into(page, "login", "ivan").await;
    let started = Instant::now();
    press_submit(page).await;
    let took = started.elapsed();
    assert_unavailable_page(page, "token-down").await;
    assert!(took < Duration::from_secs(10), "{took:?}");
    drop(silent);

    let events = gh.events().await;
    assert!(
        failures_with(&events, "source closed").max(failures_with(&events, "source silent")) == 0,
        "an unreachable upstream is not a refused login"
    );
    browser.close().await;
}

on_both_backends!(
    sign_in_through_an_upstream_source,
    source_enrollment_mfa_and_upstream_down
);
