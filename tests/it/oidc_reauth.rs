//! Re-authentication and how the user authenticated, with panva's openid-client as the
//! relying party, on both backends: `auth_time`, `amr` and `acr` in the ID token;
//! `prompt=login` and `max_age` send a signed-in browser through the sign-in pages again and
//! then issue a code whose `auth_time` is fresh (openid-client checks it against `max_age`);
//! `max_age=0` does not loop; `prompt=none` with a session that is too old answers
//! `login_required`; `login_hint` pre-fills the username; a forged re-sign-in marker is
//! ignored.

use crate::login::{current_step, totp_code};
use crate::oidc::{
    PASSWORD, REDIRECT, authorize_url, claims_of, client, csrf_of, location, post_form,
    query_param, relying_party, sign_in_and_authorize, sign_in_with,
};
use crate::on_both_backends;
use crate::support::server::{Backend, Installation, Server};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

const LOGIN: &str = "/if/flow/default-authentication-flow/";

struct Rp<'a> {
    issuer: &'a str,
    secret: &'a str,
}

impl Rp<'_> {
    /// openid-client builds an authorization request with `extra` parameters.
    fn start(&self, extra: Value) -> Value {
        relying_party(&[
            "start",
            self.issuer,
            "grafana",
            self.secret,
            REDIRECT,
            &extra.to_string(),
        ])
    }

    /// openid-client redeems `callback` and validates the ID token (and `auth_time` against
    /// `max_age` when given); returns the ID token's claims.
    fn redeem(&self, start: &Value, callback: &str, max_age: Option<&str>) -> Value {
        let mut args = vec![
            "redeem",
            self.issuer,
            "grafana",
            self.secret,
            callback,
            start["state"].as_str().expect("state"),
            start["nonce"].as_str().expect("nonce"),
            start["verifier"].as_str().expect("verifier"),
        ];
        args.extend(max_age);
        relying_party(&args)["claims"].clone()
    }
}

