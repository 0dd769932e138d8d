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
    let gh = Installation::new(Backend::Sqlite).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auditors_read_every_list_and_every_write_is_refused() {
    let gh = Installation::new(Backend::Sqlite).await;
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
    ] {
        let (status, body) = get_page(&audrey, &server, path).await;
        assert_eq!(status, StatusCode::OK, "auditor GET {path}: {body}");
        for control in [
            "id=\"new-user\"",
            "id=\"new-group\"",
            "id=\"delete-user\"",
            "id=\"set-password\"",
            "id=\"rotate\"",
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overview_events_flows_and_keys_pages() {
    let gh = Installation::new(Backend::Sqlite).await;
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
}
