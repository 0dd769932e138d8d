//! `gatehouse import dex` on a realistic Dex configuration (tests/dex/config.yaml), on both
//! backends: a dry run writes nothing, the import creates the clients and users, a second
//! run changes nothing, and then panva's openid-client signs in with an imported client and
//! an imported bcrypt password and gets the very `sub` Dex gave that user; a public client
//! redeems its code with PKCE and sees the same `sub`; the gitea, github and oidc connectors
//! become sources, the ldap one is reported. Bad input imports nothing.

use crate::oidc::{client, post_form, query_param, relying_party, sign_in_with};
use crate::on_both_backends;
use crate::support::server::{Backend, Installation, Server, run_cli};
use reqwest::StatusCode;
use serde_json::Value;
use std::collections::BTreeMap;
use std::process::Output;

const CONFIG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/dex/config.yaml");
const GRAFANA_SECRET: &str = "grafana-secret-from-the-environment";
/// The `sub` Dex issues to admin@example.com (userID 08a8684b-…, connector `local`).
const DEX_ADMIN_SUB: &str = "CiQwOGE4Njg0Yi1kYjg4LTRiNzMtOTBhOS0zY2QxNjYxZjU0NjYSBWxvY2Fs";
/// bcrypt of "robot password" (cost 4), given through `hashFromEnv`.
const ROBOT_HASH: &str = "$2b$04$eiKq3BuHCmFnJQZPbjWWOOqGIcpA3cDAHV3z3Fv4g6VeN/vsHIdue";

fn dex_env(gh: &Installation) -> BTreeMap<String, String> {
    let mut env = gh.env.clone();
    for (name, value) in [
        ("GRAFANA_CLIENT_SECRET", GRAFANA_SECRET),
        ("KUBECTL_CLIENT_ID", "kubectl"),
        ("ROBOT_PASSWORD_HASH", ROBOT_HASH),
        ("FORGEJO_CLIENT_ID", "dex"),
        ("FORGEJO_CLIENT_SECRET", "forgejo-secret"),
        ("GITHUB_CLIENT_ID", "gh-client"),
        ("GITHUB_CLIENT_SECRET", "gh-secret"),
        ("KEYCLOAK_CLIENT_SECRET", "kc-secret"),
        ("LDAP_BIND_PASSWORD", "ldap-secret"),
    ] {
        env.insert(name.into(), value.into());
    }
    env
}

fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn import(env: &BTreeMap<String, String>, extra: &[&str]) -> Output {
    let mut args = vec!["import", "dex", CONFIG];
    args.extend_from_slice(extra);
    run_cli(env, &args, None)
}

