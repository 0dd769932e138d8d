//! The OAuth2/OIDC provider over real HTTP on both backends: applications from the CLI,
//! discovery and JWKS, the authorization code flow with PKCE through the real sign-in flow,
//! ID token verification against the published JWKS, userinfo, refresh rotation with reuse
//! detection, code replay revoking what the code issued, client credentials, introspection,
//! revocation, and the error answers (pages, redirects, 401 with `WWW-Authenticate`).

use crate::on_both_backends;
pub(crate) use crate::support::forms::csrf_of;
use crate::support::server::{Backend, Installation, Origin, Server};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use gatehouse_core::{EventAction, EventQuery, EventStore, KeyAlgorithm};
use gatehouse_oidc::jwt::{VerificationKey, verify_token};
use reqwest::StatusCode;
use serde_json::{Value, json};

const LOGIN: &str = "/if/flow/default-authentication-flow/";
pub(crate) const REDIRECT: &str = "https://rp.example/callback";
pub(crate) const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub(crate) const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
pub(crate) const PASSWORD: &str = "the first passphrase";

pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

pub(crate) fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("location")
        .map(|v| v.to_str().expect("ascii").to_owned())
        .unwrap_or_default()
}

pub(crate) fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then(|| gatehouse_oidc::client_auth::form_decode(v).expect("decodable"))
    })
}

pub(crate) fn authorize_url(
    server: &impl Origin,
    client_id: &str,
    extra: &[(&str, &str)],
) -> String {
    let mut url = server.url(&format!(
        "/application/o/authorize/?response_type=code&client_id={client_id}&redirect_uri={}&scope=openid%20profile%20email%20offline_access&state=st%2Fate&nonce=n-0S6",
        gatehouse_oidc::authorize::form_encode(REDIRECT)
    ));
    for (k, v) in extra {
        url.push_str(&format!(
            "&{k}={}",
            gatehouse_oidc::authorize::form_encode(v)
        ));
    }
    url
}

/// Signs in through the real flow pages, starting from an authorization request, and
/// returns the redirect back to the client.
pub(crate) async fn sign_in_and_authorize(
    server: &impl Origin,
    browser: &reqwest::Client,
    url: &str,
) -> String {
    let target = sign_in_from(server, browser, url).await;
    assert!(target.starts_with("/application/o/authorize/"), "{target}");
    let response = browser
        .get(server.url(&target))
        .send()
        .await
        .expect("authorize again");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    location(&response)
}

/// Follows `start` to the sign-in page, signs in as admin through the real flow pages, and
/// returns where the flow sends the browser afterwards.
pub(crate) async fn sign_in_from(
    server: &impl Origin,
    browser: &reqwest::Client,
    start: &str,
) -> String {
    sign_in_with(
        server,
        browser,
        start,
        &[("uid", "admin"), ("password", PASSWORD)],
    )
    .await
}

/// Like [`sign_in_from`], answering each page of the flow with one of `steps` (field, value).
pub(crate) async fn sign_in_with(
    server: &impl Origin,
    browser: &reqwest::Client,
    start: &str,
    steps: &[(&str, &str)],
) -> String {
    let response = browser.get(start).send().await.expect("start");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let login = location(&response);
    assert!(login.starts_with(&format!("{LOGIN}?next=")), "{login}");
    let mut page = browser
        .get(server.url(&login))
        .send()
        .await
        .expect("login")
        .text()
        .await
        .expect("body");
    for &(field, value) in steps {
        let mut response = browser
            .post(server.url(LOGIN))
            .form(&[("csrf", csrf_of(&page).as_str()), (field, value)])
            .send()
            .await
            .expect("post");
        // Follow the flow's post/redirect/get until it shows a page or leaves the flow.
        loop {
            let target = location(&response);
            if response.status() != StatusCode::SEE_OTHER {
                page = response.text().await.expect("body");
                break;
            }
            if !target.starts_with(LOGIN) {
                return target;
            }
            response = browser
                .get(server.url(&target))
                .send()
                .await
                .expect("follow");
        }
    }
    panic!("the sign-in did not finish: {page}");
}

