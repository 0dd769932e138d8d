//! Custom scope mappings end to end on both backends: a provider created with
//! `--scope-mapping`, a user with attributes and groups from `apply`, and panva's
//! openid-client as the relying party requesting the custom scope through the real sign-in:
//! the mapped claims appear in the validated ID token and in userinfo, the unrequested
//! scope's do not, discovery lists them, and `export` → `apply` on a fresh installation
//! keeps them. Bad mappings are refused by the CLI and by `apply` with nothing written.

use crate::oidc::{REDIRECT, client, location, relying_party, sign_in_with};
use crate::on_both_backends;
use crate::support::server::{Backend, Installation, Server};
use gatehouse_core::UserStore;
use reqwest::StatusCode;
use serde_json::{Value, json};

const ALICE_PASSWORD: &str = "alice's long passphrase";

const PEOPLE: &str = r#"
groups:
  - name: ops-team
users:
  - username: alice
    name: Alice Example
    email: alice@example.com
    password: env://ALICE_PASSWORD
    groups: [ops-team]
    attributes:
      team: { name: ops, floor: 3 }
"#;

fn write(gh: &Installation, name: &str, text: &str) -> String {
    let file = gh.data_dir().join(name);
    std::fs::write(&file, text).expect("write");
    file.to_str().expect("path").to_owned()
}

/// An installation with alice (attributes `team.name`, `team.floor`, group `ops-team`) and a
/// confidential client `grafana` with the custom scopes `team` and `hr`.
async fn installation(backend: Backend) -> (Installation, String) {
    let mut gh = Installation::new(backend).await;
    gh.env
        .insert("ALICE_PASSWORD".into(), ALICE_PASSWORD.into());
    let people = write(&gh, "people.yaml", PEOPLE);
    gh.cli_ok(&["apply", "-f", &people], None);
    let created: Value = serde_json::from_str(&gh.cli_ok(
        &[
            "app",
            "create",
            "grafana",
            "--client-id",
            "grafana",
            "--redirect-uri",
            REDIRECT,
            "--scope-mapping",
            "team:team=attributes.team.name",
            "--scope-mapping",
            "team:floor=attributes.team.floor",
            "--scope-mapping",
            "team:team_groups=groups",
            "--scope-mapping",
            "team:manager=attributes.team.manager",
            "--scope-mapping",
            "hr:employee_id=user.id",
            "--json",
        ],
        None,
    ))
    .expect("json");
    assert_eq!(
        created["oidc"]["scopes"],
        json!(["openid", "profile", "email", "offline_access", "hr", "team"])
    );
    let secret = created["client_secret"]
        .as_str()
        .expect("secret")
        .to_owned();
    (gh, secret)
}

/// openid-client redeems `callback` for the authorization `start` began, validating the ID
/// token, and calls userinfo.
fn finish(issuer: &str, secret: &str, start: &Value, callback: &str) -> Value {
    let field = |name: &str| start[name].as_str().expect("start field").to_owned();
    relying_party(&[
        "finish",
        issuer,
        "grafana",
        secret,
        callback,
        &field("state"),
        &field("nonce"),
        &field("verifier"),
    ])
}

