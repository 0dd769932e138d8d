//! `gatehouse source …` and `gatehouse user connections`, on both backends: a source created
//! with its secret on standard input is stored sealed and never printed; bad settings are
//! refused naming the field; deletion needs `--yes`; a user's connections are listed;
//! `sources:` in `apply` is idempotent, and `export` writes the secret sealed and applies
//! back to no change.

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
        &[
            "source",
            "create",
            "forgejo",
            "--type",
            "github",
            "--client-id",
            "x",
        ],
        None,
    );
    assert!(String::from_utf8_lossy(&dup.stderr).contains("already taken"));
    let list = gh.cli_ok(&["source", "list"], None);
    assert!(
        list.contains("forgejo") && list.contains("(1 sources)"),
        "{list}"
    );

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
    let connections: serde_json::Value =
        serde_json::from_str(&gh.cli_ok(&["user", "connections", "carol", "--json"], None))
            .expect("json");
    assert_eq!(connections[0]["source_slug"], "forgejo");
    assert_eq!(connections[0]["upstream_id"], "1001");
    assert_eq!(connections[0]["upstream_username"], "carol-upstream");

    let refused = gh.cli(&["source", "delete", "forgejo"], None);
    assert_eq!(refused.status.code(), Some(1));
    gh.cli_ok(&["source", "delete", "forgejo", "--yes"], None);
    assert!(gh.cli_ok(&["source", "list"], None).contains("(0 sources)"));
    let none: serde_json::Value =
        serde_json::from_str(&gh.cli_ok(&["user", "connections", "carol", "--json"], None))
            .expect("json");
    assert_eq!(none, serde_json::json!([]));
}

const DOCUMENT: &str = "
groups:
  - name: forgejo
sources:
  - slug: forgejo
    name: Forgejo
    type: forgejo
    base_url: https://git.example.com/
    client_id: gatehouse
    client_secret: env://FORGEJO_CLIENT_SECRET
    user_matching: email_link
    group_sync: { mode: create, parent: forgejo }
  - slug: idp
    type: oidc
    discovery_url: https://idp.example.com/.well-known/openid-configuration
    client_id: gh
    scopes: [openid, email]
    claims: { subject: sub, username: nickname, email: email, email_verified: email_verified, name: name, groups: roles }
    user_matching: deny
    enabled: false
";

async fn sources_in_apply_and_export(backend: Backend) {
    let mut gh = Installation::new(backend).await;
    gh.env.insert("FORGEJO_CLIENT_SECRET".into(), SECRET.into());
    let file = gh.data_dir().join("sources.yaml");
    std::fs::write(&file, DOCUMENT).expect("write");
    let path = file.to_str().expect("path");
    let applied = gh.cli_ok(&["apply", "-f", path], None);
    assert!(applied.contains("~ source forgejo (forgejo)"), "{applied}");
    assert!(applied.contains("~ source idp (oidc)"), "{applied}");
    assert!(!applied.contains(SECRET));
    assert_eq!(gh.cli_ok(&["apply", "-f", path], None).trim(), "no changes");
    let store = gh.store().await;
    let idp = store
        .source_by_slug("idp")
        .await
        .expect("read")
        .expect("idp");
    assert!(!idp.settings.enabled);
    assert_eq!(idp.settings.claims.username, "nickname");
    let sealed_before = store
        .source_by_slug("forgejo")
        .await
        .expect("read")
        .expect("forgejo")
        .settings
        .client_secret_sealed;

    // Export writes the sealed secret, never the clear one, and applies back to no change.
    let exported = gh.cli_ok(&["export"], None);
    assert!(!exported.contains(SECRET), "{exported}");
    assert!(exported.contains("client_secret_sealed: v1."), "{exported}");
    let copy = gh.data_dir().join("export.yaml");
    std::fs::write(&copy, &exported).expect("write");
    assert_eq!(
        gh.cli_ok(&["apply", "-f", copy.to_str().expect("path")], None)
            .trim(),
        "no changes"
    );
    assert_eq!(gh.cli_ok(&["export"], None), exported, "export is stable");

    // A new secret is sealed anew; the other source is untouched.
    gh.env
        .insert("FORGEJO_CLIENT_SECRET".into(), "rotated-secret".into());
    let rotated = gh.cli_ok(&["apply", "-f", path], None);
    assert_eq!(
        rotated.lines().filter(|l| l.starts_with('~')).count(),
        1,
        "{rotated}"
    );
    let sealed_after = store
        .source_by_slug("forgejo")
        .await
        .expect("read")
        .expect("forgejo")
        .settings
        .client_secret_sealed;
    assert_ne!(sealed_after, sealed_before);

    // References are checked with their place, and nothing is written.
    let broken = gh.data_dir().join("broken.yaml");
    std::fs::write(&broken, DOCUMENT.replace("parent: forgejo", "parent: nope")).expect("write");
    let output = gh.cli(&["apply", "-f", broken.to_str().expect("path")], None);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("sources[0].group_sync.parent"), "{stderr}");
    let bad_url = gh.data_dir().join("bad-url.yaml");
    std::fs::write(
        &bad_url,
        DOCUMENT.replace("https://git.example.com/", "ftp://git.example.com"),
    )
    .expect("write");
    let output = gh.cli(&["apply", "-f", bad_url.to_str().expect("path")], None);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("sources[0].base_url"));
}

on_both_backends!(sources_from_the_cli, sources_in_apply_and_export);