pub(crate) async fn post_form(
    http: &reqwest::Client,
    url: &str,
    basic: Option<(&str, &str)>,
    form: &[(&str, &str)],
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let mut request = http.post(url).form(form);
    if let Some((id, secret)) = basic {
        request = request.header(
            "authorization",
            format!("Basic {}", STANDARD.encode(format!("{id}:{secret}"))),
        );
    }
    let response = request.send().await.expect("post");
    let (status, headers) = (response.status(), response.headers().clone());
    let body = response.json().await.unwrap_or(Value::Null);
    (status, headers, body)
}

pub(crate) fn claims_of(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("b64")).expect("json")
}

async fn jwks_keys(server: &Server, slug: &str) -> Vec<VerificationKey> {
    // Our own key list comes from the store; the JWKS document must list every one of them.
    let jwks: Value = reqwest::get(server.url(&format!("/application/o/{slug}/jwks/")))
        .await
        .expect("jwks")
        .json()
        .await
        .expect("json");
    let keys = jwks["keys"].as_array().expect("keys").clone();
    assert!(!keys.is_empty());
    keys.iter()
        .map(|k| {
            assert_eq!(k["use"], "sig");
            VerificationKey {
                kid: k["kid"].as_str().expect("kid").to_owned(),
                alg: KeyAlgorithm::parse(k["alg"].as_str().expect("alg")).expect("known alg"),
                spki_der: Vec::new(),
            }
        })
        .collect()
}

