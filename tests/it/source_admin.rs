//! Upstream sources and users' connections in the admin API and the admin UI (issues 5 and
//! 6). Over HTTP on both backends: superusers create, list, change and delete sources; an
//! auditor reads them and writes nothing; a user manager may not touch sources but lists and
//! removes users' linked accounts (not an administrator's); bad input is a 400 naming the
//! field, unknown objects 404, removing a user's last way to sign in 409; the client secret
//! never appears in an answer. In Chromium: an administrator creates a Forgejo source through
//! the form, sees the callback URL to register upstream, and removes a user's linked account
//! after the confirmation page.

use crate::admin_api::{Api, ROOT_TOKEN, id, server_with_root, user_with_token};
use crate::admin_ui::{click, text_of};
use crate::on_both_backends;
use crate::pages::{submit_field, type_into};
use crate::support::browser::Browser;
use crate::support::server::{Backend, Installation, Server};
use gatehouse_core::{AuditContext, NewSourceConnection, SourceStore, UserId, UserStore};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const SECRET: &str = "upstream-client-secret-never-shown";

/// Links `username` to the upstream account `upstream_id` at `slug`, as a sign-in would.
async fn link(gh: &Installation, slug: &str, username: &str, upstream_id: &str) {
    let store = gh.store().await;
    let source = store
        .source_by_slug(slug)
        .await
        .expect("read")
        .expect("source");
    let user = store
        .user_by_username(username)
        .await
        .expect("read")
        .expect("user");
    store
        .link_source(
            NewSourceConnection {
                source_id: source.id,
                user_id: user.id,
                upstream_id: upstream_id.into(),
                upstream_username: Some(format!("{username}-upstream")),
            },
            &AuditContext::cli(),
        )
        .await
        .expect("link");
}

