//! `gatehouse source …` and `gatehouse user connections`, on both backends: a source created
//! with its secret on standard input is stored sealed and never printed; bad settings are
//! refused naming the field; deletion needs `--yes`; a user's connections are listed.

use crate::on_both_backends;
use crate::support::server::{Backend, Installation};
use gatehouse_core::{NewUser, SourceStore};

const SECRET: &str = "forgejo-client-secret-value";

async fn sources_from_the_cli(backend: Backend) {
    let gh = Installation::new(backend).await;
    gh.cli_ok(&["group", "create", "forgejo"], None);
    let created = gh.cli_ok(
        &[
            "source",
            "create",
            "forgejo",
            "--type",
            "forgejo",
            "--name",
            "Forgejo",
            "--base-url",
            "https://git.example.com/",
            "--client-id",
            "gatehouse",
            "--client-secret-stdin",
            "--user-matching",
            "email_link",
            "--group-sync",
            "create",
            "--group-sync-parent",
            "forgejo",
        ],
        Some(&format!("{SECRET}\n")),
    );
    assert!(created.contains("created source forgejo"), "{created}");
    let shown = gh.cli_ok(&["source", "show", "forgejo", "--json"], None);
    assert!(!shown.contains(SECRET), "the secret is never printed");
    let shown: serde_json::Value = serde_json::from_str(&shown).expect("json");
    assert_eq!(shown["base_url"], "https://git.example.com");
    assert_eq!(shown["has_client_secret"], true);
    assert_eq!(shown["user_matching"], "email_link");
    assert_eq!(shown["group_sync"]["mode"], "create");
    assert_eq!(shown["callback_path"], "/source/oauth/callback/forgejo/");
    let store = gh.store().await;
    let stored = store
        .source_by_slug("forgejo")
        .await
        .expect("read")
        .expect("stored");
    let sealed = stored
        .settings
        .client_secret_sealed
        .clone()
        .expect("sealed secret");
    assert!(sealed.starts_with("v1.") && !sealed.contains(SECRET));

    // Bad settings are refused with the field named, and nothing is written.
    for (args, field) in [
        (vec!["--type", "ldap"], "type"),
        (vec!["--type", "oidc"], "discovery_url"),
        (vec!["--type", "forgejo"], "base_url"),
        (
            vec!["--type", "github", "--user-matching", "merge"],
            "user_matching",
        ),
    ] {
        let mut full = vec!["source", "create", "other", "--client-id", "x"];
        full.extend(args);
        let output = gh.cli(&full, None);
        assert_eq!(output.status.code(), Some(1), "{full:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(field), "{full:?}: {stderr}");
    }
    let dup = gh.cli(
        &["source", "create", "forgejo", "--type", "github", "--client-id", "x"],
        None,
    );
    assert!(String::from_utf8_lossy(&dup.stderr).contains("already taken"));
    let list = gh.cli_ok(&["source", "list"], None);
    assert!(list.contains("forgejo") && list.contains("(1 sources)"), "{list}");

    // A user's connections.
    store
        .enroll_from_source(
            NewUser::named("carol"),
            stored.id,
            "1001",
            Some("carol-upstream".into()),
            &gatehouse_core::AuditContext::system(),
        )
        .await
        .expect("enroll");
    let connections: serde_json::Value = serde_json::from_str(
        &gh.cli_ok(&["user", "connections", "carol", "--json"], None),
    )
    .expect("json");
    assert_eq!(connections[0]["source_slug"], "forgejo");
    assert_eq!(connections[0]["upstream_id"], "1001");
    assert_eq!(connections[0]["upstream_username"], "carol-upstream");

    let refused = gh.cli(&["source", "delete", "forgejo"], None);
    assert_eq!(refused.status.code(), Some(1));
    gh.cli_ok(&["source", "delete", "forgejo", "--yes"], None);
    assert!(gh.cli_ok(&["source", "list"], None).contains("(0 sources)"));
    let none: serde_json::Value = serde_json::from_str(
        &gh.cli_ok(&["user", "connections", "carol", "--json"], None),
    )
    .expect("json");
    assert_eq!(none, serde_json::json!([]));
}

on_both_backends!(sources_from_the_cli);