async fn oidc_provider_end_to_end(backend: Backend) {
    let gh = Installation::new(backend).await;
    gh.cli_ok(&["group", "create", "grafana-admins"], None);
    gh.cli_ok(&["group", "create", "nobody"], None);
    let created: Value = serde_json::from_str(&gh.cli_ok(
        &[
            "app",
            "create",
            "grafana",
            "--name",
            "Grafana",
            "--client-id",
            "grafana",
            "--redirect-uri",
            REDIRECT,
            "--signing-alg",
            "ES256",
            "--require-pkce",
            "--json",
        ],
        None,
    ))
    .expect("json");
    let secret = created["client_secret"]
        .as_str()
        .expect("secret shown once")
        .to_owned();
    assert_eq!(created["oidc"]["client_type"], "confidential");
    let shown = gh.cli_ok(&["app", "show", "grafana", "--json"], None);
    assert!(!shown.contains(&secret), "the secret is never shown again");
    gh.cli_ok(
        &[
            "app",
            "create",
            "kubectl",
            "--client-id",
            "kubectl",
            "--public",
            "--redirect-uri",
            "http://127.0.0.1/callback",
        ],
        None,
    );
    gh.cli_ok(
        &[
            "app",
            "create",
            "secret-app",
            "--client-id",
            "secret-app",
            "--redirect-uri",
            REDIRECT,
            "--allowed-group",
            "nobody",
        ],
        None,
    );
    let dup = gh.cli(
        &["app", "create", "grafana2", "--client-id", "grafana"],
        None,
    );
    assert!(!dup.status.success());
    assert!(String::from_utf8_lossy(&dup.stderr).contains("already taken"));
    let bad = gh.cli(
        &[
            "app",
            "create",
            "x",
            "--client-id",
            "x",
            "--redirect-uri",
            "https://a/cb#f",
        ],
        None,
    );
    assert!(String::from_utf8_lossy(&bad.stderr).contains("redirect_uris[0]"));
    assert!(
        gh.cli_ok(&["app", "list"], None)
            .contains("(3 applications)")
    );

    let server = Server::start(&gh, &[("GATEHOUSE_BOOTSTRAP_PASSWORD", PASSWORD)]);
    server.wait_ready().await;
    let http = client();

    // Discovery, compared with the committed snapshot (base URL normalised).
    let discovery: Value =
        reqwest::get(server.url("/application/o/grafana/.well-known/openid-configuration"))
            .await
            .expect("discovery")
            .json()
            .await
            .expect("json");
    let normalised: Value = serde_json::from_str(
        &discovery
            .to_string()
            .replace(&server.url(""), "http://gatehouse.test"),
    )
    .expect("json");
    let snapshot: Value =
        serde_json::from_str(include_str!("snapshots/oidc_discovery.json")).expect("snapshot");
    assert_eq!(
        normalised,
        snapshot,
        "discovery drifted:\n{}",
        serde_json::to_string_pretty(&normalised).expect("pretty")
    );
    let issuer = discovery["issuer"].as_str().expect("issuer").to_owned();
    let missing = reqwest::get(server.url("/application/o/nope/.well-known/openid-configuration"))
        .await
        .expect("get");
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let kids = jwks_keys(&server, "grafana").await;
    assert!(
        kids.iter().any(|k| k.alg == KeyAlgorithm::Es256)
            && kids.iter().any(|k| k.alg == KeyAlgorithm::Rs256)
    );

    // Unregistered redirect URI and unknown client: an error page, never a redirect.
    for url in [
        authorize_url(&server, "grafana", &[]).replace("rp.example", "evil.example"),
        authorize_url(&server, "unknown", &[]),
        server.url("/application/o/authorize/?client_id=grafana&client_id=kubectl"),
    ] {
        let response = http.get(&url).send().await.expect("get");
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{url}");
        assert!(response.headers().get("location").is_none());
    }
    // A public client without PKCE: invalid_request back to the client, with state and iss.
    let response = http
        .get(authorize_url(&server, "kubectl", &[]).replace(
            &gatehouse_oidc::authorize::form_encode(REDIRECT),
            &gatehouse_oidc::authorize::form_encode("http://127.0.0.1:41234/callback"),
        ))
        .send()
        .await
        .expect("get");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let back = location(&response);
    assert!(
        back.starts_with("http://127.0.0.1:41234/callback?error=invalid_request"),
        "{back}"
    );
    assert_eq!(query_param(&back, "state").as_deref(), Some("st/ate"));
    assert_eq!(
        query_param(&back, "iss").as_deref(),
        Some(issuer.replace("grafana", "kubectl").as_str())
    );
    // prompt=none without a session: login_required.
    let response = http
        .get(authorize_url(
            &server,
            "grafana",
            &[
                ("code_challenge", CHALLENGE),
                ("code_challenge_method", "S256"),
                ("prompt", "none"),
            ],
        ))
        .send()
        .await
        .expect("get");
    assert_eq!(
        query_param(&location(&response), "error").as_deref(),
        Some("login_required")
    );

    // The authorization code flow through the real sign-in pages.
    let browser = client();
    let pkce = [
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ];
    let back =
        sign_in_and_authorize(&server, &browser, &authorize_url(&server, "grafana", &pkce)).await;
    assert!(back.starts_with(REDIRECT), "{back}");
    assert_eq!(query_param(&back, "state").as_deref(), Some("st/ate"));
    assert_eq!(query_param(&back, "iss").as_deref(), Some(issuer.as_str()));
    let code = query_param(&back, "code").expect("code");
    let token_url = server.url("/application/o/token/");

    // A wrong secret: 401 invalid_client with a challenge.
    let (status, headers, body) = post_form(
        &http,
        &token_url,
        Some(("grafana", "wrong")),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "invalid_client");
    assert!(headers.get("www-authenticate").is_some());
    // A wrong verifier: invalid_grant.
    let (status, _, body) = post_form(
        &http,
        &token_url,
        Some(("grafana", &secret)),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &VERIFIER.replace('d', "e")),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    // The real exchange (client_secret_basic).
    let (status, headers, tokens) = post_form(
        &http,
        &token_url,
        Some(("grafana", &secret)),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(tokens["token_type"], "Bearer");
    let id_token = tokens["id_token"].as_str().expect("id_token");
    let access = tokens["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned();
    let refresh = tokens["refresh_token"]
        .as_str()
        .expect("refresh_token")
        .to_owned();
    let claims = claims_of(id_token);
    assert_eq!(claims["iss"], issuer);
    assert_eq!(claims["aud"], "grafana");
    assert_eq!(claims["nonce"], "n-0S6");
    assert_eq!(claims["preferred_username"], "admin");
    assert_eq!(
        claims["at_hash"],
        gatehouse_oidc::jwt::token_hash(KeyAlgorithm::Es256, &access)
    );
    assert!(claims["auth_time"].is_i64() && claims["exp"].is_i64());
    // Verify the signature with the published key.
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(id_token.split('.').next().expect("h"))
            .expect("b64"),
    )
    .expect("json");
    assert_eq!(header["alg"], "ES256");
    let store = gh.store().await;
    let keys: Vec<VerificationKey> = gatehouse_core::KeyStore::signing_keys(&store)
        .await
        .expect("keys")
        .into_iter()
        .map(|k| VerificationKey {
            kid: k.id.to_string(),
            alg: k.algorithm,
            spki_der: STANDARD.decode(k.public_key_der).expect("der"),
        })
        .collect();
    assert!(kids.iter().all(|k| keys.iter().any(|s| s.kid == k.kid)));
    verify_token(id_token, "JWT", &keys, chrono::Utc::now()).expect("ID token verifies");

    // Userinfo, GET and POST.
    let info: Value = http
        .get(server.url("/application/o/userinfo/"))
        .bearer_auth(&access)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(info["sub"], claims["sub"]);
    assert_eq!(info["preferred_username"], "admin");
    let response = http
        .post(server.url("/application/o/userinfo/"))
        .form(&[("access_token", access.as_str())])
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), StatusCode::OK);
    let response = http
        .get(server.url("/application/o/userinfo/"))
        .bearer_auth("nope")
        .send()
        .await
        .expect("get");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(
        response.headers()["www-authenticate"]
            .to_str()
            .expect("ascii")
            .contains("invalid_token")
    );

    // Refresh rotates; reusing the old token revokes the family.
    let (status, _, refreshed) = post_form(
        &http,
        &token_url,
        None,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
            ("client_id", "grafana"),
            ("client_secret", &secret),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    let new_refresh = refreshed["refresh_token"]
        .as_str()
        .expect("rotated")
        .to_owned();
    assert_ne!(new_refresh, refresh);
    let (status, _, body) = post_form(
        &http,
        &token_url,
        Some(("grafana", &secret)),
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let (_, _, body) = post_form(
        &http,
        &token_url,
        Some(("grafana", &secret)),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &new_refresh),
        ],
    )
    .await;
    assert_eq!(
        body["error"], "invalid_grant",
        "the whole family was revoked"
    );

    // Code replay: refused, and the tokens issued from it are revoked.
    let back = {
        let response = browser
            .get(authorize_url(&server, "grafana", &pkce))
            .send()
            .await
            .expect("authorize");
        location(&response)
    };
    let code = query_param(&back, "code").expect("code with a session, no sign-in");
    let exchange = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
    ];
    let (status, _, tokens) =
        post_form(&http, &token_url, Some(("grafana", &secret)), &exchange).await;
    assert_eq!(status, StatusCode::OK);
    let access = tokens["access_token"].as_str().expect("access").to_owned();
    let introspect_url = server.url("/application/o/introspect/");
    let (_, _, active) = post_form(
        &http,
        &introspect_url,
        Some(("grafana", &secret)),
        &[("token", &access)],
    )
    .await;
    assert_eq!(active["active"], true, "{active}");
    assert_eq!(active["client_id"], "grafana");
    let (status, _, body) =
        post_form(&http, &token_url, Some(("grafana", &secret)), &exchange).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let (_, _, inactive) = post_form(
        &http,
        &introspect_url,
        Some(("grafana", &secret)),
        &[("token", &access)],
    )
    .await;
    assert_eq!(inactive, json!({ "active": false }));

    // Client credentials, introspection and revocation.
    let (status, _, cc) = post_form(
        &http,
        &token_url,
        Some(("grafana", &secret)),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{cc}");
    assert!(cc.get("refresh_token").is_none() && cc.get("id_token").is_none());
    assert_eq!(
        server
            .metric(r#"gatehouse_tokens_issued_total{grant="client_credentials"}"#)
            .await,
        Some(1.0)
    );
    assert!(
        server
            .metric(r#"gatehouse_tokens_issued_total{grant="authorization_code"}"#)
            .await
            .is_some_and(|count| count >= 1.0)
    );
    assert!(
        server
            .metric(r#"gatehouse_logins_total{result="success"}"#)
            .await
            .is_some_and(|count| count >= 1.0),
        "sign-ins through the flow pages are counted"
    );
    let cc_token = cc["access_token"].as_str().expect("token").to_owned();
    assert_eq!(claims_of(&cc_token)["sub"], "grafana");
    let (_, _, active) = post_form(
        &http,
        &introspect_url,
        Some(("grafana", &secret)),
        &[("token", &cc_token)],
    )
    .await;
    assert_eq!(active["active"], true);
    let (status, _, _) = post_form(
        &http,
        &server.url("/application/o/revoke/"),
        Some(("grafana", &secret)),
        &[("token", &cc_token)],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, _, inactive) = post_form(
        &http,
        &introspect_url,
        Some(("grafana", &secret)),
        &[("token", &cc_token)],
    )
    .await;
    assert_eq!(inactive["active"], false);
    let (status, _, body) = post_form(
        &http,
        &token_url,
        None,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "kubectl"),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unauthorized_client"))
    );
    let (status, _, body) = post_form(
        &http,
        &token_url,
        Some(("grafana", &secret)),
        &[("grant_type", "password")],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unsupported_grant_type"))
    );

    // prompt=login sends a signed-in browser through the sign-in pages again (see
    // oidc_reauth.rs), never straight back with a code from the old session.
    let response = browser
        .get(authorize_url(
            &server,
            "grafana",
            &[pkce[0], pkce[1], ("prompt", "login")],
        ))
        .send()
        .await
        .expect("authorize");
    assert!(
        location(&response).starts_with(&format!("{LOGIN}?next=")),
        "{}",
        location(&response)
    );
    let response = browser
        .get(authorize_url(
            &server,
            "grafana",
            &[pkce[0], pkce[1], ("max_age", "3600")],
        ))
        .send()
        .await
        .expect("authorize");
    assert!(
        query_param(&location(&response), "code").is_some(),
        "a recent session is fine"
    );

    // The group policy: a signed-in user outside the allowed groups gets a page, no code.
    let response = browser
        .get(authorize_url(&server, "secret-app", &[]))
        .send()
        .await
        .expect("authorize");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(response.headers().get("location").is_none());

    // Audit: authorization, tokens, refresh, and the replay's family revocation.
    let events = store
        .list_events(&EventQuery {
            limit: 500,
            ..EventQuery::default()
        })
        .await
        .expect("events")
        .items;
    let count = |action| events.iter().filter(|e| e.action == action).count();
    assert_eq!(count(EventAction::AuthorizeApplication), 3);
    let grants: Vec<_> = events
        .iter()
        .filter(|e| e.action == EventAction::TokenIssued)
        .filter_map(|e| e.context.get("grant_type").and_then(Value::as_str))
        .collect();
    assert!(
        grants.contains(&"authorization_code")
            && grants.contains(&"refresh_token")
            && grants.contains(&"client_credentials"),
        "{grants:?}"
    );
    assert!(
        events
            .iter()
            .any(|e| e.context.get("reason").and_then(Value::as_str)
                == Some("authorization code replayed"))
    );
    assert!(
        !format!("{events:?}").contains(&secret),
        "no secret in the audit log"
    );

    // Deleting the application removes its tokens with it.
    gh.cli_ok(&["app", "delete", "grafana", "--yes"], None);
    assert!(
        gh.cli_ok(&["app", "list"], None)
            .contains("(2 applications)")
    );
}

on_both_backends!(oidc_provider_end_to_end, openid_client_interop);

/// Runs the openid-client relying party (tests/interop/openid-client/rp.mjs) from the
/// directory where scripts/test installed its node_modules.
pub(crate) fn relying_party(args: &[&str]) -> Value {
    let script = relying_party_script();
    let output = std::process::Command::new("node")
        .arg(&script)
        .args(args)
        .output()
        .expect("run node");
    let _ = std::fs::remove_file(&script);
    assert!(
        output.status.success(),
        "openid-client failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("rp prints JSON")
}

/// A private copy of rp.mjs next to the node_modules scripts/test installed (the caller
/// removes it).
pub(crate) fn relying_party_script() -> std::path::PathBuf {
    let dir = std::env::var("GATEHOUSE_TEST_OPENID_CLIENT_DIR").expect(
        "GATEHOUSE_TEST_OPENID_CLIENT_DIR: run scripts/test, which installs openid-client with npm ci",
    );
    // Tests run in parallel: each run gets its own copy, so none reads a half-written file.
    static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let run = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let script = std::path::Path::new(&dir).join(format!("rp-{}-{run}.mjs", std::process::id()));
    std::fs::copy(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/interop/openid-client/rp.mjs"
        ),
        &script,
    )
    .expect("copy rp.mjs next to its node_modules");
    script
}

async fn openid_client_interop(backend: Backend) {
    let gh = Installation::new(backend).await;
    gh.cli_ok(&["group", "create", "grafana-admins"], None);
    let created: Value = serde_json::from_str(&gh.cli_ok(
        &[
            "app",
            "create",
            "grafana",
            "--client-id",
            "grafana",
            "--redirect-uri",
            REDIRECT,
            "--json",
        ],
        None,
    ))
    .expect("json");
    let secret = created["client_secret"]
        .as_str()
        .expect("secret")
        .to_owned();
    let server = Server::start(&gh, &[("GATEHOUSE_BOOTSTRAP_PASSWORD", PASSWORD)]);
    server.wait_ready().await;
    let issuer = server.url("/application/o/grafana/");

    let start = relying_party(&["start", &issuer, "grafana", &secret, REDIRECT]);
    let url = start["url"].as_str().expect("url");
    assert!(
        url.starts_with(&server.url("/application/o/authorize/")),
        "{url}"
    );
    let callback = sign_in_and_authorize(&server, &client(), url).await;
    let result = relying_party(&[
        "finish",
        &issuer,
        "grafana",
        &secret,
        &callback,
        start["state"].as_str().expect("state"),
        start["nonce"].as_str().expect("nonce"),
        start["verifier"].as_str().expect("verifier"),
    ]);
    let claims = &result["claims"];
    assert_eq!(claims["iss"], issuer);
    assert_eq!(claims["aud"], "grafana");
    assert_eq!(claims["preferred_username"], "admin");
    assert_eq!(result["userinfo"]["sub"], claims["sub"]);
    assert_eq!(result["userinfo"]["preferred_username"], "admin");
    assert_eq!(result["refreshed"]["rotated"], true);
    assert_eq!(result["refreshed"]["idTokenSub"], claims["sub"]);
    assert_eq!(result["introspected"]["active"], true);
    assert_eq!(result["introspected"]["client_id"], "grafana");
    assert_eq!(result["afterRevocation"]["active"], false);
    assert_eq!(result["reuse"], "invalid_grant");
}
