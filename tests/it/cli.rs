//! The admin CLI and the declarative document, on both backends: every command, its errors,
//! and `apply` being atomic and idempotent with `export` as its lossless inverse.

use crate::on_both_backends;
use crate::support::server::{Backend, Installation};
use gatehouse_core::{EventAction, EventQuery, EventStore};

fn stderr_of(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

async fn users_and_groups_from_the_cli(backend: Backend) {
    let gh = Installation::new(backend).await;
    gh.cli_ok(&["group", "create", "staff"], None);
    gh.cli_ok(
        &["group", "create", "grafana-admins", "--parent", "staff"],
        None,
    );
    let created = gh.cli_ok(
        &[
            "user",
            "create",
            "alice",
            "--name",
            "Alice Example",
            "--email",
            "alice@Example.COM",
            "--group",
            "grafana-admins",
            "--password-stdin",
        ],
        Some("correct horse battery staple\n"),
    );
    assert!(created.contains("created user alice"), "{created}");

    let shown: serde_json::Value =
        serde_json::from_str(&gh.cli_ok(&["user", "show", "alice", "--json"], None)).expect("json");
    assert_eq!(shown["email"], "alice@example.com", "domain lowercased");
    assert_eq!(shown["groups"], serde_json::json!(["grafana-admins"]));
    assert_eq!(
        shown["effective_groups"],
        serde_json::json!(["grafana-admins", "staff"])
    );
    assert_eq!(shown["has_password"], true);
    assert!(shown.get("password_hash").is_none(), "hash never printed");

    // Duplicates, bad emails, unknown groups and weak passwords are refused, writing nothing.
    let dup = gh.cli(&["user", "create", "alice"], None);
    assert_eq!(dup.status.code(), Some(1));
    assert!(
        stderr_of(&dup).contains("already taken"),
        "{}",
        stderr_of(&dup)
    );
    let bad = gh.cli(
        &["user", "create", "bob", "--email", "bob-at-example"],
        None,
    );
    assert!(stderr_of(&bad).contains("email"), "{}", stderr_of(&bad));
    let unknown = gh.cli(&["user", "create", "carol", "--group", "nope"], None);
    assert!(!unknown.status.success());
    assert!(
        stderr_of(&unknown).contains("nope"),
        "{}",
        stderr_of(&unknown)
    );
    let weak = gh.cli(&["user", "set-password", "alice"], Some("123\n"));
    assert!(
        stderr_of(&weak).contains("password must be at least"),
        "{}",
        stderr_of(&weak)
    );
    let listed = gh.cli_ok(&["user", "list"], None);
    assert!(listed.contains("(1 of 1 users)"), "{listed}");
    let dup_group = gh.cli(&["group", "create", "staff"], None);
    assert!(
        stderr_of(&dup_group).contains("already"),
        "{}",
        stderr_of(&dup_group)
    );
    let orphan = gh.cli(&["group", "create", "x", "--parent", "missing"], None);
    assert!(
        stderr_of(&orphan).contains("missing"),
        "{}",
        stderr_of(&orphan)
    );

    gh.cli_ok(
        &["user", "create", "bob", "--email", "bob@example.com"],
        None,
    );
    gh.cli_ok(&["group", "add-member", "staff", "bob"], None);
    let groups = gh.cli_ok(&["group", "list"], None);
    assert!(
        groups.contains("grafana-admins") && groups.contains("staff"),
        "{groups}"
    );
    let searched = gh.cli_ok(&["user", "list", "--search", "EXAMPLE.com", "--json"], None);
    let searched: serde_json::Value = serde_json::from_str(&searched).expect("json");
    assert_eq!(searched["total"], 2);
    let paged: serde_json::Value = serde_json::from_str(&gh.cli_ok(
        &["user", "list", "--limit", "1", "--offset", "1", "--json"],
        None,
    ))
    .expect("json");
    assert_eq!(paged["items"][0]["username"], "bob");
    assert_eq!(paged["total"], 2);

    gh.cli_ok(&["user", "deactivate", "bob"], None);
    let bob: serde_json::Value =
        serde_json::from_str(&gh.cli_ok(&["user", "show", "bob", "--json"], None)).expect("json");
    assert_eq!(bob["active"], false);
    gh.cli_ok(&["group", "remove-member", "staff", "bob"], None);
    let refused = gh.cli(&["user", "delete", "bob"], None);
    assert!(
        !refused.status.success(),
        "delete without --yes and without a terminal is refused"
    );
    gh.cli_ok(&["user", "delete", "bob", "--yes"], None);
    let gone = gh.cli(&["user", "show", "bob"], None);
    assert!(stderr_of(&gone).contains("not found"));

    let store = gh.store().await;
    let events = store
        .list_events(&EventQuery {
            limit: 200,
            ..EventQuery::default()
        })
        .await
        .expect("events");
    let actions: Vec<EventAction> = events.items.iter().map(|e| e.action).collect();
    for expected in [
        EventAction::ModelCreated,
        EventAction::ModelUpdated,
        EventAction::ModelDeleted,
    ] {
        assert!(actions.contains(&expected), "{actions:?}");
    }
    // Storing the default flows on first use is the system's doing; everything else the CLI's.
    let (seeding, changes): (Vec<_>, Vec<_>) = events
        .items
        .iter()
        .partition(|e| e.context.get("model").and_then(|m| m.as_str()) == Some("flow"));
    assert!(seeding.iter().all(|e| e.actor == "system"), "{seeding:?}");
    assert!(
        changes.iter().all(|e| e.actor.starts_with("cli:")),
        "CLI changes name their actor"
    );
}

const DOCUMENT: &str = r#"
groups:
  - name: grafana-admins
    parent: staff
  - name: staff
    attributes: { cost_center: "42" }
users:
  - username: alice
    name: Alice Example
    email: alice@example.com
    password: env://ALICE_PASSWORD
    groups: [grafana-admins]
  - username: dex-import
    email: dex@example.com
    password_hash: "$2b$04$DBP8m3mYVq1CWC4o4B6TNuJn2ZC6qEsuRzPnh2KmQw8oixhu5Qt1m"
    groups: [staff]
    attributes: { source: dex }
"#;

async fn apply_is_idempotent_and_atomic(backend: Backend) {
    let mut gh = Installation::new(backend).await;
    gh.env
        .insert("ALICE_PASSWORD".into(), "alice's long passphrase".into());
    let file = gh.data_dir().join("doc.yaml");
    std::fs::write(&file, DOCUMENT).expect("write");
    let path = file.to_str().expect("path");

    let dry = gh.cli_ok(&["apply", "-f", path, "--dry-run"], None);
    assert!(
        dry.contains("+ group staff") && dry.contains("+ user alice"),
        "{dry}"
    );
    assert!(dry.contains("dry run, nothing written"));
    assert!(
        gh.cli_ok(&["user", "list"], None)
            .contains("(0 of 0 users)")
    );

    let applied = gh.cli_ok(&["apply", "-f", path], None);
    assert!(applied.contains("change(s) applied"), "{applied}");
    assert_eq!(
        gh.cli_ok(&["apply", "-f", path], None).trim(),
        "no changes",
        "second apply changes nothing"
    );
    let alice: serde_json::Value =
        serde_json::from_str(&gh.cli_ok(&["user", "show", "alice", "--json"], None)).expect("json");
    assert_eq!(
        alice["effective_groups"],
        serde_json::json!(["grafana-admins", "staff"])
    );

    // A changed password is detected by verifying, and applied.
    gh.env
        .insert("ALICE_PASSWORD".into(), "a brand new passphrase".into());
    let changed = gh.cli_ok(&["apply", "-f", path], None);
    assert!(changed.contains("~ user alice: password"), "{changed}");

    // An unknown group is reported with its place and nothing is written.
    let broken = gh.data_dir().join("broken.yaml");
    std::fs::write(&broken, "groups:\n  - name: newcomers\nusers:\n  - username: carol\n    groups: [newcomers, ghosts]\n").expect("write");
    let output = gh.cli(&["apply", "-f", broken.to_str().expect("path")], None);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr_of(&output).contains("users[0].groups[1]: unknown group \"ghosts\""),
        "{}",
        stderr_of(&output)
    );
    let groups = gh.cli_ok(&["group", "list"], None);
    assert!(!groups.contains("newcomers"), "nothing written: {groups}");

    // A cycle through existing groups is refused by the planner.
    let cycle = gh.data_dir().join("cycle.yaml");
    std::fs::write(
        &cycle,
        "groups:\n  - name: staff\n    parent: grafana-admins\n",
    )
    .expect("write");
    let output = gh.cli(&["apply", "-f", cycle.to_str().expect("path")], None);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr_of(&output).contains("cycle"),
        "{}",
        stderr_of(&output)
    );

    // A store-level failure in the middle rolls back everything before it: the new group is
    // valid, the user's email collides with nothing, but the username is invalid only for the
    // store's case-insensitive uniqueness rule.
    let collide = gh.data_dir().join("collide.yaml");
    std::fs::write(
        &collide,
        "groups:\n  - name: late-group\nusers:\n  - username: ALICE\n    groups: [late-group]\n",
    )
    .expect("write");
    let output = gh.cli(&["apply", "-f", collide.to_str().expect("path")], None);
    assert!(
        !output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    assert!(
        stderr_of(&output).contains("nothing was changed"),
        "{}",
        stderr_of(&output)
    );
    assert!(
        !gh.cli_ok(&["group", "list"], None).contains("late-group"),
        "rolled back"
    );

    // Malformed YAML and unknown keys are clear errors.
    let junk = gh.data_dir().join("junk.yaml");
    std::fs::write(&junk, "users: [username: {").expect("write");
    assert_eq!(
        gh.cli(&["apply", "-f", junk.to_str().expect("path")], None)
            .status
            .code(),
        Some(2)
    );
    std::fs::write(&junk, "applications_typo: []\n").expect("write");
    let output = gh.cli(&["apply", "-f", junk.to_str().expect("path")], None);
    assert!(
        stderr_of(&output).contains("applications_typo"),
        "{}",
        stderr_of(&output)
    );
}

