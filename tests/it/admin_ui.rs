//! The admin UI (`/if/admin/`), as issue 5 asks. In headless Chromium an administrator
//! signs in, creates a group and a user, puts the user in the group and creates an OIDC
//! application limited to that group through the guided form; then that user signs in at
//! the application through panva's openid-client (a real relying party, with the values the
//! form's last page showed) and a user outside the group is turned away. Over plain HTTP: an
//! auditor reads every list but each write answers 403 and changes nothing, destructive
//! actions need the server-side confirmation, forms need their CSRF token, and a signed-out
//! browser is sent to sign in and back.

use crate::oidc::{PASSWORD, client, location, relying_party, sign_in_with};
use crate::oidc_browser::{browser_login, callback_listener};
use crate::pages::{current_path, navigate_by, submit_field, type_into};
use crate::support::browser::Browser;
use crate::support::forms::csrf_of;
use crate::support::server::{Backend, Installation, Server};
use fantoccini::Locator;
use reqwest::StatusCode;

/// Clicks the element with `id` and waits for the next page.
pub(crate) async fn click(page: &fantoccini::Client, id: &str) {
    let element = page
        .find(Locator::Id(id))
        .await
        .unwrap_or_else(|_| panic!("no #{id} on the page"));
    navigate_by(page, element).await;
}

