//! `gatehouse app update` on both backends: settable fields changed in place (the client
//! secret and tokens untouched), one `model_updated` event naming the fields, refusals that
//! leave everything as it was; and `post_logout_redirect_uris` through `export` → `apply` on a
//! fresh installation with every other setting.

use crate::on_both_backends;
use crate::support::server::{Backend, Installation};
use gatehouse_core::EventAction;
use serde_json::{Value, json};

const BYE: &str = "https://grafana.example.com/signed-out";

/// The application as `app show --json` prints it, without the issuer URLs (which depend on
/// the installation's base URL) and the id and creation time (new on a fresh installation).
fn show(gh: &Installation, slug: &str) -> Value {
    let mut value: Value =
        serde_json::from_str(&gh.cli_ok(&["app", "show", slug, "--json"], None)).expect("json");
    for field in ["id", "created_at"] {
        value[field].take();
    }
    for field in ["issuer", "discovery_url"] {
        value["oidc"][field].take();
    }
    value
}

fn created(gh: &Installation) -> String {
    gh.cli_ok(&["group", "create", "viewers"], None);
    gh.cli_ok(&["group", "create", "editors"], None);
    let created: Value = serde_json::from_str(&gh.cli_ok(
        &[
            "app",
            "create",
            "grafana",
            "--client-id",
            "grafana",
            "--redirect-uri",
            "https://grafana.example.com/cb",
            "--allowed-group",
            "viewers",
            "--json",
        ],
        None,
    ))
    .expect("json");
    created["client_secret"]
        .as_str()
        .expect("secret")
        .to_owned()
}

async fn update_changes_fields_in_place(backend: Backend) {
    let gh = Installation::new(backend).await;
    created(&gh);
    let before = show(&gh, "grafana");
    let out = gh.cli_ok(
        &[
            "app",
            "update",
            "grafana",
            "--name",
            "Grafana OSS",
            "--redirect-uri",
            "https://grafana.example.com/login/generic_oauth",
            "--redirect-uri",
            "https://grafana-2.example.com/login/generic_oauth",
            "--post-logout-redirect-uri",
            BYE,
            "--scope",
            "openid",
            "--scope",
            "profile",
            "--scope-mapping",
            "team:team=attributes.team",
            "--allowed-group",
            "editors",
            "--consent",
            "explicit",
            "--subject-mode",
            "username",
            "--access-token-lifetime",
            "600",
            "--require-pkce",
            "true",
        ],
        None,
    );
    assert!(out.contains("updated application grafana"), "{out}");
    let after = show(&gh, "grafana");
    assert_eq!(after["name"], "Grafana OSS");
    assert_eq!(after["allowed_groups"], json!(["editors"]));
    let oidc = &after["oidc"];
    assert_eq!(
        oidc["redirect_uris"],
        json!([
            "https://grafana.example.com/login/generic_oauth",
            "https://grafana-2.example.com/login/generic_oauth"
        ])
    );
    assert_eq!(oidc["post_logout_redirect_uris"], json!([BYE]));
    assert_eq!(oidc["scopes"], json!(["openid", "profile", "team"]));
    assert_eq!(
        oidc["scope_mappings"],
        json!({"team": {"team": "attributes.team"}})
    );
    assert_eq!(oidc["consent"], "explicit");
    assert_eq!(oidc["subject_mode"], "username");
    assert_eq!(oidc["access_token_lifetime"], 600);
    assert_eq!(oidc["require_pkce"], true);
    // Untouched: the client id, type, algorithm and the other lifetimes.
    for field in [
        "client_id",
        "client_type",
        "signing_alg",
        "refresh_token_lifetime",
    ] {
        assert_eq!(oidc[field], before["oidc"][field], "{field}");
    }

    let events = gh.events().await;
    let updates: Vec<_> = events
        .iter()
        .filter(|e| e.action == EventAction::ModelUpdated)
        .collect();
    assert_eq!(updates.len(), 1, "{updates:?}");
    let fields = updates[0].context["fields"].to_string();
    for field in [
        "name",
        "allowed_groups",
        "redirect_uris",
        "post_logout_redirect_uris",
        "scopes",
        "scope_mappings",
        "consent",
        "subject_mode",
        "access_token_lifetime",
        "require_pkce",
    ] {
        assert!(
            fields.contains(&format!("\"{field}\"")),
            "{field}: {fields}"
        );
    }
    assert!(!fields.contains("client_secret"), "{fields}");

    // The same values again: nothing to do, no event.
    let out = gh.cli_ok(&["app", "update", "grafana", "--consent", "explicit"], None);
    assert!(out.contains("unchanged"), "{out}");

    // Clearing options.
    gh.cli_ok(
        &[
            "app",
            "update",
            "grafana",
            "--everyone",
            "--no-post-logout-redirect-uris",
            "--no-scope-mappings",
        ],
        None,
    );
    let cleared = show(&gh, "grafana");
    assert_eq!(cleared["allowed_groups"], json!([]));
    assert_eq!(cleared["oidc"]["post_logout_redirect_uris"], json!([]));
    assert_eq!(cleared["oidc"]["scope_mappings"], json!({}));
}

async fn bad_updates_change_nothing(backend: Backend) {
    let gh = Installation::new(backend).await;
    created(&gh);
    let before = show(&gh, "grafana");
    for (args, expected) in [
        (
            vec!["--redirect-uri", "https://a.example/cb#frag"],
            "redirect_uris[0]",
        ),
        (
            vec![
                "--redirect-uri",
                "https://ok.example/cb",
                "--allowed-group",
                "ghosts",
            ],
            "ghosts",
        ),
        (
            vec!["--post-logout-redirect-uri", "not a uri"],
            "post_logout_redirect_uris[0]",
        ),
        (
            vec!["--scope-mapping", "team:sub=user.id"],
            "standard claim",
        ),
        (
            vec!["--access-token-lifetime", "0"],
            "access_token_lifetime",
        ),
        (vec!["--consent", "sometimes"], "consent"),
    ] {
        let mut command = vec!["app", "update", "grafana"];
        command.extend(&args);
        let output = gh.cli(&command, None);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?} accepted");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert_eq!(show(&gh, "grafana"), before, "{args:?} changed something");
    }
    let output = gh.cli(&["app", "update", "nope", "--name", "x"], None);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("not found"));
}

async fn export_apply_round_trips_every_setting(backend: Backend) {
    let gh = Installation::new(backend).await;
    created(&gh);
    gh.cli_ok(
        &[
            "app",
            "update",
            "grafana",
            "--post-logout-redirect-uri",
            BYE,
            "--scope-mapping",
            "team:team=attributes.team",
            "--code-lifetime",
            "30",
        ],
        None,
    );
    let exported = gh.cli_ok(&["export"], None);
    assert!(exported.contains("post_logout_redirect_uris"), "{exported}");
    let fresh = Installation::new(backend).await;
    let path = fresh.data_dir().join("export.yaml");
    std::fs::write(&path, &exported).expect("write");
    let path = path.to_str().expect("path");
    fresh.cli_ok(&["apply", "-f", path], None);
    assert_eq!(show(&fresh, "grafana"), show(&gh, "grafana"));
    let again = fresh.cli_ok(&["apply", "-f", path, "--dry-run"], None);
    assert!(!again.contains("application grafana"), "{again}");
}

on_both_backends!(
    update_changes_fields_in_place,
    bad_updates_change_nothing,
    export_apply_round_trips_every_setting
);