async fn export_then_apply_round_trips(backend: Backend) {
    let mut source = Installation::new(backend).await;
    source
        .env
        .insert("ALICE_PASSWORD".into(), "alice's long passphrase".into());
    let file = source.data_dir().join("doc.yaml");
    std::fs::write(&file, DOCUMENT).expect("write");
    source.cli_ok(&["apply", "-f", file.to_str().expect("path")], None);
    source.cli_ok(
        &["user", "create", "robot", "--type", "service_account"],
        None,
    );
    source.cli_ok(&["user", "deactivate", "robot"], None);
    let exported = source.cli_ok(&["export"], None);
    assert!(
        exported.contains("$argon2id$") && exported.contains("$2b$04$"),
        "hashes exported: {exported}"
    );

    let target = Installation::new(backend).await;
    let copy = target.data_dir().join("export.yaml");
    let written = target.cli_ok(&["export", "-o", copy.to_str().expect("path")], None);
    assert!(written.is_empty());
    std::fs::write(&copy, &exported).expect("write");
    target.cli_ok(&["apply", "-f", copy.to_str().expect("path")], None);
    assert_eq!(
        target.cli_ok(&["export"], None),
        exported,
        "export is stable across apply"
    );
    assert_eq!(
        target
            .cli_ok(&["apply", "-f", copy.to_str().expect("path")], None)
            .trim(),
        "no changes"
    );
}