async fn import_then_sign_in_with_dex_subjects(backend: Backend) {
    let gh = Installation::new(backend).await;
    let env = dex_env(&gh);

    let dry = import(&env, &["--dry-run"]);
    let (out, err) = text(&dry);
    assert!(dry.status.success(), "{out}\n{err}");
    assert!(out.contains("dry run, nothing written"), "{out}");
    for expected in [
        "staticClients[1].trustedPeers",
        "connectors[3] (ldap \"ad\")",
        "Gatehouse has no ldap source",
        "connectors[0] (gitea \"forgejo\") connectors[0].config.orgs",
        "/source/oauth/callback/keycloak/",
        "expiry.refreshTokens.absoluteLifetime",
        "https://dex.example.com/dex",
        "application/o/grafana/",
        DEX_ADMIN_SUB,
    ] {
        assert!(out.contains(expected), "report lacks {expected:?}:\n{out}");
    }
    assert!(!gh.cli_ok(&["app", "list"], None).contains("grafana"));

    let first = import(&env, &[]);
    let (out, err) = text(&first);
    assert!(first.status.success(), "{out}\n{err}");
    assert!(out.contains("change(s) applied"), "{out}");
    let again = import(&env, &[]);
    let (out, _) = text(&again);
    assert!(again.status.success());
    assert!(
        out.trim_end().ends_with("no changes"),
        "a second import changed something:\n{out}"
    );
    let apps = gh.cli_ok(&["app", "list"], None);
    for slug in ["grafana", "argo-cd", "argo-cd-cli", "kubectl"] {
        assert!(apps.contains(slug), "{apps}");
    }
    let sources = gh.cli_ok(&["source", "list"], None);
    for slug in ["forgejo", "github", "keycloak"] {
        assert!(sources.contains(slug), "{sources}");
    }
    assert!(!sources.contains(" ad "), "{sources}");
    let robot: Value =
        serde_json::from_str(&gh.cli_ok(&["user", "show", "deploy-robot", "--json"], None))
            .expect("json");
    assert_eq!(robot["email"], "robot@example.com");
    assert_eq!(robot["has_password"], true);
    assert_eq!(robot["attributes"]["dex_connector_id"], "local");

    let server = Server::start(&gh, &[]);
    server.wait_ready().await;
    let issuer = server.url("/application/o/grafana/");
    let start = relying_party(&[
        "start",
        &issuer,
        "grafana",
        GRAFANA_SECRET,
        "https://grafana.example.com/login/generic_oauth",
        r#"{"scope": "openid email groups"}"#,
    ]);
    let url = start["url"].as_str().expect("url");
    let browser = client();
    // Dex signed users in by email; Gatehouse accepts the email too. No approval screen:
    // the configuration skips it, so consent is implicit.
    let target = sign_in_with(
        &server,
        &browser,
        url,
        &[("uid", "admin@example.com"), ("password", "password")],
    )
    .await;
    let response = browser
        .get(server.url(&target))
        .send()
        .await
        .expect("authorize");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let callback = crate::oidc::location(&response);
    let result = relying_party(&[
        "redeem",
        &issuer,
        "grafana",
        GRAFANA_SECRET,
        &callback,
        start["state"].as_str().expect("state"),
        start["nonce"].as_str().expect("nonce"),
        start["verifier"].as_str().expect("verifier"),
    ]);
    let claims = &result["claims"];
    assert_eq!(claims["sub"], DEX_ADMIN_SUB, "{claims}");
    assert_eq!(claims["email"], "admin@example.com");
    assert_eq!(claims["groups"], serde_json::json!(["platform-admins"]));
    assert!(claims["exp"].as_i64().expect("exp") - claims["iat"].as_i64().expect("iat") == 3600);

    // The public kubectl client (id from idEnv) redeems with PKCE and no secret; Dex's
    // subjects are the same for every client, and so are the imported ones.
    let verifier = "kubectl-verifier-0123456789-0123456789-0123456789";
    let challenge = gatehouse_oidc::pkce::s256_challenge(verifier);
    let redirect = "http://localhost:18000";
    let url = server.url(&format!(
        "/application/o/authorize/?response_type=code&client_id=kubectl&redirect_uri={}&scope=openid&state=k&code_challenge={challenge}&code_challenge_method=S256",
        gatehouse_oidc::authorize::form_encode(redirect)
    ));
    let response = browser.get(&url).send().await.expect("authorize");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let back = crate::oidc::location(&response);
    let code = query_param(&back, "code").unwrap_or_else(|| panic!("no code in {back}"));
    let (status, _, body) = post_form(
        &client(),
        &server.url("/application/o/token/"),
        None,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", redirect),
            ("client_id", "kubectl"),
            ("code_verifier", verifier),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let id_token = body["id_token"].as_str().expect("id_token");
    assert_eq!(crate::oidc::claims_of(id_token)["sub"], DEX_ADMIN_SUB);
}

async fn bad_dex_configurations_import_nothing(backend: Backend) {
    let gh = Installation::new(backend).await;
    let mut env = dex_env(&gh);
    env.remove("FORGEJO_CLIENT_SECRET");
    let missing = import(&env, &[]);
    let (out, err) = text(&missing);
    assert_eq!(missing.status.code(), Some(2), "{out}\n{err}");
    assert!(
        err.contains(
            "connectors[0].config.clientSecret: environment variable FORGEJO_CLIENT_SECRET is not set"
        ),
        "{err}"
    );
    assert!(err.contains("nothing was imported"), "{err}");

    let broken = gh.data_dir().join("broken.yaml");
    std::fs::write(
        &broken,
        "issuer: https://dex.example.com\nstaticClients: [\n",
    )
    .expect("write");
    let output = run_cli(
        &dex_env(&gh),
        &["import", "dex", &broken.display().to_string()],
        None,
    );
    let (_, err) = text(&output);
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert!(err.contains("not valid YAML"), "{err}");

    let users = gh.cli_ok(&["user", "list"], None);
    assert!(!users.contains("admin@example.com"), "{users}");
    assert!(!gh.cli_ok(&["app", "list"], None).contains("grafana"));
}

on_both_backends!(
    import_then_sign_in_with_dex_subjects,
    bad_dex_configurations_import_nothing
);
