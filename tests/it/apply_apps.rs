//! `applications:` in the declarative document, on both backends: an applied application works
//! at the token endpoint with the applied secret, applying twice changes nothing, a changed
//! redirect URI is planned by name, a bad one is refused with its path and nothing written, and
//! export → apply on a fresh installation round-trips without ever printing a secret.

use crate::on_both_backends;
use crate::support::server::{Backend, Installation, Server};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::StatusCode;
use serde_json::Value;

const SECRET: &str = "grafana-secret-from-the-vault";

const DOCUMENT: &str = r#"
groups:
  - name: grafana-admins
applications:
  - slug: grafana
    name: Grafana
    launch_url: https://grafana.example.com
    allowed_groups: [grafana-admins]
    oidc:
      client_id: grafana
      client_secret: env://GRAFANA_SECRET
      redirect_uris: [https://grafana.example.com/login/generic_oauth]
      scopes: [openid, profile, email, offline_access]
      signing_alg: RS256
      consent: implicit
      backchannel_logout_uri: https://grafana.example.com/logout/backchannel
  - slug: kubectl
    oidc:
      client_id: kubernetes
      public: true
      redirect_uris: ["http://127.0.0.1:8000/"]
      access_token_lifetime: 600
"#;

fn stderr_of(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn write(gh: &Installation, name: &str, text: &str) -> String {
    let file = gh.data_dir().join(name);
    std::fs::write(&file, text).expect("write");
    file.to_str().expect("path").to_owned()
}

async fn client_credentials(server: &Server, client_id: &str, secret: &str) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .post(server.url("/application/o/token/"))
        .header(
            "authorization",
            format!("Basic {}", STANDARD.encode(format!("{client_id}:{secret}"))),
        )
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .expect("token request");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn applied_application_works_and_reapplies_as_no_change(backend: Backend) {
    let mut gh = Installation::new(backend).await;
    gh.env.insert("GRAFANA_SECRET".into(), SECRET.into());
    let path = write(&gh, "apps.yaml", DOCUMENT);

    let dry = gh.cli_ok(&["apply", "-f", &path, "--dry-run"], None);
    assert!(
        dry.contains("+ application grafana (client_id grafana, confidential)")
            && dry.contains("+ application kubectl (client_id kubernetes, public)"),
        "{dry}"
    );
    assert!(!dry.contains(SECRET), "secret never printed: {dry}");
    assert!(
        gh.cli_ok(&["app", "list"], None)
            .contains("(0 applications)")
    );

    let applied = gh.cli_ok(&["apply", "-f", &path], None);
    assert!(applied.contains("change(s) applied"), "{applied}");
    assert_eq!(
        gh.cli_ok(&["apply", "-f", &path], None).trim(),
        "no changes",
        "second apply changes nothing (secret compared by digest)"
    );
    let shown: Value =
        serde_json::from_str(&gh.cli_ok(&["app", "show", "kubectl", "--json"], None))
            .expect("json");
    assert_eq!(shown["name"], "kubectl", "name defaults to the slug");
    assert_eq!(shown["oidc"]["client_type"], "public");
    assert_eq!(shown["oidc"]["require_pkce"], true);
    assert_eq!(shown["oidc"]["access_token_lifetime"], 600);

    // The applied secret works at the token endpoint; a wrong one does not.
    let server = Server::start(&gh, &[]);
    server.wait_ready().await;
    let (status, body) = client_credentials(&server, "grafana", SECRET).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["access_token"].is_string(), "{body}");
    let (status, _) = client_credentials(&server, "grafana", "not-the-applied-secret").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // A changed redirect URI is planned by field name, and applied.
    let changed = DOCUMENT.replace("login/generic_oauth", "login/oauth2");
    let changed_path = write(&gh, "changed.yaml", &changed);
    let dry = gh.cli_ok(&["apply", "-f", &changed_path, "--dry-run"], None);
    assert_eq!(
        dry.lines().next(),
        Some("~ application grafana: redirect_uris"),
        "{dry}"
    );
    gh.cli_ok(&["apply", "-f", &changed_path], None);
    let shown: Value =
        serde_json::from_str(&gh.cli_ok(&["app", "show", "grafana", "--json"], None))
            .expect("json");
    assert_eq!(
        shown["oidc"]["redirect_uris"],
        serde_json::json!(["https://grafana.example.com/login/oauth2"])
    );

    // A new secret is detected and the old one stops working: the server reads the
    // application again once its cached copy is older than the cache TTL (5 s).
    gh.env
        .insert("GRAFANA_SECRET".into(), "a-rotated-grafana-secret".into());
    let rotated = gh.cli_ok(&["apply", "-f", &changed_path], None);
    assert!(
        rotated.contains("~ application grafana: client_secret"),
        "{rotated}"
    );
    let applied_at = std::time::Instant::now();
    loop {
        let (status, _) = client_credentials(&server, "grafana", SECRET).await;
        if status == StatusCode::UNAUTHORIZED {
            break;
        }
        assert_eq!(status, StatusCode::OK);
        assert!(
            applied_at.elapsed()
                < gatehouse_server::oidc::cache::OIDC_CACHE_TTL + std::time::Duration::from_secs(2),
            "the old secret still works after the cache TTL"
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    let (status, _) = client_credentials(&server, "grafana", "a-rotated-grafana-secret").await;
    assert_eq!(status, StatusCode::OK);
    server.terminate();
}

async fn bad_applications_are_refused_with_their_path(backend: Backend) {
    let mut gh = Installation::new(backend).await;
    gh.env.insert("GRAFANA_SECRET".into(), SECRET.into());
    let bad = DOCUMENT.replace(
        "redirect_uris: [https://grafana.example.com/login/generic_oauth]",
        "redirect_uris: [https://grafana.example.com/ok, \"https://grafana.example.com/cb#frag\"]",
    );
    let path = write(&gh, "bad.yaml", &bad);
    let output = gh.cli(&["apply", "-f", &path], None);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr_of(&output)
            .contains("applications[0].oidc.redirect_uris[1]: must not contain a fragment"),
        "{}",
        stderr_of(&output)
    );
    assert!(stderr_of(&output).contains("nothing was changed"));
    assert!(
        gh.cli_ok(&["app", "list"], None)
            .contains("(0 applications)")
    );
    assert!(
        !gh.cli_ok(&["group", "list"], None)
            .contains("grafana-admins"),
        "nothing written"
    );

    let unknown = DOCUMENT.replace(
        "allowed_groups: [grafana-admins]",
        "allowed_groups: [ghosts]",
    );
    let output = gh.cli(
        &["apply", "-f", &write(&gh, "unknown.yaml", &unknown)],
        None,
    );
    assert!(
        stderr_of(&output).contains("applications[0].allowed_groups[0]: unknown group \"ghosts\""),
        "{}",
        stderr_of(&output)
    );
    let short = DOCUMENT.replace("env://GRAFANA_SECRET", "short");
    let output = gh.cli(&["apply", "-f", &write(&gh, "short.yaml", &short)], None);
    assert!(
        stderr_of(&output)
            .contains("applications[0].oidc.client_secret: client secret must be at least 16"),
        "{}",
        stderr_of(&output)
    );
    assert!(!stderr_of(&output).contains("short\n"), "secret not echoed");

    // A client id taken by an application outside the document stops the apply.
    gh.cli_ok(
        &[
            "app",
            "create",
            "other",
            "--client-id",
            "grafana",
            "--public",
        ],
        None,
    );
    let output = gh.cli(&["apply", "-f", &write(&gh, "taken.yaml", DOCUMENT)], None);
    assert!(
        stderr_of(&output).contains("applications[0].oidc.client_id: client_id \"grafana\" is already used by application \"other\""),
        "{}",
        stderr_of(&output)
    );
    assert!(!gh.cli_ok(&["app", "list"], None).contains("kubectl"));
}

async fn export_then_apply_round_trips_without_secrets(backend: Backend) {
    let mut source = Installation::new(backend).await;
    source.env.insert("GRAFANA_SECRET".into(), SECRET.into());
    source.cli_ok(
        &["apply", "-f", &write(&source, "apps.yaml", DOCUMENT)],
        None,
    );
    let exported = source.cli_ok(&["export"], None);
    assert!(
        exported.contains("applications:")
            && exported.contains("slug: grafana")
            && exported.contains("backchannel_logout_uri:")
            && exported.contains("https://grafana.example.com/logout/backchannel"),
        "{exported}"
    );
    assert!(
        !exported.contains("client_secret") && !exported.contains(SECRET),
        "no secret exported: {exported}"
    );
    // Applying the export where the secret exists leaves it alone.
    assert_eq!(
        source
            .cli_ok(
                &["apply", "-f", &write(&source, "export.yaml", &exported)],
                None
            )
            .trim(),
        "no changes"
    );

    let target = Installation::new(backend).await;
    let copy = write(&target, "export.yaml", &exported);
    let applied = target.cli_ok(&["apply", "-f", &copy], None);
    assert!(applied.contains("+ application grafana"), "{applied}");
    assert_eq!(
        target.cli_ok(&["export"], None),
        exported,
        "export is stable across apply"
    );
    assert_eq!(
        target.cli_ok(&["apply", "-f", &copy], None).trim(),
        "no changes"
    );
}

on_both_backends!(
    applied_application_works_and_reapplies_as_no_change,
    bad_applications_are_refused_with_their_path,
    export_then_apply_round_trips_without_secrets,
);