async fn sources_and_connections_over_the_api(backend: Backend) {
    let gh = Installation::new(backend).await;
    let server = server_with_root(&gh);
    server.wait_ready().await;
    let root = Api::new(&server, Some(ROOT_TOKEN));
    for (name, role) in [("auditors", "auditor"), ("managers", "user_manager")] {
        root.expect(
            StatusCode::CREATED,
            Method::POST,
            "/core/groups/",
            Some(json!({"name": name, "attributes": {"gatehouse_admin_roles": [role]}})),
        )
        .await;
    }
    root.expect(
        StatusCode::CREATED,
        Method::POST,
        "/core/groups/",
        Some(json!({"name": "forgejo-teams"})),
    )
    .await;
    let (_, auditor_token) = user_with_token(&root, "audrey", &["auditors"]).await;
    let (_, manager_token) = user_with_token(&root, "manny", &["managers"]).await;
    let auditor = Api::new(&server, Some(&auditor_token));
    let manager = Api::new(&server, Some(&manager_token));
    let mut answers = String::new();

    // A Forgejo source with its secret; the answer says a secret is set, never which.
    let forgejo = json!({
        "slug": "forgejo", "name": "Forgejo", "type": "forgejo",
        "base_url": "https://git.example.com/", "client_id": "gatehouse",
        "client_secret": SECRET, "user_matching": "email_link",
        "group_sync": {"mode": "create", "parent": "forgejo-teams"}
    });
    let created = root
        .expect(
            StatusCode::CREATED,
            Method::POST,
            "/sources/oauth/",
            Some(forgejo.clone()),
        )
        .await;
    answers.push_str(&created.to_string());
    assert_eq!(created["has_client_secret"], true);
    assert_eq!(created["base_url"], "https://git.example.com");
    assert_eq!(created["type"], "forgejo");
    assert_eq!(created["user_matching"], "email_link");
    assert_eq!(
        created["group_sync"],
        json!({"mode": "create", "parent": "forgejo-teams"})
    );
    assert_eq!(created["claims"]["subject"], "sub");
    assert_eq!(
        created["callback_url"],
        server.url("/source/oauth/callback/forgejo/")
    );

    // Bad input: 400 naming the field, nothing written.
    for (body, field) in [
        (
            json!({"slug": "f2", "type": "forgejo", "client_id": "x"}),
            "base_url",
        ),
        (
            json!({"slug": "f2", "type": "ldap", "client_id": "x"}),
            "type",
        ),
        (
            json!({"slug": "forgejo", "type": "github", "client_id": "x"}),
            "slug",
        ),
        (
            json!({"slug": "Not A Slug", "type": "github", "client_id": "x"}),
            "slug",
        ),
        (
            json!({"slug": "f2", "type": "github", "client_id": "x",
                "group_sync": {"mode": "create", "parent": "nobody"}}),
            "group_sync.parent",
        ),
        (
            json!({"slug": "f2", "type": "github", "client_id": "x",
                "enrollment_flow": "no-such-flow"}),
            "enrollment_flow",
        ),
        (
            json!({"slug": "f2", "type": "oauth2", "client_id": "x",
                "authorize_url": "https://a.example/auth"}),
            "authorize_url",
        ),
        (
            json!({"slug": "f2", "type": "github", "client_id": "x", "client_secret": ""}),
            "client_secret",
        ),
    ] {
        let (status, answer) = root.post("/sources/oauth/", body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert!(answer["fields"][field].is_array(), "{field}: {answer}");
    }
    let (_, page) = root.get("/sources/oauth/").await;
    assert_eq!(page["pagination"]["count"], 1, "{page}");

    // Lists: search, ordering and pages.
    root.expect(
        StatusCode::CREATED,
        Method::POST,
        "/sources/oauth/",
        Some(json!({"slug": "github", "name": "GitHub", "type": "github", "client_id": "gh"})),
    )
    .await;
    let (_, found) = root.get("/sources/oauth/?search=HUB").await;
    assert_eq!(found["pagination"]["count"], 1);
    assert_eq!(found["results"][0]["slug"], "github");
    assert_eq!(found["results"][0]["has_client_secret"], false);
    let (_, reversed) = root
        .get("/sources/oauth/?ordering=-slug&page_size=1&page=2")
        .await;
    assert_eq!(reversed["results"][0]["slug"], "forgejo", "{reversed}");
    assert_eq!(reversed["pagination"]["previous"], 1);
    let (status, _) = root.get("/sources/oauth/?ordering=name").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    answers.push_str(&root.get("/sources/oauth/").await.1.to_string());

    // Changes: absent fields stay, `null` clears; the slug cannot change.
    let changed = root
        .expect(
            StatusCode::OK,
            Method::PATCH,
            "/sources/oauth/forgejo/",
            Some(
                json!({"name": "Our Forgejo", "group_sync": {"parent": null},
                "scopes": ["openid", "email"], "enabled": false}),
            ),
        )
        .await;
    answers.push_str(&changed.to_string());
    assert_eq!(changed["name"], "Our Forgejo");
    assert_eq!(
        changed["group_sync"],
        json!({"mode": "create", "parent": null})
    );
    assert_eq!(changed["scopes"], json!(["openid", "email"]));
    assert_eq!(changed["enabled"], false);
    assert_eq!(changed["has_client_secret"], true);
    assert_eq!(changed["client_id"], "gatehouse");
    for (body, field) in [
        (json!({"base_url": null}), "base_url"),
        (json!({"base_url": "ftp://git.example.com"}), "base_url"),
        (json!({"user_matching": "everyone"}), "user_matching"),
    ] {
        let (status, answer) = root
            .call(Method::PATCH, "/sources/oauth/forgejo/", Some(body.clone()))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert!(answer["fields"][field].is_array(), "{field}: {answer}");
    }
    let (status, _) = root
        .call(
            Method::PATCH,
            "/sources/oauth/nope/",
            Some(json!({"name": "x"})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = root.get("/sources/oauth/nope/").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let store = gh.store().await;
    let sealed = store
        .source_by_slug("forgejo")
        .await
        .expect("read")
        .expect("source")
        .settings
        .client_secret_sealed
        .expect("a sealed secret");
    assert!(!sealed.contains(SECRET));

    // The auditor reads sources and writes nothing; the user manager may not touch them.
    let (status, shown) = auditor.get("/sources/oauth/forgejo/").await;
    assert_eq!(status, StatusCode::OK);
    answers.push_str(&shown.to_string());
    for api in [&auditor, &manager] {
        let writes = [
            (
                Method::POST,
                "/sources/oauth/",
                Some(json!({"slug": "x", "type": "github", "client_id": "x"})),
            ),
            (
                Method::PATCH,
                "/sources/oauth/forgejo/",
                Some(json!({"name": "Taken over"})),
            ),
            (Method::DELETE, "/sources/oauth/forgejo/", None),
        ];
        for (method, path, body) in writes {
            let (status, answer) = api.call(method.clone(), path, body).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {answer}");
        }
    }
    let (status, _) = manager.get("/sources/oauth/").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, unchanged) = root.get("/sources/oauth/forgejo/").await;
    assert_eq!(unchanged["name"], "Our Forgejo");

    // Connections: listed by a user manager and an auditor, removed by the user manager.
    let linda = root
        .expect(
            StatusCode::CREATED,
            Method::POST,
            "/core/users/",
            Some(json!({"username": "linda", "password": "a long secret passphrase"})),
        )
        .await;
    let pat = root
        .expect(
            StatusCode::CREATED,
            Method::POST,
            "/core/users/",
            Some(json!({"username": "pat"})),
        )
        .await;
    link(&gh, "forgejo", "linda", "1001").await;
    link(&gh, "github", "linda", "77").await;
    link(&gh, "forgejo", "pat", "1002").await;
    link(&gh, "forgejo", "admin", "1").await;
    let linda_path = format!("/core/users/{}/connections/", id(&linda));
    let listed = manager
        .expect(StatusCode::OK, Method::GET, &linda_path, None)
        .await;
    assert_eq!(listed.as_array().map(Vec::len), Some(2), "{listed}");
    assert_eq!(listed[0]["source"], "forgejo");
    assert_eq!(listed[0]["upstream_id"], "1001");
    assert_eq!(listed[0]["upstream_username"], "linda-upstream");
    assert_eq!(listed[0]["synced_groups"], json!([]));
    assert_eq!(listed[0]["last_login"], Value::Null);
    auditor
        .expect(StatusCode::OK, Method::GET, &linda_path, None)
        .await;
    let (status, _) = auditor.delete(&format!("{linda_path}forgejo/")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    manager
        .expect(
            StatusCode::NO_CONTENT,
            Method::DELETE,
            &format!("{linda_path}forgejo/"),
            None,
        )
        .await;
    let (status, _) = manager.delete(&format!("{linda_path}forgejo/")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "already removed");
    let (status, _) = manager
        .delete(&format!("{linda_path}no-such-source/"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = manager
        .delete("/core/users/00000000-0000-0000-0000-000000000000/connections/forgejo/")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, left) = root.get(&linda_path).await;
    assert_eq!(left.as_array().map(Vec::len), Some(1));
    assert_eq!(left[0]["source"], "github");

    // Pat has no password: the only link is the only way in, so it stays (409).
    let pat_path = format!("/core/users/{}/connections/forgejo/", id(&pat));
    let (status, answer) = manager.delete(&pat_path).await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    // An administrator's links are for superusers to remove.
    let admin_id = store
        .user_by_username("admin")
        .await
        .expect("read")
        .expect("admin")
        .id;
    let admin_path = format!("/core/users/{admin_id}/connections/forgejo/");
    let (status, _) = manager.delete(&admin_path).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    root.expect(StatusCode::NO_CONTENT, Method::DELETE, &admin_path, None)
        .await;
    let (_, events) = root
        .get("/events/?action=model_deleted&page_size=500")
        .await;
    assert!(events.to_string().contains("source_connection"), "{events}");

    // Deleting a source takes its connections with it.
    root.expect(
        StatusCode::NO_CONTENT,
        Method::DELETE,
        "/sources/oauth/forgejo/",
        None,
    )
    .await;
    let (status, _) = root.get("/sources/oauth/forgejo/").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, none) = root
        .get(&format!("/core/users/{}/connections/", id(&pat)))
        .await;
    assert_eq!(none, json!([]));
    let pat_id: UserId = id(&pat).parse().expect("a user id");
    assert!(
        store
            .source_connections_of(pat_id)
            .await
            .expect("read")
            .is_empty()
    );
    assert!(!answers.contains(SECRET), "the secret never comes back");
    assert!(!answers.contains(&sealed), "nor its sealed form");
}
on_both_backends!(sources_and_connections_over_the_api);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_creates_a_source_and_removes_a_linked_account_in_chromium() {
    const PASSWORD: &str = "admin's long passphrase";
    let gh = Installation::new(Backend::Sqlite).await;
    gh.cli_ok(
        &["user", "create", "lena", "--password-stdin"],
        Some("a long secret passphrase\n"),
    );
    let server = Server::start(&gh, &[("GATEHOUSE_BOOTSTRAP_PASSWORD", PASSWORD)]);
    server.wait_ready().await;
    let browser = Browser::start().await;
    let page = &browser.client;
    page.goto(&server.url("/if/admin/sources/"))
        .await
        .expect("open the sources page");
    submit_field(page, "uid", "admin").await;
    submit_field(page, "password", PASSWORD).await;
    assert!(text_of(page, "sources").await.contains("Slug"));

    // The type first, then that type's form; a bad URL comes back next to its field.
    click(page, "new-source").await;
    click(page, "type-forgejo").await;
    assert_eq!(text_of(page, "source-type").await, "Forgejo");
    type_into(page, "slug", "forgejo").await;
    type_into(page, "name", "Forgejo").await;
    type_into(page, "base_url", "git.example.com").await;
    type_into(page, "client_id", "gatehouse").await;
    type_into(page, "client_secret", SECRET).await;
    click(page, "save").await;
    assert!(
        text_of(page, "base_url-error")
            .await
            .contains("http(s) URL"),
        "the error sits next to the field"
    );
    type_into(page, "base_url", "https://git.example.com").await;
    type_into(page, "client_secret", SECRET).await;
    click(page, "save").await;

    // The source's page: the callback URL to register at Forgejo; the secret is only "set".
    assert_eq!(text_of(page, "heading").await, "Forgejo");
    assert_eq!(
        text_of(page, "callback-url").await,
        server.url("/source/oauth/callback/forgejo/")
    );
    assert_eq!(text_of(page, "secret-state").await, "set");
    assert!(!page.source().await.expect("source").contains(SECRET));
    click(page, "edit-source").await;
    assert!(!page.source().await.expect("source").contains(SECRET));
    let store = gh.store().await;
    let stored = store
        .source_by_slug("forgejo")
        .await
        .expect("read")
        .expect("created");
    assert_eq!(
        stored.settings.base_url.as_deref(),
        Some("https://git.example.com")
    );

    // Lena's linked account, on her page, removed after the confirmation page.
    link(&gh, "forgejo", "lena", "4242").await;
    let lena = store
        .user_by_username("lena")
        .await
        .expect("read")
        .expect("lena");
    page.goto(&server.url(&format!("/if/admin/users/{}/", lena.id)))
        .await
        .expect("lena's page");
    assert!(
        text_of(page, "user-connections")
            .await
            .contains("forgejo: lena-upstream")
    );
    click(page, "remove-connection-forgejo").await;
    assert!(text_of(page, "confirm-message").await.contains("lena"));
    assert_eq!(
        store
            .source_connections_of(lena.id)
            .await
            .expect("read")
            .len(),
        1,
        "nothing is removed before the confirmation"
    );
    click(page, "confirm").await;
    assert_eq!(text_of(page, "notice").await, "Linked account removed.");
    assert!(
        store
            .source_connections_of(lena.id)
            .await
            .expect("read")
            .is_empty()
    );
    browser.close().await;
}
