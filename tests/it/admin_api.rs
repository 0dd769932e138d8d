//! The admin REST API over HTTP against a real server, on both backends: bearer tokens and
//! session cookies (with the CSRF header), each role's rights on every kind of object (an
//! auditor writes nothing, a user manager cannot touch applications, keys or flows, nor
//! promote itself), the error codes and their body, pagination, search and ordering, and the
//! audit events the writes leave. Also the served OpenAPI document and its browsable UI.

use crate::login::Visitor;
use crate::on_both_backends;
use crate::support::server::{Backend, Installation, Server};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

pub(crate) const ROOT_TOKEN: &str = "root-api-token-for-tests-0123456789abcdef";

/// A bearer-token API client for one server.
pub(crate) struct Api<'a> {
    http: reqwest::Client,
    server: &'a Server,
    token: Option<String>,
}

impl<'a> Api<'a> {
    pub(crate) fn new(server: &'a Server, token: Option<&str>) -> Self {
        Self {
            http: reqwest::Client::new(),
            server,
            token: token.map(str::to_owned),
        }
    }

    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .http
            .request(method, self.server.url(&format!("/api/v3{path}")));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        let status = response.status();
        let text = response.text().await.expect("body");
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"))
        };
        (status, value)
    }

    pub(crate) async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None).await
    }

    pub(crate) async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(body)).await
    }

    pub(crate) async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::DELETE, path, None).await
    }

    /// Calls and insists on `expected`, returning the body.
    pub(crate) async fn expect(
        &self,
        expected: StatusCode,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Value {
        let (status, value) = self.call(method.clone(), path, body).await;
        assert_eq!(status, expected, "{method} {path}: {value}");
        value
    }
}

pub(crate) fn id(value: &Value) -> String {
    value["id"].as_str().expect("id").to_owned()
}

pub(crate) fn server_with_root(installation: &Installation) -> Server {
    Server::start(
        installation,
        &[
            ("GATEHOUSE_BOOTSTRAP_TOKEN", ROOT_TOKEN),
            ("GATEHOUSE_BOOTSTRAP_PASSWORD", "admin's long passphrase"),
        ],
    )
}

/// A token for a new user in `groups`, minted by root through the API.
pub(crate) async fn user_with_token(
    root: &Api<'_>,
    username: &str,
    groups: &[&str],
) -> (String, String) {
    let user = root
        .expect(
            StatusCode::CREATED,
            Method::POST,
            "/core/users/",
            Some(json!({"username": username, "groups": groups})),
        )
        .await;
    let created = root
        .expect(
            StatusCode::CREATED,
            Method::POST,
            "/core/tokens/",
            Some(json!({"user": id(&user), "description": format!("{username} tests")})),
        )
        .await;
    (id(&user), created["key"].as_str().expect("key").to_owned())
}

