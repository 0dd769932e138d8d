//! `gatehouse import dex` on a realistic Dex configuration (tests/dex/config.yaml), on both
//! backends: a dry run writes nothing, the import creates the clients and users, a second
//! run changes nothing, and then panva's openid-client signs in with an imported client and
//! an imported bcrypt password and gets the very `sub` Dex gave that user; a public client
//! redeems its code with PKCE and sees the same `sub`; the gitea, github and oidc connectors
//! become sources, the ldap one is reported. Bad input imports nothing. With
//! `dex_compat.issuer_path`, openid-client uses an imported client through Dex's own
//! issuer and paths (`/dex/auth`, `/dex/token`, `/dex/keys`, `/dex/userinfo`), the tokens
//! name that issuer through a refresh, and errors there are those of the usual endpoints.

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

async fn imported_clients_keep_dexs_issuer_and_paths(backend: Backend) {
    let gh = Installation::new(backend).await;
    let env = dex_env(&gh);
    let imported = import(&env, &[]);
    let (out, err) = text(&imported);
    assert!(imported.status.success(), "{out}\n{err}");
    assert!(
        out.contains("dex_compat: { issuer_path: \"/dex\" }"),
        "the report tells how to keep Dex's paths:\n{out}"
    );

    let server = Server::start(&gh, &[("GATEHOUSE_DEX_COMPAT__ISSUER_PATH", "/dex")]);
    server.wait_ready().await;
    let alias = server.url("/dex");
    let app_issuer = server.url("/application/o/grafana/");
    let mut alias_env = env.clone();
    alias_env.insert("GATEHOUSE_DEX_COMPAT__ISSUER_PATH".into(), "/dex".into());
    let (out, _) = text(&run_cli(
        &alias_env,
        &["import", "dex", CONFIG, "--dry-run"],
        None,
    ));
    for path in ["/dex/auth", "/dex/token", "/dex/userinfo", "/dex/keys"] {
        assert!(
            out.contains(path),
            "the report lacks the alias {path}:\n{out}"
        );
    }

    let discovered: Value = reqwest::get(server.url("/dex/.well-known/openid-configuration"))
        .await
        .expect("discovery")
        .json()
        .await
        .expect("json");
    assert_eq!(discovered["issuer"], alias.as_str());
    assert_eq!(discovered["token_endpoint"], format!("{alias}/token"));
    assert!(discovered.get("end_session_endpoint").is_none());
    let alias_keys: Value = reqwest::get(server.url("/dex/keys"))
        .await
        .expect("keys")
        .json()
        .await
        .expect("json");
    let app_keys: Value = reqwest::get(server.url("/application/o/grafana/jwks/"))
        .await
        .expect("jwks")
        .json()
        .await
        .expect("json");
    assert_eq!(alias_keys, app_keys);

    // openid-client discovers the alias, signs in through /dex/auth, redeems at /dex/token,
    // validates the ID token with /dex/keys, calls /dex/userinfo and refreshes.
    let redirect = "https://grafana.example.com/login/generic_oauth";
    let start = relying_party(&["start", &alias, "grafana", GRAFANA_SECRET, redirect]);
    let url = start["url"].as_str().expect("url");
    assert!(url.starts_with(&format!("{alias}/auth?")), "{url}");
    let browser = client();
    let target = sign_in_with(
        &server,
        &browser,
        url,
        &[("uid", "admin@example.com"), ("password", "password")],
    )
    .await;
    assert!(
        target.starts_with("/dex/auth?"),
        "back to the alias: {target}"
    );
    let response = browser.get(server.url(&target)).send().await.expect("auth");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let callback = crate::oidc::location(&response);
    assert_eq!(
        query_param(&callback, "iss").as_deref(),
        Some(alias.as_str())
    );
    let finished = relying_party(&[
        "finish",
        &alias,
        "grafana",
        GRAFANA_SECRET,
        &callback,
        start["state"].as_str().expect("state"),
        start["nonce"].as_str().expect("nonce"),
        start["verifier"].as_str().expect("verifier"),
    ]);
    assert_eq!(finished["claims"]["iss"], alias.as_str(), "{finished}");
    assert_eq!(finished["claims"]["sub"], DEX_ADMIN_SUB, "{finished}");
    assert_eq!(finished["userinfo"]["sub"], DEX_ADMIN_SUB, "{finished}");
    assert_eq!(finished["userinfo"]["email"], "admin@example.com");
    assert_eq!(finished["refreshed"]["rotated"], true, "{finished}");
    assert_eq!(
        finished["refreshed"]["idTokenIss"],
        alias.as_str(),
        "{finished}"
    );
    assert_eq!(finished["introspected"]["active"], true, "{finished}");
    assert_eq!(
        finished["introspected"]["iss"],
        alias.as_str(),
        "{finished}"
    );
    assert_eq!(finished["afterRevocation"]["active"], false, "{finished}");
    assert_eq!(finished["reuse"], "invalid_grant", "{finished}");

    // The application's own issuer keeps working for the same client and signed-in user.
    let start = relying_party(&["start", &app_issuer, "grafana", GRAFANA_SECRET, redirect]);
    let response = browser
        .get(start["url"].as_str().expect("url"))
        .send()
        .await
        .expect("authorize");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let callback = crate::oidc::location(&response);
    assert_eq!(
        query_param(&callback, "iss").as_deref(),
        Some(app_issuer.as_str())
    );
    let redeemed = relying_party(&[
        "redeem",
        &app_issuer,
        "grafana",
        GRAFANA_SECRET,
        &callback,
        start["state"].as_str().expect("state"),
        start["nonce"].as_str().expect("nonce"),
        start["verifier"].as_str().expect("verifier"),
    ]);
    assert_eq!(redeemed["claims"]["iss"], app_issuer.as_str());
    assert_eq!(redeemed["claims"]["sub"], DEX_ADMIN_SUB);

    // Errors through the alias are those of the usual endpoints.
    let encoded = gatehouse_oidc::authorize::form_encode(redirect);
    for query in [
        format!("response_type=code&client_id=nobody&redirect_uri={encoded}&scope=openid"),
        "response_type=code&client_id=grafana&redirect_uri=https%3A%2F%2Fevil.example%2F&scope=openid".to_owned(),
    ] {
        let usual = browser
            .get(server.url(&format!("/application/o/authorize/?{query}")))
            .send()
            .await
            .expect("authorize");
        let through_alias = browser
            .get(format!("{alias}/auth?{query}"))
            .send()
            .await
            .expect("auth");
        assert_eq!(usual.status(), StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(through_alias.status(), usual.status(), "{query}");
        assert_eq!(
            through_alias.text().await.expect("page"),
            usual.text().await.expect("page"),
            "{query}"
        );
    }
    // A bad request with a good redirect URI goes back to the client, naming the alias.
    let query = format!("response_type=token&client_id=grafana&redirect_uri={encoded}&state=s");
    let response = browser
        .get(format!("{alias}/auth?{query}"))
        .send()
        .await
        .expect("auth");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let back = crate::oidc::location(&response);
    assert_eq!(
        query_param(&back, "error").as_deref(),
        Some("unsupported_response_type")
    );
    assert_eq!(query_param(&back, "iss").as_deref(), Some(alias.as_str()));
    for form in [
        &[
            ("grant_type", "authorization_code"),
            ("code", "made-up"),
            ("redirect_uri", redirect),
        ][..],
        &[
            ("grant_type", "password"),
            ("username", "a"),
            ("password", "b"),
        ][..],
    ] {
        for (secret, expected) in [
            ("not-the-secret", StatusCode::UNAUTHORIZED),
            (GRAFANA_SECRET, StatusCode::BAD_REQUEST),
        ] {
            let usual = post_form(
                &client(),
                &server.url("/application/o/token/"),
                Some(("grafana", secret)),
                form,
            )
            .await;
            let through_alias = post_form(
                &client(),
                &format!("{alias}/token"),
                Some(("grafana", secret)),
                form,
            )
            .await;
            assert_eq!(usual.0, expected, "{form:?}: {}", usual.2);
            assert_eq!(through_alias.0, usual.0, "{form:?}");
            assert_eq!(through_alias.2, usual.2, "{form:?}");
            assert_eq!(
                through_alias.1.get("www-authenticate"),
                usual.1.get("www-authenticate")
            );
        }
    }
    let userinfo = client()
        .get(format!("{alias}/userinfo"))
        .bearer_auth("not-a-token")
        .send()
        .await
        .expect("userinfo");
    assert_eq!(userinfo.status(), StatusCode::UNAUTHORIZED);
    assert!(
        userinfo.headers()["www-authenticate"]
            .to_str()
            .expect("ascii")
            .contains("invalid_token")
    );
}

/// What `import dex` creates survives `export` → `apply` on an empty installation: the second
/// export is the same document, and applying it again changes nothing.
async fn imported_configuration_round_trips_through_export(backend: Backend) {
    let gh = Installation::new(backend).await;
    let imported = import(&dex_env(&gh), &[]);
    let (out, err) = text(&imported);
    assert!(imported.status.success(), "{out}\n{err}");
    let exported = gh.cli_ok(&["export"], None);
    for expected in [
        "subject_mode: dex",
        "dex_user_id: 08a8684b-db88-4b73-90a9-3cd1661f5466",
        "dex_connector_id: local",
        ROBOT_HASH,
        "slug: keycloak",
        "platform-admins",
    ] {
        assert!(
            exported.contains(expected),
            "export lacks {expected:?}:\n{exported}"
        );
    }

    let target = Installation::new(backend).await;
    let copy = target.data_dir().join("export.yaml");
    std::fs::write(&copy, &exported).expect("write");
    let path = copy.to_str().expect("path");
    target.cli_ok(&["apply", "-f", path], None);
    assert_eq!(
        target.cli_ok(&["export"], None),
        exported,
        "the export round-trips"
    );
    assert_eq!(
        target.cli_ok(&["apply", "-f", path], None).trim(),
        "no changes"
    );
}

on_both_backends!(
    imported_configuration_round_trips_through_export,
    import_then_sign_in_with_dex_subjects,
    bad_dex_configurations_import_nothing,
    imported_clients_keep_dexs_issuer_and_paths
);