/// The text of the element with `id`.
pub(crate) async fn text_of(page: &fantoccini::Client, id: &str) -> String {
    page.find(Locator::Id(id))
        .await
        .unwrap_or_else(|_| panic!("no #{id} on the page"))
        .text()
        .await
        .expect("text")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_journey_in_chromium_ends_with_a_real_relying_party() {
    admin_journey(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_journey_in_chromium_on_postgres() {
    admin_journey(Backend::Postgres).await;
}

async fn admin_journey(backend: Backend) {
    let gh = Installation::new(backend).await;
    gh.cli_ok(
        &["user", "create", "dave", "--password-stdin"],
        Some("an outsider's passphrase\n"),
    );
    let server = Server::start(&gh, &[("GATEHOUSE_BOOTSTRAP_PASSWORD", PASSWORD)]);
    server.wait_ready().await;
    let browser = Browser::start().await;
    let page = &browser.client;

    // Signed out, the admin UI sends the browser to sign in, and back afterwards.
    page.goto(&server.url("/if/admin/groups/"))
        .await
        .expect("open the admin UI");
    assert_eq!(
        current_path(page).await,
        "/if/flow/default-authentication-flow/"
    );
    submit_field(page, "uid", "admin").await;
    submit_field(page, "password", PASSWORD).await;
    assert_eq!(current_path(page).await, "/if/admin/groups/");

    // A group.
    click(page, "new-group").await;
    submit_field(page, "name", "wiki-users").await;
    assert_eq!(text_of(page, "heading").await, "wiki-users");
    assert_eq!(text_of(page, "notice").await, "Group created.");

    // A user; a weak password is refused next to its field and the typed values stay.
    page.goto(&server.url("/if/admin/users/new/"))
        .await
        .expect("new user form");
    type_into(page, "username", "carol").await;
    type_into(page, "name", "Carol Example").await;
    type_into(page, "email", "carol@example.com").await;
    type_into(page, "password", "short").await;
    click(page, "create").await;
    assert!(
        text_of(page, "password-error")
            .await
            .contains("at least 10 characters")
    );
    let kept = page
        .find(Locator::Id("username"))
        .await
        .expect("field")
        .prop("value")
        .await
        .expect("value");
    assert_eq!(kept.as_deref(), Some("carol"));
    type_into(page, "password", "a wiki reader's passphrase").await;
    click(page, "create").await;
    assert_eq!(text_of(page, "heading").await, "carol");
    assert_eq!(text_of(page, "notice").await, "User created.");

    // Into the group, from the user's page; an unknown group is named next to the field.
    type_into(page, "group", "no-such-group").await;
    click(page, "add-group").await;
    assert!(
        text_of(page, "group-error")
            .await
            .contains("no group named \"no-such-group\"")
    );
    type_into(page, "group", "wiki-users").await;
    click(page, "add-group").await;
    assert_eq!(text_of(page, "notice").await, "Added to the group.");
    assert!(text_of(page, "user-groups").await.contains("wiki-users"));

    // An OIDC application limited to that group, through the guided form.
    let (base, mut callbacks) = callback_listener().await;
    let redirect = format!("{base}/login/generic_oauth");
    page.goto(&server.url("/if/admin/applications/"))
        .await
        .expect("applications");
    click(page, "new-application").await;
    type_into(page, "name", "Wiki").await;
    type_into(page, "slug", "wiki").await;
    type_into(page, "redirect_uris", &redirect).await;
    type_into(page, "allowed_groups", "wiki-users").await;
    click(page, "create").await;
    assert_eq!(text_of(page, "heading").await, "Application created");
    let issuer = text_of(page, "issuer").await;
    assert_eq!(issuer, server.url("/application/o/wiki/"));
    assert_eq!(
        text_of(page, "discovery").await,
        format!("{issuer}.well-known/openid-configuration")
    );
    let client_id = text_of(page, "client-id").await;
    assert_eq!(client_id, "wiki");
    let secret = text_of(page, "client-secret").await;
    assert!(secret.len() >= 32, "a generated secret: {secret}");
    // The application's own page never shows the secret again.
    click(page, "done").await;
    assert_eq!(text_of(page, "allowed-groups").await, "wiki-users");
    assert!(!page.source().await.expect("source").contains(&secret));

    // Carol signs in at the application through openid-client; the ID token is hers.
    page.delete_all_cookies().await.expect("sign the admin out");
    let start = relying_party(&["start", &issuer, &client_id, &secret, &redirect, "{}"]);
    let url = start["url"].as_str().expect("url");
    let callback = browser_login(
        page,
        (url, false),
        Some("carol"),
        "a wiki reader's passphrase",
        &base,
        &mut callbacks,
    )
    .await;
    let result = relying_party(&[
        "redeem",
        &issuer,
        &client_id,
        &secret,
        &callback,
        start["state"].as_str().expect("state"),
        start["nonce"].as_str().expect("nonce"),
        start["verifier"].as_str().expect("verifier"),
        "",
    ]);
    assert_eq!(result["claims"]["preferred_username"], "carol", "{result}");
    assert_eq!(result["claims"]["aud"], "wiki");
    assert_eq!(result["claims"]["iss"], issuer.as_str());

    // Dave is not in the group: after signing in he is turned away, the RP hears nothing.
    page.delete_all_cookies().await.expect("sign carol out");
    let start = relying_party(&["start", &issuer, &client_id, &secret, &redirect, "{}"]);
    page.goto(start["url"].as_str().expect("url"))
        .await
        .expect("authorization URL");
    submit_field(page, "uid", "dave").await;
    submit_field(page, "password", "an outsider's passphrase").await;
    let denied = page.find(Locator::Css("h1")).await.expect("heading");
    assert_eq!(denied.text().await.expect("text"), "Access denied");
    assert!(
        tokio::time::timeout(std::time::Duration::from_secs(1), callbacks.recv())
            .await
            .is_err(),
        "the RP must not be called for a user outside the group"
    );
    browser.close().await;
}

/// Signs `username` in over HTTP, starting at `path` of the admin UI, and checks the flow
/// sends the browser back there.
async fn signed_in(server: &Server, username: &str, password: &str, path: &str) -> reqwest::Client {
    let http = client();
    let back = sign_in_with(
        server,
        &http,
        &server.url(path),
        &[("uid", username), ("password", password)],
    )
    .await;
    assert_eq!(back, path, "the sign-in flow returns to the admin page");
    http
}

async fn get_page(http: &reqwest::Client, server: &Server, path: &str) -> (StatusCode, String) {
    let response = http.get(server.url(path)).send().await.expect("GET");
    let status = response.status();
    (status, response.text().await.expect("body"))
}

async fn post_form(
    http: &reqwest::Client,
    server: &Server,
    path: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    http.post(server.url(path))
        .form(fields)
        .send()
        .await
        .expect("POST")
}

crate::on_both_backends!(
    auditors_read_every_list_and_every_write_is_refused,
    overview_events_flows_and_keys_pages,
    tokens_are_created_shown_once_used_and_revoked,
    invitations_are_created_opened_and_deleted,
    group_roles_and_attributes_only_superusers_grant_roles,
    worker_heartbeat_shows_on_the_overview_and_goes_stale,
);

async fn auditors_read_every_list_and_every_write_is_refused(backend: Backend) {
    let gh = Installation::new(backend).await;
    gh.cli_ok(&["group", "create", "staff"], None);
    gh.cli_ok(
        &[
            "user",
            "create",
            "plain",
            "--group",
            "staff",
            "--password-stdin",
        ],
        Some("a quiet morning passphrase\n"),
    );
    let server = Server::start(&gh, &[("GATEHOUSE_BOOTSTRAP_PASSWORD", PASSWORD)]);
    server.wait_ready().await;

    // The administrator makes an auditor through the UI.
    let admin = signed_in(&server, "admin", PASSWORD, "/if/admin/groups/new/").await;
    let (_, form) = get_page(&admin, &server, "/if/admin/groups/new/").await;
    let csrf = csrf_of(&form);
    // Roles are a group attribute, set where attributes are set: the API (here with the
    // same session and its CSRF token in the header) or `apply`.
    let created = admin
        .post(server.url("/api/v3/core/groups/"))
        .header("x-csrf-token", &csrf)
        .json(&serde_json::json!({
            "name": "auditors",
            "attributes": {"gatehouse_admin_roles": ["auditor"]}
        }))
        .send()
        .await
        .expect("POST");
    assert_eq!(created.status(), StatusCode::CREATED);
    let created = post_form(
        &admin,
        &server,
        "/if/admin/users/",
        &[
            ("csrf", &csrf),
            ("username", "audrey"),
            ("groups", "auditors"),
            ("password", "a careful reviewer's passphrase"),
            ("active", "yes"),
        ],
    )
    .await;
    assert_eq!(
        created.status(),
        StatusCode::SEE_OTHER,
        "{}",
        created.text().await.unwrap_or_default()
    );
    let plain_id = {
        let (_, list) = get_page(&admin, &server, "/if/admin/users/?search=plain").await;
        let start = list.find("/if/admin/users/").expect("a user link") + 16;
        let rest = &list[start..];
        let mut ids = rest
            .split("/if/admin/users/")
            .filter_map(|s| s.split('/').next());
        ids.find(|id| id.len() == 36 && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-'))
            .expect("plain's id")
            .to_owned()
    };

    // Without a session: to the sign-in flow, with the way back.
    let (status, _) = get_page(&client(), &server, "/if/admin/users/").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let anonymous = client()
        .get(server.url("/if/admin/users/?search=a"))
        .send()
        .await
        .expect("GET");
    assert_eq!(
        location(&anonymous),
        "/if/flow/default-authentication-flow/?next=%2Fif%2Fadmin%2Fusers%2F%3Fsearch%3Da"
    );

    // A user without an administrative role: 403.
    let plain = client();
    let back = sign_in_with(
        &server,
        &plain,
        &server.url("/if/admin/"),
        &[("uid", "plain"), ("password", "a quiet morning passphrase")],
    )
    .await;
    assert_eq!(back, "/if/admin/");
    let (status, body) = get_page(&plain, &server, "/if/admin/").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("no administrative role"), "{body}");

    // The auditor reads every list and detail, without write controls.
    let audrey = signed_in(
        &server,
        "audrey",
        "a careful reviewer's passphrase",
        "/if/admin/",
    )
    .await;
    for path in [
        "/if/admin/",
        "/if/admin/events/?action=login",
        "/if/admin/keys/",
        "/if/admin/flows/",
        "/if/admin/flows/default-authentication-flow/",
        "/if/admin/users/",
        "/if/admin/users/?search=pla&ordering=-username&page=1",
        &format!("/if/admin/users/{plain_id}/"),
        "/if/admin/groups/",
        "/if/admin/applications/",
        "/if/admin/tokens/",
        "/if/admin/invitations/",
    ] {
        let (status, body) = get_page(&audrey, &server, path).await;
        assert_eq!(status, StatusCode::OK, "auditor GET {path}: {body}");
        for control in [
            "id=\"new-user\"",
            "id=\"new-group\"",
            "id=\"delete-user\"",
            "id=\"set-password\"",
            "id=\"rotate\"",
            "id=\"new-token\"",
            "id=\"new-invitation\"",
        ] {
            assert!(!body.contains(control), "{path} shows {control}");
        }
    }
    let (_, users) = get_page(&audrey, &server, "/if/admin/users/?search=pla").await;
    assert!(
        users.contains(">plain</a>") && !users.contains(">admin</a>"),
        "{users}"
    );
    assert!(users.contains("id=\"read-only\""), "a read-only banner");

    // Every write is refused by the services, whatever the page showed (the read-only
    // details form still carries this browser's CSRF token).
    let user_page = format!("/if/admin/users/{plain_id}/");
    let (_, details) = get_page(&audrey, &server, &user_page).await;
    let csrf = csrf_of(&details);
    for (path, fields) in [
        ("/if/admin/users/".to_owned(), vec![("username", "mallory")]),
        (
            user_page.clone(),
            vec![("name", "Renamed"), ("active", "yes")],
        ),
        (
            format!("{user_page}password/"),
            vec![("password", "a brand new passphrase")],
        ),
        (format!("{user_page}delete/"), vec![("confirm", "yes")]),
        ("/if/admin/groups/".to_owned(), vec![("name", "sneaky")]),
        (
            "/if/admin/applications/".to_owned(),
            vec![
                ("name", "App"),
                ("slug", "app"),
                ("consent_mode", "implicit"),
            ],
        ),
        (
            "/if/admin/keys/rotate/".to_owned(),
            vec![("alg", "RS256"), ("confirm", "yes")],
        ),
        (
            "/if/admin/keys/import/".to_owned(),
            vec![("pem", "refused before it is read")],
        ),
        (
            "/if/admin/tokens/".to_owned(),
            vec![("user", "plain"), ("description", "sneaky")],
        ),
        (
            "/if/admin/invitations/".to_owned(),
            vec![("flow", "default-enrollment-flow")],
        ),
    ] {
        let mut form = vec![("csrf", csrf.as_str())];
        form.extend(fields);
        let response = post_form(&audrey, &server, &path, &form).await;
        assert_eq!(
            response.status(),
            StatusCode::FORBIDDEN,
            "auditor POST {path}"
        );
        let body = response.text().await.expect("body");
        assert!(body.contains("your roles do not allow"), "{body}");
    }
    let listed = gh.cli_ok(&["user", "list"], None);
    assert!(
        listed.contains("plain") && !listed.contains("mallory"),
        "{listed}"
    );
    let groups = gh.cli_ok(&["group", "list"], None);
    assert!(!groups.contains("sneaky"), "{groups}");

    // The administrator: no CSRF token, no change; deletion needs the confirmation.
    let response = post_form(
        &admin,
        &server,
        &format!("{user_page}delete/"),
        &[("confirm", "yes")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let (_, page) = get_page(&admin, &server, &user_page).await;
    let csrf = csrf_of(&page);
    let response = post_form(
        &admin,
        &server,
        &format!("{user_page}delete/"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.text().await.expect("body");
    assert!(body.contains("id=\"confirm-message\""), "{body}");
    assert!(gh.cli_ok(&["user", "list"], None).contains("plain"));
    let response = post_form(
        &admin,
        &server,
        &format!("{user_page}delete/"),
        &[("csrf", &csrf), ("confirm", "yes")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(!gh.cli_ok(&["user", "list"], None).contains("plain"));
}

async fn overview_events_flows_and_keys_pages(backend: Backend) {
    let gh = Installation::new(backend).await;
    let server = Server::start(&gh, &[("GATEHOUSE_BOOTSTRAP_PASSWORD", PASSWORD)]);
    server.wait_ready().await;
    let admin = signed_in(&server, "admin", PASSWORD, "/if/admin/").await;

    // The overview counts today's sign-in (the one just made) in its chart and table.
    let (status, overview) = get_page(&admin, &server, "/if/admin/").await;
    assert_eq!(status, StatusCode::OK, "{overview}");
    assert!(overview.contains("<svg id=\"sign-in-chart\""), "{overview}");
    let today = format!("{}: ", chrono::Utc::now().format("%m-%d"));
    let signed_in_today: u64 = overview
        .split(&today)
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .expect("today's bar");
    assert!(signed_in_today >= 1, "{overview}");
    assert!(
        overview.contains("id=\"health-database\">reachable"),
        "{overview}"
    );

    // Events filter by action and user; a bad filter is named next to its field.
    let (status, events) =
        get_page(&admin, &server, "/if/admin/events/?action=login&user=admin").await;
    assert_eq!(status, StatusCode::OK);
    assert!(events.contains("<td>login</td><td>admin</td>"), "{events}");
    let (status, none) = get_page(&admin, &server, "/if/admin/events/?action=login_failed").await;
    assert_eq!(status, StatusCode::OK);
    assert!(none.contains("No event matches."), "{none}");
    let (status, bad) = get_page(&admin, &server, "/if/admin/events/?user=nobody&since=soon").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        bad.contains("id=\"user-error\">no user named &#34;nobody&#34;")
            || bad.contains("id=\"user-error\">no user named &quot;nobody&quot;"),
        "{bad}"
    );
    let (status, bad) = get_page(&admin, &server, "/if/admin/events/?since=soon").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(bad.contains("id=\"since-error\""), "{bad}");

    // Flows show their stages in order.
    let (_, flow) = get_page(
        &admin,
        &server,
        "/if/admin/flows/default-authentication-flow/",
    )
    .await;
    assert!(flow.contains("<ol class=\"stages\">"), "{flow}");
    let (status, _) = get_page(&admin, &server, "/if/admin/flows/no-such-flow/").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Rotating a key: confirmation first, then a new active key and the old one retired.
    let (_, keys) = get_page(&admin, &server, "/if/admin/keys/").await;
    let active_before = keys.matches("active: signs new tokens").count();
    let csrf = csrf_of(&keys);
    let asked = post_form(
        &admin,
        &server,
        "/if/admin/keys/rotate/",
        &[("csrf", &csrf), ("alg", "RS256")],
    )
    .await;
    assert_eq!(asked.status(), StatusCode::OK);
    assert!(
        asked
            .text()
            .await
            .expect("body")
            .contains("id=\"confirm-message\"")
    );
    let done = post_form(
        &admin,
        &server,
        "/if/admin/keys/rotate/",
        &[("csrf", &csrf), ("alg", "RS256"), ("confirm", "yes")],
    )
    .await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    let (_, keys) = get_page(&admin, &server, "/if/admin/keys/?rotated=1").await;
    assert!(keys.contains("Key rotated."), "{keys}");
    assert_eq!(
        keys.matches("active: signs new tokens").count(),
        active_before.max(1)
    );
    if active_before > 0 {
        assert!(keys.contains("retired: published until"), "{keys}");
    }

    // Importing a key OpenSSL made: a refusal names the field and keeps the name typed; the
    // key itself is never echoed back into the page.
    let refused = posted(
        &admin,
        &server,
        "/if/admin/keys/import/",
        &[("csrf", &csrf), ("pem", "not a key"), ("name", "from-dex")],
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(element_text(&refused, "pem-error").contains("no private key found"));
    assert!(refused.contains("value=\"from-dex\""), "{refused}");
    let made = std::process::Command::new("openssl")
        .args(["genpkey", "-algorithm", "ed25519"])
        .output()
        .expect("run openssl (Debian package openssl)");
    let pem = String::from_utf8(made.stdout).expect("PEM");
    posted(
        &admin,
        &server,
        "/if/admin/keys/import/",
        &[("csrf", &csrf), ("pem", &pem), ("name", "from-dex")],
        StatusCode::SEE_OTHER,
    )
    .await;
    let (_, keys) = get_page(
        &admin,
        &server,
        "/if/admin/keys/?imported=1&search=from-dex",
    )
    .await;
    assert!(keys.contains("Key imported"), "{keys}");
    assert!(keys.contains("<td>from-dex</td><td>"), "{keys}");
    assert!(keys.contains("<td>EdDSA</td>"), "{keys}");
    assert!(
        !keys.contains("PRIVATE KEY-----"),
        "the key never reaches a page"
    );
}

/// Posts `fields` to `path`, checks the answer's status and returns its body.
async fn posted(
    http: &reqwest::Client,
    server: &Server,
    path: &str,
    fields: &[(&str, &str)],
    status: StatusCode,
) -> String {
    let response = post_form(http, server, path, fields).await;
    let got = response.status();
    let body = response.text().await.expect("body");
    assert_eq!(got, status, "POST {path}: {body}");
    body
}

/// The text of the element with `id` in `html` (up to the next tag).
fn element_text<'a>(html: &'a str, id: &str) -> &'a str {
    let marker = format!("id=\"{id}\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no #{id} in {html}"));
    let rest = &html[start..];
    let open = rest.find('>').expect("tag end") + 1;
    let rest = &rest[open..];
    &rest[..rest.find('<').expect("next tag")]
}

async fn tokens_are_created_shown_once_used_and_revoked(backend: Backend) {
    let gh = Installation::new(backend).await;
    gh.cli_ok(
        &["user", "create", "robot", "--type", "service_account"],
        None,
    );
    let server = Server::start(&gh, &[("GATEHOUSE_BOOTSTRAP_PASSWORD", PASSWORD)]);
    server.wait_ready().await;
    let admin = signed_in(&server, "admin", PASSWORD, "/if/admin/tokens/").await;
    let (status, list) = get_page(&admin, &server, "/if/admin/tokens/").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert!(list.contains("No token matches."), "{list}");
    let (status, form) = get_page(&admin, &server, "/if/admin/tokens/new/?user=admin").await;
    assert_eq!(status, StatusCode::OK, "{form}");
    assert!(
        form.contains("id=\"user\" name=\"user\" value=\"admin\""),
        "{form}"
    );
    let csrf = csrf_of(&form);

    // Bad input comes back next to its field, with the values kept.
    let body = posted(
        &admin,
        &server,
        "/if/admin/tokens/",
        &[
            ("csrf", &csrf),
            ("user", "admin"),
            ("kind", "api"),
            ("description", " "),
            ("expires_at", "2001-01-01T00:00"),
        ],
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(body.contains("id=\"description-error\""), "{body}");
    assert!(body.contains("value=\"2001-01-01T00:00\""), "{body}");
    let body = posted(
        &admin,
        &server,
        "/if/admin/tokens/",
        &[
            ("csrf", &csrf),
            ("user", "admin"),
            ("kind", "api"),
            ("description", "too late"),
            ("expires_at", "2001-01-01T00:00"),
        ],
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(
        element_text(&body, "expires_at-error").contains("in the future"),
        "{body}"
    );
    let body = posted(
        &admin,
        &server,
        "/if/admin/tokens/",
        &[
            ("csrf", &csrf),
            ("user", "admin"),
            ("kind", "app_password"),
            ("description", "not for people"),
        ],
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(
        element_text(&body, "user-error").contains("only work for service accounts"),
        "{body}"
    );
    assert!(body.contains("value=\"not for people\""), "{body}");

    // An API token: the secret is on the result page, once, and works as a bearer token.
    let body = posted(
        &admin,
        &server,
        "/if/admin/tokens/",
        &[
            ("csrf", &csrf),
            ("user", "admin"),
            ("kind", "api"),
            ("description", "deploy pipeline"),
        ],
        StatusCode::CREATED,
    )
    .await;
    let secret = element_text(&body, "token-secret").to_owned();
    assert!(secret.len() >= 32, "{body}");
    let bearer = |key: String| {
        let url = server.url("/api/v3/core/users/?search=robot");
        async move {
            reqwest::Client::new()
                .get(url)
                .bearer_auth(key)
                .send()
                .await
                .expect("API call")
        }
    };
    let answer = bearer(secret.clone()).await;
    assert_eq!(answer.status(), StatusCode::OK);
    let users: serde_json::Value = answer.json().await.expect("JSON");
    assert_eq!(users["results"][0]["username"], "robot", "{users}");

    // An app password for the service account.
    let body = posted(
        &admin,
        &server,
        "/if/admin/tokens/",
        &[
            ("csrf", &csrf),
            ("user", "robot"),
            ("kind", "app_password"),
            ("description", "metrics scraper"),
        ],
        StatusCode::CREATED,
    )
    .await;
    let app_password = element_text(&body, "token-secret").to_owned();

    // The list shows both, never a secret; search and the user filter narrow it.
    let (_, list) = get_page(&admin, &server, "/if/admin/tokens/").await;
    assert!(
        list.contains("deploy pipeline") && list.contains("metrics scraper"),
        "{list}"
    );
    assert!(list.contains("<td>app password</td>") && list.contains("<td>API token</td>"));
    assert!(!list.contains(&secret) && !list.contains(&app_password));
    let (_, list) = get_page(&admin, &server, "/if/admin/tokens/?search=deploy").await;
    assert!(
        list.contains("deploy pipeline") && !list.contains("metrics scraper"),
        "{list}"
    );
    let (_, list) = get_page(&admin, &server, "/if/admin/tokens/?user=robot").await;
    assert!(
        !list.contains("deploy pipeline") && list.contains("metrics scraper"),
        "{list}"
    );
    let (status, list) = get_page(&admin, &server, "/if/admin/tokens/?user=nobody").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(list.contains("id=\"user-error\""), "{list}");

    // Revoking asks first; once confirmed the bearer token stops working.
    let (_, list) = get_page(&admin, &server, "/if/admin/tokens/?search=deploy").await;
    let start = list
        .find("action=\"/if/admin/tokens/")
        .expect("a revoke form")
        + 8;
    let action = list[start..].split('"').next().expect("action").to_owned();
    assert!(action.ends_with("/delete/"), "{action}");
    let body = posted(&admin, &server, &action, &[("csrf", &csrf)], StatusCode::OK).await;
    assert!(
        element_text(&body, "confirm-message").contains("deploy pipeline"),
        "{body}"
    );
    assert_eq!(bearer(secret.clone()).await.status(), StatusCode::OK);
    let done = post_form(
        &admin,
        &server,
        &action,
        &[("csrf", &csrf), ("confirm", "yes")],
    )
    .await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&done), "/if/admin/tokens/?done=revoked");
    assert_eq!(bearer(secret).await.status(), StatusCode::UNAUTHORIZED);
    let (_, list) = get_page(&admin, &server, "/if/admin/tokens/?done=revoked").await;
    assert!(list.contains("Token revoked."), "{list}");
    assert!(
        !list.contains("deploy pipeline") && list.contains("metrics scraper"),
        "{list}"
    );
}

async fn invitations_are_created_opened_and_deleted(backend: Backend) {
    let gh = Installation::new(backend).await;
    gh.cli_ok(&["group", "create", "staff"], None);
    let server = Server::start(&gh, &[("GATEHOUSE_BOOTSTRAP_PASSWORD", PASSWORD)]);
    server.wait_ready().await;
    let admin = signed_in(&server, "admin", PASSWORD, "/if/admin/invitations/new/").await;
    let (status, form) = get_page(&admin, &server, "/if/admin/invitations/new/").await;
    assert_eq!(status, StatusCode::OK, "{form}");
    assert!(
        form.contains("<option value=\"default-enrollment-flow\" selected>"),
        "{form}"
    );
    let csrf = csrf_of(&form);

    // Unknown groups and flows are named next to their fields; typed values stay.
    let body = posted(
        &admin,
        &server,
        "/if/admin/invitations/",
        &[
            ("csrf", &csrf),
            ("flow", "default-enrollment-flow"),
            ("email", "new@example.com"),
            ("groups", "staff, nope"),
        ],
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(
        element_text(&body, "groups-error").contains("no group named"),
        "{body}"
    );
    assert!(body.contains("value=\"new@example.com\""), "{body}");
    let body = posted(
        &admin,
        &server,
        "/if/admin/invitations/",
        &[("csrf", &csrf), ("flow", "no-such-flow")],
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(body.contains("id=\"flow-error\""), "{body}");

    // Created: the link is shown once and opens the enrollment form with the fixed email.
    let body = posted(
        &admin,
        &server,
        "/if/admin/invitations/",
        &[
            ("csrf", &csrf),
            ("flow", "default-enrollment-flow"),
            ("email", "new@example.com"),
            ("groups", "staff"),
        ],
        StatusCode::CREATED,
    )
    .await;
    let link = element_text(&body, "invitation-link").to_owned();
    let path = &link[link.find("/if/flow/").expect("a flow link")..];
    let token = path.split("itoken=").nth(1).expect("token").to_owned();
    let visitor = client();
    let (status, page) = get_page(&visitor, &server, path).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(
        page.contains(r#"value="new@example.com" autocomplete="email" required readonly"#),
        "{page}"
    );

    // The list shows it without its link; deleting asks first, then the link is dead.
    let (_, list) = get_page(&admin, &server, "/if/admin/invitations/?search=new@").await;
    assert!(
        list.contains("new@example.com") && list.contains("<td>staff</td>"),
        "{list}"
    );
    assert!(!list.contains(&token));
    let start = list
        .find("action=\"/if/admin/invitations/")
        .expect("a delete form")
        + 8;
    let action = list[start..].split('"').next().expect("action").to_owned();
    let body = posted(&admin, &server, &action, &[("csrf", &csrf)], StatusCode::OK).await;
    assert!(body.contains("id=\"confirm-message\""), "{body}");
    posted(
        &admin,
        &server,
        &action,
        &[("csrf", &csrf), ("confirm", "yes")],
        StatusCode::SEE_OTHER,
    )
    .await;
    let (_, list) = get_page(&admin, &server, "/if/admin/invitations/?done=deleted").await;
    assert!(
        list.contains("Invitation deleted.") && list.contains("No invitation matches."),
        "{list}"
    );
    let (status, _) = get_page(&client(), &server, path).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// The id in the first link to `/if/admin/groups/<id>/` after `name`'s row starts.
fn group_id_in(list: &str, name: &str) -> String {
    let row = list
        .find(&format!(">{name}</a>"))
        .unwrap_or_else(|| panic!("no {name} in {list}"));
    let start = list[..row]
        .rfind("/if/admin/groups/")
        .expect("the group link")
        + "/if/admin/groups/".len();
    list[start..].split('/').next().expect("id").to_owned()
}

async fn group_roles_and_attributes_only_superusers_grant_roles(backend: Backend) {
    let gh = Installation::new(backend).await;
    for group in ["reviewers", "managers", "staff"] {
        gh.cli_ok(&["group", "create", group], None);
    }
    for (user, group) in [("audrey", "reviewers"), ("umar", "managers")] {
        gh.cli_ok(
            &["user", "create", user, "--group", group, "--password-stdin"],
            Some("a long enough passphrase\n"),
        );
    }
    let server = Server::start(&gh, &[("GATEHOUSE_BOOTSTRAP_PASSWORD", PASSWORD)]);
    server.wait_ready().await;
    let admin = signed_in(&server, "admin", PASSWORD, "/if/admin/groups/").await;
    let (_, list) = get_page(&admin, &server, "/if/admin/groups/").await;
    let ids: Vec<String> = ["reviewers", "managers", "staff"]
        .iter()
        .map(|name| group_id_in(&list, name))
        .collect();
    let page_of = |i: usize| format!("/if/admin/groups/{}/", ids[i]);
    let attributes_of = |i: usize| format!("/if/admin/groups/{}/attributes/", ids[i]);
    let (_, page) = get_page(&admin, &server, &page_of(0)).await;
    assert!(
        page.contains("id=\"role-auditor\" name=\"role\" value=\"auditor\">"),
        "{page}"
    );
    let csrf = csrf_of(&page);

    // Bad JSON is named next to the field and kept; nothing changes.
    let body = posted(
        &admin,
        &server,
        &attributes_of(0),
        &[
            ("csrf", &csrf),
            ("role", "auditor"),
            ("attributes", "{\"team\": "),
        ],
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(
        element_text(&body, "attributes-error").contains("not valid JSON"),
        "{body}"
    );
    assert!(
        body.contains("{&#34;team&#34;: </textarea>")
            || body.contains("{&quot;team&quot;: </textarea>"),
        "{body}"
    );

    // The superuser grants roles with the checkboxes and sets other attributes as JSON.
    for (group, role, json) in [
        (0, "auditor", "{\"team\": \"qa\"}"),
        (1, "user_manager", ""),
    ] {
        posted(
            &admin,
            &server,
            &attributes_of(group),
            &[("csrf", &csrf), ("role", role), ("attributes", json)],
            StatusCode::SEE_OTHER,
        )
        .await;
    }
    let (_, page) = get_page(&admin, &server, &format!("{}?done=attributes", page_of(0))).await;
    assert!(page.contains("Roles and attributes saved."), "{page}");
    assert!(
        page.contains("id=\"role-auditor\" name=\"role\" value=\"auditor\" checked"),
        "{page}"
    );
    assert!(
        page.contains("&#34;team&#34;: &#34;qa&#34;")
            || page.contains("&quot;team&quot;: &quot;qa&quot;"),
        "{page}"
    );
    let api: serde_json::Value = admin
        .get(server.url(&format!("/api/v3/core/groups/{}/", ids[0])))
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("JSON");
    assert_eq!(
        api["attributes"],
        serde_json::json!({"team": "qa", "gatehouse_admin_roles": ["auditor"]}),
        "{api}"
    );

    // The role took effect: audrey is now an auditor, who may change no group's roles.
    let audrey = signed_in(&server, "audrey", "a long enough passphrase", "/if/admin/").await;
    let (status, page) = get_page(&audrey, &server, &page_of(2)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(!page.contains("id=\"save-attributes\""), "{page}");
    posted(
        &audrey,
        &server,
        &attributes_of(2),
        &[
            ("csrf", &csrf_of(&page)),
            ("role", "auditor"),
            ("attributes", "{}"),
        ],
        StatusCode::FORBIDDEN,
    )
    .await;

    // A user manager may set a plain group's other attributes, but grant no role.
    let umar = signed_in(&server, "umar", "a long enough passphrase", "/if/admin/").await;
    let (status, page) = get_page(&umar, &server, &page_of(2)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("only superusers grant roles"), "{page}");
    let umar_csrf = csrf_of(&page);
    let body = posted(
        &umar,
        &server,
        &attributes_of(2),
        &[
            ("csrf", &umar_csrf),
            ("role", "user_manager"),
            ("attributes", "{}"),
        ],
        StatusCode::FORBIDDEN,
    )
    .await;
    assert!(body.contains("only superusers may"), "{body}");
    posted(
        &umar,
        &server,
        &attributes_of(2),
        &[("csrf", &umar_csrf), ("attributes", "{\"floor\": 3}")],
        StatusCode::SEE_OTHER,
    )
    .await;
    let staff = gh.cli_ok(&["group", "list", "--json"], None);
    assert!(
        staff.contains("\"floor\": 3") || staff.contains("\"floor\":3"),
        "{staff}"
    );
    assert_eq!(staff.matches("gatehouse_admin_roles").count(), 2, "{staff}");
}

async fn worker_heartbeat_shows_on_the_overview_and_goes_stale(backend: Backend) {
    let gh = Installation::new(backend).await;
    let beat = [
        ("GATEHOUSE_BOOTSTRAP_PASSWORD", PASSWORD),
        ("GATEHOUSE_WORKER__HEARTBEAT_INTERVAL_SECS", "1"),
    ];
    // A server without a worker: the overview says no worker reported.
    let server = Server::start_replica(&gh.env, &beat);
    server.wait_ready().await;
    let admin = signed_in(&server, "admin", PASSWORD, "/if/admin/").await;
    let (_, overview) = get_page(&admin, &server, "/if/admin/").await;
    assert!(overview.contains("no worker has reported"), "{overview}");

    // A separate worker beats every second: seen moments ago, not stale.
    let worker = Server::start_worker(&gh.env, &beat[1..]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let overview = loop {
        let (_, overview) = get_page(&admin, &server, "/if/admin/").await;
        if overview.contains(", worker)") {
            break overview;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the worker never showed up: {overview}\n{}",
            worker.logs()
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert!(
        overview.contains("class=\"health-worker\">last seen "),
        "{overview}"
    );
    assert!(!overview.contains("stale"), "{overview}");

    // Once it stops, three missed beats later it is flagged stale.
    worker.terminate();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let (_, overview) = get_page(&admin, &server, "/if/admin/").await;
        if overview.contains("class=\"health-worker stale\">last seen ") {
            assert!(overview.contains("missed 3 heartbeats"), "{overview}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the stopped worker never went stale: {overview}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}