async fn mapped_claims_reach_id_token_and_userinfo(backend: Backend) {
    let (gh, secret) = installation(backend).await;
    let server = Server::start(&gh, &[]);
    server.wait_ready().await;
    let issuer = server.url("/application/o/grafana/");

    let discovery: Value = reqwest::get(format!("{issuer}.well-known/openid-configuration"))
        .await
        .expect("discovery")
        .json()
        .await
        .expect("json");
    let listed = |field: &str, name: &str| {
        discovery[field]
            .as_array()
            .expect("array")
            .contains(&json!(name))
    };
    assert!(listed("scopes_supported", "team") && listed("scopes_supported", "hr"));
    for claim in ["team", "floor", "team_groups", "employee_id"] {
        assert!(listed("claims_supported", claim), "{claim}: {discovery}");
    }

    let extra = json!({"scope": "openid profile email offline_access team"}).to_string();
    let start = relying_party(&["start", &issuer, "grafana", &secret, REDIRECT, &extra]);
    let url = start["url"].as_str().expect("url");
    let browser = client();
    let target = sign_in_with(
        &server,
        &browser,
        url,
        &[("uid", "alice"), ("password", ALICE_PASSWORD)],
    )
    .await;
    let response = browser
        .get(server.url(&target))
        .send()
        .await
        .expect("authorize again");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let callback = location(&response);
    let result = finish(&issuer, &secret, &start, &callback);
    let user_id = gh
        .store()
        .await
        .user_by_username("alice")
        .await
        .expect("store")
        .expect("alice")
        .id
        .to_string();
    for (what, claims) in [
        ("id token", &result["claims"]),
        ("userinfo", &result["userinfo"]),
    ] {
        assert_eq!(claims["team"], "ops", "{what}: {claims}");
        assert_eq!(claims["floor"], 3, "{what}");
        assert_eq!(claims["team_groups"], json!(["ops-team"]), "{what}");
        assert_eq!(claims["preferred_username"], "alice", "{what}");
        assert!(
            claims.get("manager").is_none(),
            "no value, no claim: {what}"
        );
        assert!(
            claims.get("employee_id").is_none(),
            "hr was not requested: {what}"
        );
    }
    assert_eq!(result["userinfo"]["sub"], result["claims"]["sub"]);

    // The other custom scope, alone with openid, gives only its claim.
    let extra = json!({"scope": "openid offline_access hr"}).to_string();
    let start = relying_party(&["start", &issuer, "grafana", &secret, REDIRECT, &extra]);
    let response = browser
        .get(start["url"].as_str().expect("url"))
        .send()
        .await
        .expect("authorize");
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "signed in already"
    );
    let result = finish(&issuer, &secret, &start, &location(&response));
    for claims in [&result["claims"], &result["userinfo"]] {
        assert_eq!(claims["employee_id"], user_id.as_str(), "{claims}");
        assert!(claims.get("team").is_none() && claims.get("name").is_none());
    }
}

async fn mappings_survive_export_and_apply(backend: Backend) {
    let (gh, _secret) = installation(backend).await;
    let exported = gh.cli_ok(&["export"], None);
    assert!(
        exported.contains("scope_mappings") && exported.contains("attributes.team.floor"),
        "{exported}"
    );
    let show = |gh: &Installation| -> Value {
        let mut value: Value =
            serde_json::from_str(&gh.cli_ok(&["app", "show", "grafana", "--json"], None))
                .expect("json");
        value["oidc"]["scope_mappings"].take()
    };
    let before = show(&gh);
    assert_eq!(before["hr"]["employee_id"], "user.id");

    let fresh = Installation::new(backend).await;
    let path = write(&fresh, "export.yaml", &exported);
    fresh.cli_ok(&["apply", "-f", &path], None);
    assert_eq!(show(&fresh), before);
    // Applying the export again plans nothing.
    let again = fresh.cli_ok(&["apply", "-f", &path, "--dry-run"], None);
    assert!(!again.contains("application grafana"), "{again}");
}

async fn bad_mappings_are_refused(backend: Backend) {
    let gh = Installation::new(backend).await;
    for (mapping, expected) in [
        ("team:email=user.email", "standard claim"),
        ("team:sub=user.id", "standard claim"),
        ("profile:team=groups", "standard scope"),
        ("team:team=user.password_hash", "unknown user field"),
        ("team:team=session.id", "unknown claim source"),
        ("bad\"scope:team=groups", "scope_mappings"),
        ("team-without-claim", "scope:claim=source"),
    ] {
        let output = gh.cli(
            &[
                "app",
                "create",
                "bad",
                "--client-id",
                "bad",
                "--scope-mapping",
                mapping,
            ],
            None,
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{mapping} accepted");
        assert!(stderr.contains(expected), "{mapping}: {stderr}");
    }
    let document = format!(
        r#"
applications:
  - slug: grafana
    oidc:
      client_id: grafana
      redirect_uris: [{REDIRECT}]
      scope_mappings:
        team: {{ team: attributes.team, nickname: user.username }}
"#
    );
    let path = write(&gh, "bad.yaml", &document);
    let output = gh.cli(&["apply", "-f", &path], None);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("applications[0].oidc.scope_mappings.team.nickname"),
        "{stderr}"
    );
    assert!(
        gh.cli_ok(&["app", "list"], None)
            .contains("(0 applications)"),
        "nothing written"
    );
}

on_both_backends!(
    mapped_claims_reach_id_token_and_userinfo,
    mappings_survive_export_and_apply,
    bad_mappings_are_refused
);