/// What an administrator does for a locked-out or compromised account, from the shell:
/// sessions listed and ended (the browser is signed out), MFA devices listed and removed, a
/// linked account removed, a recovery mail refused without SMTP, and the audit log read.
async fn account_access_from_the_cli(backend: Backend) {
    use gatehouse_core::{
        DeviceKind, DeviceStore, NewDevice, NewSourceConnection, SourceStore, UserStore,
    };
    let gh = Installation::new(backend).await;
    gh.cli_ok(
        &[
            "user",
            "create",
            "alice",
            "--email",
            "alice@example.com",
            "--password-stdin",
        ],
        Some("correct horse battery staple\n"),
    );
    let server = crate::support::server::Server::start(&gh, &[]);
    server.wait_ready().await;
    let browser = crate::oidc::client();
    crate::oidc::sign_in_with(
        &server,
        &browser,
        &server.url("/if/user/"),
        &[
            ("uid", "alice"),
            ("password", "correct horse battery staple"),
        ],
    )
    .await;
    let portal = |browser: reqwest::Client| {
        let url = server.url("/if/user/");
        async move { browser.get(url).send().await.expect("portal").status() }
    };
    assert_eq!(portal(browser.clone()).await, reqwest::StatusCode::OK);

    let sessions: serde_json::Value =
        serde_json::from_str(&gh.cli_ok(&["user", "sessions", "alice", "--json"], None))
            .expect("json");
    assert_eq!(sessions.as_array().map(Vec::len), Some(1), "{sessions}");
    assert_eq!(sessions[0]["client_ip"], "127.0.0.1");
    let bad = gh.cli(
        &["user", "end-sessions", "alice", "--session", "nope"],
        None,
    );
    assert!(stderr_of(&bad).contains("is not a session id"));
    let ended = gh.cli_ok(&["user", "end-sessions", "alice"], None);
    assert!(ended.contains("ended 1 sessions of alice"), "{ended}");
    assert_ne!(
        portal(browser).await,
        reqwest::StatusCode::OK,
        "the browser is signed out"
    );
    assert!(
        gh.cli_ok(&["user", "sessions", "alice"], None)
            .contains("(0 sessions)")
    );

    let store = gh.store().await;
    let alice = store
        .user_by_username("alice")
        .await
        .expect("lookup")
        .expect("alice");
    let device = store
        .create_device(
            NewDevice {
                user_id: alice.id,
                kind: DeviceKind::Totp,
                name: "old phone".into(),
                secret_sealed: "sealed".into(),
                last_used_step: None,
            },
            &gatehouse_core::AuditContext::cli(),
        )
        .await
        .expect("device");
    let listed = gh.cli_ok(&["user", "devices", "alice"], None);
    assert!(
        listed.contains("old phone") && listed.contains("(1 devices)"),
        "{listed}"
    );
    assert!(!listed.contains("sealed"), "never the secret: {listed}");
    let missing = gh.cli(
        &[
            "user",
            "remove-device",
            "alice",
            &uuid::Uuid::new_v4().to_string(),
        ],
        None,
    );
    assert!(stderr_of(&missing).contains("alice has no device"));
    let removed = gh.cli_ok(
        &["user", "remove-device", "alice", &device.id.to_string()],
        None,
    );
    assert!(
        removed.contains("removed totp device \"old phone\""),
        "{removed}"
    );
    assert!(
        store
            .devices_of(alice.id)
            .await
            .expect("devices")
            .is_empty()
    );

    gh.cli_ok(
        &[
            "source",
            "create",
            "forgejo",
            "--type",
            "forgejo",
            "--base-url",
            "https://git.example.com/",
            "--client-id",
            "gatehouse",
        ],
        None,
    );
    let forgejo = store
        .source_by_slug("forgejo")
        .await
        .expect("lookup")
        .expect("source");
    store
        .link_source(
            NewSourceConnection {
                source_id: forgejo.id,
                user_id: alice.id,
                upstream_id: "101".into(),
                upstream_username: Some("alice".into()),
            },
            &gatehouse_core::AuditContext::cli(),
        )
        .await
        .expect("link");
    let unlinked = gh.cli_ok(&["user", "unlink", "alice", "forgejo"], None);
    assert!(
        unlinked.contains("unlinked alice from forgejo"),
        "{unlinked}"
    );
    let again = gh.cli(&["user", "unlink", "alice", "forgejo"], None);
    assert!(stderr_of(&again).contains("alice has no link at forgejo"));

    let no_mail = gh.cli(&["user", "send-recovery", "alice"], None);
    assert!(!no_mail.status.success());
    assert!(
        stderr_of(&no_mail).contains("email is not configured"),
        "{}",
        stderr_of(&no_mail)
    );

    let events: serde_json::Value = serde_json::from_str(&gh.cli_ok(
        &["events", "--action", "login", "--user", "alice", "--json"],
        None,
    ))
    .expect("json");
    assert_eq!(events.as_array().map(Vec::len), Some(1), "{events}");
    let ended = gh.cli_ok(
        &["events", "--action", "model_deleted", "--limit", "5"],
        None,
    );
    assert!(
        ended.contains("session") && ended.contains("device"),
        "{ended}"
    );
    let unknown = gh.cli(&["events", "--action", "teleport"], None);
    assert!(stderr_of(&unknown).contains("unknown action"));
    let bad_time = gh.cli(&["events", "--since", "yesterday"], None);
    assert!(stderr_of(&bad_time).contains("not an RFC 3339 time"));
}

on_both_backends!(
    users_and_groups_from_the_cli,
    apply_is_idempotent_and_atomic,
    export_then_apply_round_trips,
    account_access_from_the_cli,
);