async fn roles_are_enforced_on_every_call(backend: Backend) {
    let gh = Installation::new(backend).await;
    let server = server_with_root(&gh);
    server.wait_ready().await;
    let root = Api::new(&server, Some(ROOT_TOKEN));

    // Anonymous, a wrong token and another scheme: 401 with a challenge.
    let anonymous = Api::new(&server, None);
    let (status, body) = anonymous.get("/core/users/").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(
        body["detail"].is_string() && body["fields"].is_object(),
        "{body}"
    );
    let (status, _) = Api::new(&server, Some("not-a-token"))
        .get("/core/users/")
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let basic = reqwest::Client::new()
        .get(server.url("/api/v3/core/users/"))
        .basic_auth("admin", Some("admin's long passphrase"))
        .send()
        .await
        .expect("GET");
    assert_eq!(basic.status(), StatusCode::UNAUTHORIZED);
    assert!(basic.headers().contains_key("www-authenticate"));

    // Root sets up the roles: groups carrying gatehouse_admin_roles.
    for (name, role) in [("auditors", "auditor"), ("managers", "user_manager")] {
        root.expect(
            StatusCode::CREATED,
            Method::POST,
            "/core/groups/",
            Some(json!({"name": name, "attributes": {"gatehouse_admin_roles": [role]}})),
        )
        .await;
    }
    let staff = root
        .expect(
            StatusCode::CREATED,
            Method::POST,
            "/core/groups/",
            Some(json!({"name": "staff"})),
        )
        .await;
    let (_, auditor_token) = user_with_token(&root, "audrey", &["auditors"]).await;
    let (manager_id, manager_token) = user_with_token(&root, "manny", &["managers"]).await;
    let (_, plain_token) = user_with_token(&root, "plain", &["staff"]).await;
    let auditor = Api::new(&server, Some(&auditor_token));
    let manager = Api::new(&server, Some(&manager_token));
    let plain = Api::new(&server, Some(&plain_token));
    let admin_id = {
        let (_, page) = root.get("/core/users/?search=admin").await;
        id(&page["results"][0])
    };
    let admins_group = {
        let (_, page) = root.get("/core/groups/?search=gatehouse-admins").await;
        id(&page["results"][0])
    };
    root.expect(
        StatusCode::CREATED,
        Method::POST,
        "/core/applications/",
        Some(json!({"slug": "wiki", "name": "Wiki",
            "oauth2": {"client_id": "wiki", "redirect_uris": ["https://wiki.example/cb"]}})),
    )
    .await;

    // A user without any role may not use the API at all.
    let (status, body) = plain.get("/core/users/").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");

    // The auditor reads everything and writes nothing.
    for path in [
        "/core/users/",
        "/core/groups/",
        "/core/applications/",
        "/core/applications/wiki/",
        "/core/tokens/",
        "/core/invitations/",
        "/crypto/keys/",
        "/events/",
        "/flows/",
        "/flows/default-authentication-flow/",
    ] {
        let (status, body) = auditor.get(path).await;
        assert_eq!(status, StatusCode::OK, "auditor GET {path}: {body}");
    }
    let events_before = root.get("/events/?page_size=1").await.1["pagination"]["count"].clone();
    let staff_path = format!("/core/groups/{}/", id(&staff));
    let writes: Vec<(Method, String, Option<Value>)> = vec![
        (
            Method::POST,
            "/core/users/".into(),
            Some(json!({"username": "sneaky"})),
        ),
        (
            Method::PATCH,
            format!("/core/users/{manager_id}/"),
            Some(json!({"name": "x"})),
        ),
        (Method::DELETE, format!("/core/users/{manager_id}/"), None),
        (
            Method::POST,
            "/core/groups/".into(),
            Some(json!({"name": "sneaky"})),
        ),
        (Method::DELETE, staff_path.clone(), None),
        (
            Method::POST,
            "/core/applications/".into(),
            Some(json!({"slug": "x", "name": "x"})),
        ),
        (Method::DELETE, "/core/applications/wiki/".into(), None),
        (
            Method::POST,
            "/core/applications/wiki/rotate_secret/".into(),
            None,
        ),
        (
            Method::POST,
            "/crypto/keys/rotate/".into(),
            Some(json!({"alg": "RS256"})),
        ),
        (
            Method::POST,
            "/crypto/keys/import/".into(),
            Some(json!({"pem": "not checked before the role"})),
        ),
        (Method::POST, "/core/invitations/".into(), Some(json!({}))),
        (
            Method::POST,
            "/core/tokens/".into(),
            Some(json!({"user": manager_id, "description": "x"})),
        ),
    ];
    for (method, path, body) in &writes {
        let (status, answer) = auditor.call(method.clone(), path, body.clone()).await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "auditor {method} {path}: {answer}"
        );
    }
    let events_after = root.get("/events/?page_size=1").await.1["pagination"]["count"].clone();
    assert_eq!(events_before, events_after, "a refused call wrote nothing");

    // The user manager manages people...
    let carol = manager
        .expect(
            StatusCode::CREATED,
            Method::POST,
            "/core/users/",
            Some(json!({"username": "carol", "email": "carol@example.com",
                "password": "a long enough passphrase", "groups": ["staff"]})),
        )
        .await;
    assert_eq!(carol["has_password"], true);
    let carol_path = format!("/core/users/{}/", id(&carol));
    let deactivated = manager
        .expect(
            StatusCode::OK,
            Method::PATCH,
            &carol_path,
            Some(json!({"active": false, "email": null})),
        )
        .await;
    assert_eq!(deactivated["active"], false);
    assert_eq!(deactivated["email"], Value::Null);
    manager
        .expect(
            StatusCode::NO_CONTENT,
            Method::POST,
            &format!("{carol_path}set_password/"),
            Some(json!({"password": "another long passphrase"})),
        )
        .await;
    let members = manager
        .expect(
            StatusCode::OK,
            Method::GET,
            &format!("{staff_path}members/"),
            None,
        )
        .await;
    assert!(members.to_string().contains("carol"), "{members}");
    // ...but not applications, keys or flows,
    for path in ["/core/applications/", "/crypto/keys/", "/flows/"] {
        let (status, _) = manager.get(path).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "manager GET {path}");
    }
    for (method, path, body) in writes.iter().skip(5).take(4) {
        let (status, answer) = manager.call(method.clone(), path, body.clone()).await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "manager {method} {path}: {answer}"
        );
    }
    // ...and cannot make anyone (itself included) an administrator or take one over.
    let escalations: Vec<(Method, String, Option<Value>)> = vec![
        (
            Method::POST,
            format!("/core/groups/{admins_group}/members/"),
            Some(json!({"user": manager_id})),
        ),
        (
            Method::PATCH,
            staff_path.clone(),
            Some(json!({"is_superuser": true})),
        ),
        (
            Method::PATCH,
            staff_path.clone(),
            Some(json!({"attributes": {"gatehouse_admin_roles": ["user_manager"]}})),
        ),
        (
            Method::PATCH,
            staff_path.clone(),
            Some(json!({"parent": "gatehouse-admins"})),
        ),
        (
            Method::POST,
            "/core/groups/".into(),
            Some(json!({"name": "root2", "is_superuser": true})),
        ),
        (
            Method::POST,
            "/core/users/".into(),
            Some(json!({"username": "mallory", "groups": ["gatehouse-admins"]})),
        ),
        (
            Method::POST,
            format!("/core/users/{admin_id}/set_password/"),
            Some(json!({"password": "taken over passphrase"})),
        ),
        (
            Method::PATCH,
            format!("/core/users/{admin_id}/"),
            Some(json!({"active": false})),
        ),
        (
            Method::POST,
            "/core/tokens/".into(),
            Some(json!({"user": admin_id, "description": "x"})),
        ),
        (
            Method::POST,
            "/core/invitations/".into(),
            Some(json!({"groups": ["managers"]})),
        ),
    ];
    for (method, path, body) in &escalations {
        let (status, answer) = manager.call(method.clone(), path, body.clone()).await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "manager {method} {path}: {answer}"
        );
    }
    let (_, admin) = root.get(&format!("/core/users/{admin_id}/")).await;
    assert_eq!(admin["active"], true);

    // Bad input: 400 naming the field; unknown ids: 404; conflicts: 409.
    let (status, body) = root.post("/core/users/", json!({"username": ""})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["fields"]["username"].is_array(), "{body}");
    let (status, body) = root
        .post("/core/users/", json!({"username": "carol"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["fields"]["username"][0], "already taken");
    let (status, body) = root.post("/core/users/", json!({"username": 7})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = root
        .post(
            &format!("{carol_path}set_password/"),
            json!({"password": "short"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["fields"]["password"].is_array(), "{body}");
    let (status, body) = root
        .post(
            "/core/groups/",
            json!({"name": "bad", "attributes": {"gatehouse_admin_roles": ["god"]}}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _) = root
        .get("/core/users/00000000-0000-0000-0000-000000000000/")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = root.get("/core/users/not-a-uuid/").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = root.get("/core/applications/nope/").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = root.delete(&format!("/core/users/{admin_id}/")).await;
    assert_eq!(status, StatusCode::CONFLICT, "deleting oneself: {body}");
    let (status, _) = root.get("/core/users/?page=0").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = root.get("/core/users/?ordering=password").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = root.get("/events/?action=nonsense").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Pagination, search and ordering.
    let (_, page) = root.get("/core/users/?page_size=2&page=2").await;
    let total = page["pagination"]["count"].as_u64().expect("count");
    assert!(total >= 5, "{page}");
    assert_eq!(page["results"].as_array().map(Vec::len), Some(2));
    assert_eq!(page["pagination"]["previous"], 1);
    let (_, found) = root.get("/core/users/?search=CAROL@example").await;
    assert_eq!(
        found["pagination"]["count"], 0,
        "email was cleared: {found}"
    );
    let (_, found) = root.get("/core/users/?search=aud").await;
    assert_eq!(found["results"][0]["username"], "audrey", "{found}");
    let (_, ascending) = root.get("/core/users/?ordering=username").await;
    let (_, descending) = root.get("/core/users/?ordering=-username").await;
    let names = |page: &Value| -> Vec<String> {
        page["results"]
            .as_array()
            .expect("results")
            .iter()
            .map(|u| u["username"].as_str().expect("name").to_owned())
            .collect()
    };
    let mut reversed = names(&descending);
    reversed.reverse();
    assert_eq!(names(&ascending), reversed);

    // Applications: the secret is shown once, rotation replaces it.
    let (status, rotated) = root
        .post("/core/applications/wiki/rotate_secret/", json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    assert!(
        rotated["client_secret"]
            .as_str()
            .is_some_and(|s| s.len() >= 32)
    );
    let (_, shown) = root.get("/core/applications/wiki/").await;
    assert!(
        !shown
            .to_string()
            .contains(rotated["client_secret"].as_str().expect("secret"))
    );

    // Every write left its audit event, naming the actor; filters narrow the log.
    let (_, events) = root
        .get(&format!(
            "/events/?action=model_created&user={manager_id}&page_size=500"
        ))
        .await;
    let text = events.to_string();
    assert!(text.contains("carol"), "{text}");
    assert!(
        events["results"]
            .as_array()
            .expect("results")
            .iter()
            .all(|e| e["actor"] == "manny")
    );
    let (_, passwords) = root
        .get(&format!("/events/?action=password_set&user={manager_id}"))
        .await;
    assert!(
        passwords["pagination"]["count"].as_u64() >= Some(1),
        "{passwords}"
    );
    let (_, local) = root.get("/events/?client_ip=127.0.0.1&page_size=1").await;
    assert!(local["pagination"]["count"].as_u64() > Some(0), "{local}");
    let (_, none) = root.get("/events/?client_ip=192.0.2.1").await;
    assert_eq!(none["pagination"]["count"], 0);
    let (_, future) = root.get("/events/?since=2999-01-01T00:00:00Z").await;
    assert_eq!(future["pagination"]["count"], 0);

    // Revoking a user manager's role takes effect on its next call.
    root.expect(
        StatusCode::OK,
        Method::PATCH,
        &format!(
            "/core/groups/{}/",
            id(&root.get("/core/groups/?search=managers").await.1["results"][0])
        ),
        Some(json!({"attributes": {}})),
    )
    .await;
    let (status, _) = manager.get("/core/users/").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

async fn applications_are_changed_by_superusers_only(backend: Backend) {
    let gh = Installation::new(backend).await;
    let server = server_with_root(&gh);
    server.wait_ready().await;
    let root = Api::new(&server, Some(ROOT_TOKEN));
    for (name, attributes) in [
        ("auditors", json!({"gatehouse_admin_roles": ["auditor"]})),
        (
            "managers",
            json!({"gatehouse_admin_roles": ["user_manager"]}),
        ),
        ("staff", json!({})),
    ] {
        root.expect(
            StatusCode::CREATED,
            Method::POST,
            "/core/groups/",
            Some(json!({"name": name, "attributes": attributes})),
        )
        .await;
    }
    let (_, auditor_token) = user_with_token(&root, "audrey", &["auditors"]).await;
    let (_, manager_token) = user_with_token(&root, "manny", &["managers"]).await;
    root.expect(
        StatusCode::CREATED,
        Method::POST,
        "/core/applications/",
        Some(json!({"slug": "grafana", "name": "Grafana",
            "oauth2": {"client_id": "grafana", "redirect_uris": ["https://grafana.example/cb"]}})),
    )
    .await;
    root.expect(
        StatusCode::CREATED,
        Method::POST,
        "/core/applications/",
        Some(json!({"slug": "portal", "name": "Portal"})),
    )
    .await;

    let rename = json!({"name": "Renamed"});
    for token in [&auditor_token, &manager_token] {
        let (status, body) = Api::new(&server, Some(token))
            .call(
                Method::PATCH,
                "/core/applications/grafana/",
                Some(rename.clone()),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    }

    // Bad input names the field and changes nothing.
    for (body, field) in [
        (json!({"name": ""}), "name"),
        (json!({"launch_url": "not a url"}), "launch_url"),
        (json!({"allowed_groups": ["nobody"]}), "allowed_groups"),
        (
            json!({"oauth2": {"signing_alg": "HS256"}}),
            "oauth2.signing_alg",
        ),
        (
            json!({"name": "Half", "oauth2": {"redirect_uris": ["not a uri"]}}),
            "redirect_uris[0]",
        ),
    ] {
        let answer = root
            .expect(
                StatusCode::BAD_REQUEST,
                Method::PATCH,
                "/core/applications/grafana/",
                Some(body.clone()),
            )
            .await;
        assert!(answer["fields"][field].is_array(), "{body}: {answer}");
    }
    let (_, unchanged) = root.get("/core/applications/grafana/").await;
    assert_eq!(unchanged["name"], "Grafana");
    root.expect(
        StatusCode::NOT_FOUND,
        Method::PATCH,
        "/core/applications/nope/",
        Some(rename.clone()),
    )
    .await;
    root.expect(
        StatusCode::CONFLICT,
        Method::PATCH,
        "/core/applications/portal/",
        Some(json!({"oauth2": {"scopes": ["openid"]}})),
    )
    .await;

    let changed = root
        .expect(
            StatusCode::OK,
            Method::PATCH,
            "/core/applications/grafana/",
            Some(json!({
                "name": "Grafana 11",
                "launch_url": "https://grafana.example/",
                "allowed_groups": ["staff"],
                "oauth2": {
                    "redirect_uris": ["https://grafana.example/login/generic_oauth"],
                    "signing_alg": "ES256",
                    "consent_mode": "explicit",
                    "access_token_lifetime": 600,
                    "token_endpoint_auth_method": "client_secret_post"
                }
            })),
        )
        .await;
    assert_eq!(changed["name"], "Grafana 11");
    assert_eq!(changed["allowed_groups"], json!(["staff"]));
    let oauth2 = &changed["oauth2"];
    assert_eq!(
        oauth2["redirect_uris"],
        json!(["https://grafana.example/login/generic_oauth"])
    );
    assert_eq!(oauth2["signing_alg"], "ES256");
    assert_eq!(oauth2["consent_mode"], "explicit");
    assert_eq!(oauth2["access_token_lifetime"], 600);
    assert_eq!(oauth2["token_endpoint_auth_method"], "client_secret_post");
    assert_eq!(oauth2["client_id"], "grafana");
    let (_, stored) = root.get("/core/applications/grafana/").await;
    assert_eq!(stored, changed);
    // Its discovery document now advertises ES256, so a key for it exists already.
    let (_, keys) = root.get("/crypto/keys/?search=ES256").await;
    assert!(keys["pagination"]["count"].as_u64() >= Some(1), "{keys}");

    // `null` clears; an empty list lets everyone in; the event names what changed.
    let cleared = root
        .expect(
            StatusCode::OK,
            Method::PATCH,
            "/core/applications/grafana/",
            Some(json!({"launch_url": null, "allowed_groups": [],
                "oauth2": {"token_endpoint_auth_method": null}})),
        )
        .await;
    assert_eq!(cleared["launch_url"], Value::Null);
    assert_eq!(cleared["allowed_groups"], json!([]));
    assert_eq!(cleared["oauth2"]["token_endpoint_auth_method"], Value::Null);
    let (_, events) = root
        .get("/events/?action=model_updated&page_size=500")
        .await;
    let text = events.to_string();
    assert!(
        text.contains("grafana") && text.contains("redirect_uris"),
        "{text}"
    );
    let (_, shown) = Api::new(&server, Some(&auditor_token))
        .get("/core/applications/grafana/")
        .await;
    assert_eq!(shown["name"], "Grafana 11");
}
/// A private key made by OpenSSL (a real, independent key generator), as PEM.
fn openssl_key(args: &[&str]) -> String {
    let output = std::process::Command::new("openssl")
        .args(args)
        .output()
        .expect("run openssl (Debian package openssl)");
    assert!(output.status.success(), "openssl {args:?}: {output:?}");
    String::from_utf8(output.stdout).expect("PEM is ASCII")
}

async fn signing_keys_are_imported_from_pem(backend: Backend) {
    let gh = Installation::new(backend).await;
    let server = server_with_root(&gh);
    server.wait_ready().await;
    let root = Api::new(&server, Some(ROOT_TOKEN));

    // The algorithm follows from the key: SEC1 P-256 is ES256, PKCS#8 Ed25519 is EdDSA.
    let ec = openssl_key(&["ecparam", "-name", "prime256v1", "-genkey", "-noout"]);
    assert!(ec.contains("BEGIN EC PRIVATE KEY"));
    let ed = openssl_key(&["genpkey", "-algorithm", "ed25519"]);
    for (pem, alg, name) in [
        (&ec, "ES256", Some("from-the-old-idp")),
        (&ed, "EdDSA", None),
    ] {
        let imported = root
            .expect(
                StatusCode::CREATED,
                Method::POST,
                "/crypto/keys/import/",
                Some(json!({"pem": pem, "name": name})),
            )
            .await;
        assert_eq!(imported["active"]["alg"], alg, "{imported}");
        assert_eq!(imported["active"]["active"], true);
        if let Some(name) = name {
            assert_eq!(imported["active"]["name"], name);
        }
        assert!(
            !imported.to_string().contains("PRIVATE"),
            "never echoes the key"
        );
    }
    let (_, listed) = root.get("/crypto/keys/?search=from-the-old-idp").await;
    assert_eq!(listed["pagination"]["count"], 1, "{listed}");

    // JWKS publishes the EC key's public half (the point OpenSSL derives) under its id.
    let (_, es256) = root.get("/crypto/keys/?search=from-the-old-idp").await;
    let kid = es256["results"][0]["id"].as_str().expect("kid").to_owned();
    root.expect(
        StatusCode::CREATED,
        Method::POST,
        "/core/applications/",
        Some(json!({"slug": "grafana", "name": "Grafana",
            "oauth2": {"client_id": "grafana", "redirect_uris": ["https://grafana.example/cb"]}})),
    )
    .await;
    let jwks: Value = reqwest::get(server.url("/application/o/grafana/jwks/"))
        .await
        .expect("jwks")
        .json()
        .await
        .expect("jwks json");
    let jwk = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .unwrap_or_else(|| panic!("{kid} not in {jwks}"))
        .clone();
    let spki = openssl_key_from(&ec, &["ec", "-pubout", "-outform", "DER"]);
    let point = &spki[spki.len() - 64..];
    let b64 = |bytes: &[u8]| {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    };
    assert_eq!(jwk["crv"], "P-256");
    assert_eq!(jwk["x"], b64(&point[..32]).as_str());
    assert_eq!(jwk["y"], b64(&point[32..]).as_str());

    let events_before = root.get("/events/?page_size=1").await.1["pagination"]["count"].clone();
    let p384 = openssl_key(&["ecparam", "-name", "secp384r1", "-genkey", "-noout"]);
    let encrypted = openssl_key_from(
        &ed,
        &[
            "pkcs8",
            "-topk8",
            "-v2",
            "aes-256-cbc",
            "-passout",
            "pass:secret",
        ],
    );
    for (body, field) in [
        (json!({"pem": p384}), "pem"),
        (
            json!({"pem": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"}),
            "pem",
        ),
        (json!({"pem": String::from_utf8_lossy(&encrypted)}), "pem"),
        (json!({"pem": "hello"}), "pem"),
        (json!({"pem": ec, "name": "x".repeat(200)}), "name"),
    ] {
        let (status, answer) = root.post("/crypto/keys/import/", body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
        assert!(answer["fields"][field].is_array(), "{answer}");
        assert!(!answer.to_string().contains("-----BEGIN"), "{answer}");
    }
    let (status, _) = root
        .post("/crypto/keys/import/", json!({"name": "no pem"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let events_after = root.get("/events/?page_size=1").await.1["pagination"]["count"].clone();
    assert_eq!(events_before, events_after, "a refused key wrote nothing");
}

/// Runs `openssl` with `input` on its standard input, returning its standard output.
fn openssl_key_from(input: &str, args: &[&str]) -> Vec<u8> {
    use std::io::Write as _;
    let mut child = std::process::Command::new("openssl")
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run openssl");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write key");
    let output = child.wait_with_output().expect("openssl");
    assert!(output.status.success(), "openssl {args:?}");
    output.stdout
}

on_both_backends!(
    roles_are_enforced_on_every_call,
    applications_are_changed_by_superusers_only,
    signing_keys_are_imported_from_pem
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_cookies_need_the_csrf_header_for_writes() {
    let gh = Installation::new(Backend::Sqlite).await;
    let server = server_with_root(&gh);
    server.wait_ready().await;
    let visitor = Visitor::start_with(&server, "admin", reqwest::Client::builder()).await;
    visitor.password("admin's long passphrase").await;
    let http = visitor.client();
    let url = server.url("/api/v3/core/groups/");
    let listed = http.get(&url).send().await.expect("GET");
    assert_eq!(listed.status(), StatusCode::OK);
    let forged = http
        .post(&url)
        .json(&json!({"name": "forged"}))
        .send()
        .await
        .expect("POST");
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let wrong = http
        .post(&url)
        .header("X-CSRF-Token", "wrong")
        .json(&json!({"name": "forged"}))
        .send()
        .await
        .expect("POST");
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    let made = http
        .post(&url)
        .header("X-CSRF-Token", visitor.csrf())
        .json(&json!({"name": "made-in-browser"}))
        .send()
        .await
        .expect("POST");
    assert_eq!(made.status(), StatusCode::CREATED);
    let root = Api::new(&server, Some(ROOT_TOKEN));
    let (_, page) = root.get("/core/groups/?search=forged").await;
    assert_eq!(page["pagination"]["count"], 0, "no forged write: {page}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_and_docs_are_served() {
    let gh = Installation::new(Backend::Sqlite).await;
    let server = Server::start(&gh, &[]);
    server.wait_ready().await;
    let served: Value = reqwest::get(server.url("/api/v3/schema/"))
        .await
        .expect("GET")
        .json()
        .await
        .expect("JSON");
    let committed: Value = serde_json::from_str(include_str!("../../openapi.json")).expect("JSON");
    assert_eq!(
        served, committed,
        "the served schema is the committed openapi.json"
    );
    assert!(
        served["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3."))
    );
    let docs = reqwest::get(server.url("/api/v3/docs/"))
        .await
        .expect("GET");
    assert_eq!(docs.status(), StatusCode::OK);
    assert!(docs.text().await.expect("body").contains("swagger-ui"));
    // The CLI prints the same document.
    let printed: Value = serde_json::from_str(&gh.cli_ok(&["openapi"], None)).expect("JSON");
    assert_eq!(printed, committed);
}