async fn reauthentication_with_openid_client(backend: Backend) {
    let gh = Installation::new(backend).await;
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
    let secret = created["client_secret"].as_str().expect("secret");
    let server = Server::start(&gh, &[("GATEHOUSE_BOOTSTRAP_PASSWORD", PASSWORD)]);
    server.wait_ready().await;
    let issuer = server.url("/application/o/grafana/");
    let rp = Rp {
        issuer: &issuer,
        secret,
    };
    let discovery: Value = reqwest::get(format!("{issuer}.well-known/openid-configuration"))
        .await
        .expect("discovery")
        .json()
        .await
        .expect("json");
    assert_eq!(
        discovery["acr_values_supported"],
        json!(["urn:gatehouse:acr:password", "urn:gatehouse:acr:mfa"])
    );
    let browser = client();

    // First sign-in: a password only.
    let start = rp.start(json!({}));
    let callback =
        sign_in_and_authorize(&server, &browser, start["url"].as_str().expect("url")).await;
    let first = rp.redeem(&start, &callback, None);
    assert_eq!(first["amr"], json!(["pwd"]));
    assert_eq!(first["acr"], "urn:gatehouse:acr:password");
    let first_auth_time = first["auth_time"].as_i64().expect("auth_time");

    // The live session is reused silently by a plain request, keeping its auth_time.
    let start = rp.start(json!({}));
    let response = browser
        .get(start["url"].as_str().expect("url"))
        .send()
        .await
        .expect("authorize");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let callback = location(&response);
    assert!(callback.starts_with(REDIRECT), "{callback}");
    let reused = rp.redeem(&start, &callback, None);
    assert_eq!(reused["auth_time"], first_auth_time);

    tokio::time::sleep(Duration::from_millis(2100)).await;

    // prompt=none with a session older than max_age cannot show the sign-in page.
    let start = rp.start(json!({ "prompt": "none", "max_age": "1" }));
    let response = browser
        .get(start["url"].as_str().expect("url"))
        .send()
        .await
        .expect("authorize");
    let back = location(&response);
    assert!(back.starts_with(REDIRECT), "{back}");
    assert_eq!(
        query_param(&back, "error").as_deref(),
        Some("login_required")
    );
    assert_eq!(
        query_param(&back, "state").as_deref(),
        start["state"].as_str()
    );

    // prompt=login with a live session: back to the sign-in page, username pre-filled.
    let start = rp.start(json!({ "prompt": "login", "login_hint": "admin" }));
    let url = start["url"].as_str().expect("url");
    let response = browser.get(url).send().await.expect("authorize");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let login = location(&response);
    assert!(login.starts_with(&format!("{LOGIN}?next=")), "{login}");
    assert!(login.contains("gatehouse_reauth"), "{login}");
    let page = browser
        .get(server.url(&login))
        .send()
        .await
        .expect("login page")
        .text()
        .await
        .expect("body");
    assert!(
        page.contains(r#"name="uid" value="admin""#),
        "login_hint pre-fills the username: {page}"
    );
    // A marker the client made up does not count as a fresh sign-in.
    let forged = format!(
        "{url}&gatehouse_reauth={}.forged",
        chrono::Utc::now().timestamp()
    );
    let response = browser.get(&forged).send().await.expect("authorize");
    assert!(
        location(&response).starts_with(LOGIN),
        "forged marker ignored"
    );
    // Signing in again issues a code; openid-client accepts it under max_age=5.
    let callback = sign_in_and_authorize(&server, &browser, url).await;
    let again = rp.redeem(&start, &callback, Some("5"));
    let fresh_auth_time = again["auth_time"].as_i64().expect("auth_time");
    assert!(
        fresh_auth_time >= first_auth_time + 2,
        "{fresh_auth_time} vs {first_auth_time}"
    );

    // max_age=0 is prompt=login, and the request completes after one sign-in (no loop).
    let start = rp.start(json!({ "max_age": "0" }));
    let callback =
        sign_in_and_authorize(&server, &browser, start["url"].as_str().expect("url")).await;
    assert!(callback.starts_with(REDIRECT), "{callback}");
    let zero = rp.redeem(&start, &callback, None);
    assert!(zero["auth_time"].as_i64().expect("auth_time") >= fresh_auth_time);

    // An exceeded max_age without prompt=none sends the user to sign in, too.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let start = rp.start(json!({ "max_age": "1" }));
    let response = browser
        .get(start["url"].as_str().expect("url"))
        .send()
        .await
        .expect("authorize");
    assert!(location(&response).starts_with(LOGIN));
}

on_both_backends!(reauthentication_with_openid_client);

/// A sign-in with a password and a TOTP code is multi-factor: `amr` is `pwd otp mfa` and
/// `acr` the MFA class, through the real flow pages and token endpoint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_totp_sign_in_is_mfa_in_the_id_token() {
    const SETUP: &str = "/if/flow/default-authenticator-totp-setup/";
    let gh = Installation::new(Backend::Sqlite).await;
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
    let secret = created["client_secret"].as_str().expect("secret");
    let server = Server::start(&gh, &[("GATEHOUSE_BOOTSTRAP_PASSWORD", PASSWORD)]);
    server.wait_ready().await;
    let browser = client();
    sign_in_and_authorize(&server, &browser, &authorize_url(&server, "grafana", &[])).await;

    // Set up an authenticator app for admin.
    let page = browser
        .get(server.url(SETUP))
        .send()
        .await
        .expect("setup")
        .text()
        .await
        .expect("body");
    let marker = r#"<code id="totp-secret">"#;
    let start = page.find(marker).map(|i| i + marker.len()).expect("secret");
    let totp_secret = page[start..].split('<').next().expect("secret").to_owned();
    let csrf = csrf_of(&page);
    let mut step = current_step();
    for attempt in 0..2 {
        let response = browser
            .post(server.url(SETUP))
            .form(&[
                ("csrf", csrf.as_str()),
                ("name", "Phone"),
                ("code", &totp_code(&totp_secret, step)),
            ])
            .send()
            .await
            .expect("setup code");
        if response.status() != StatusCode::BAD_REQUEST {
            break;
        }
        // The 30-second step turned over between computing and checking: once more.
        assert_eq!(attempt, 0, "the setup code was refused twice");
        step = current_step();
    }

    // Signing in again (prompt=login) now takes the password and a code.
    let url = authorize_url(&server, "grafana", &[("prompt", "login")]);
    let next_code = totp_code(&totp_secret, step + 1);
    let target = sign_in_with(
        &server,
        &browser,
        &url,
        &[
            ("uid", "admin"),
            ("password", PASSWORD),
            ("code", &next_code),
        ],
    )
    .await;
    assert!(target.starts_with("/application/o/authorize/"), "{target}");
    let response = browser
        .get(server.url(&target))
        .send()
        .await
        .expect("authorize");
    let code = query_param(&location(&response), "code").expect("code");
    let (status, _, body) = post_form(
        &client(),
        &server.url("/application/o/token/"),
        Some(("grafana", secret)),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let claims = claims_of(body["id_token"].as_str().expect("id_token"));
    assert_eq!(claims["amr"], json!(["pwd", "otp", "mfa"]));
    assert_eq!(claims["acr"], "urn:gatehouse:acr:mfa");
}
