//! Scale-out on one machine, with real processes: two `serve --no-worker` replicas and one
//! `gatehouse worker` on a shared PostgreSQL, behind Debian's Caddy terminating TLS and
//! balancing round-robin. A session made through the proxy is valid on each replica;
//! refresh tokens rotate correctly when consecutive calls hit different replicas; killing one
//! replica with SIGKILL under load fails at most the requests in flight and loses no session;
//! stopping PostgreSQL flips readiness of servers and worker, and they recover when it returns.
//! The suite runs twice: without Redis, and with a private Redis as the shared ephemeral
//! state, where stopping and restarting Redis flips readiness too, while sessions (which live
//! in PostgreSQL) keep working throughout.

use crate::oidc::{
    CHALLENGE, PASSWORD, REDIRECT, VERIFIER, authorize_url, post_form, query_param,
    sign_in_and_authorize,
};
use crate::support::caddy::Caddy;
use crate::support::pg::PrivatePostgres;
use crate::support::redis::PrivateRedis;
use crate::support::server::{Origin, Server, free_addr, run_cli};
use reqwest::StatusCode;
use reqwest::cookie::{CookieStore, Jar};
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// `GET /if/user/` with an explicit `Cookie` header, straight to one replica over HTTP.
async fn portal_status(replica: &Server, cookie: &str) -> StatusCode {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .get(replica.url("/if/user/"))
        .header("cookie", cookie)
        .send()
        .await
        .expect("portal")
        .status()
}

/// Walks the sign-in flow (username, then password) the way a browser does; `false` on any
/// failure, so requests caught by a killed replica are counted rather than fatal.
async fn try_sign_in(client: &reqwest::Client, origin: &str) -> bool {
    const LOGIN: &str = "/if/flow/default-authentication-flow/";
    let mut page = match client.get(format!("{origin}{LOGIN}")).send().await {
        Ok(response) if response.status() == StatusCode::OK => {
            response.text().await.unwrap_or_default()
        }
        _ => return false,
    };
    for (field, value) in [("uid", "admin"), ("password", PASSWORD)] {
        let Some(csrf) = page
            .split(r#"name="csrf" value=""#)
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .map(str::to_owned)
        else {
            return false;
        };
        let mut response = match client
            .post(format!("{origin}{LOGIN}"))
            .form(&[("csrf", csrf.as_str()), (field, value)])
            .send()
            .await
        {
            Ok(response) => response,
            Err(_) => return false,
        };
        // Follow the flow's post/redirect/get.
        for _ in 0..5 {
            if response.status() != StatusCode::SEE_OTHER {
                break;
            }
            let target = crate::oidc::location(&response);
            response = match client.get(format!("{origin}{target}")).send().await {
                Ok(response) => response,
                Err(_) => return false,
            };
        }
        page = response.text().await.unwrap_or_default();
    }
    matches!(
        client.get(format!("{origin}/if/user/")).send().await,
        Ok(response) if response.status() == StatusCode::OK
    )
}

/// Creates the confidential client `grafana` with the CLI and returns its secret.
pub(crate) fn create_grafana(env: &std::collections::BTreeMap<String, String>) -> String {
    create_grafana_with(env, &[])
}

/// As [`create_grafana`], with `extra` options for `gatehouse app create`.
pub(crate) fn create_grafana_with(
    env: &std::collections::BTreeMap<String, String>,
    extra: &[&str],
) -> String {
    let mut args = vec![
        "app",
        "create",
        "grafana",
        "--client-id",
        "grafana",
        "--redirect-uri",
        REDIRECT,
        "--json",
    ];
    args.extend_from_slice(extra);
    let created = run_cli(env, &args, None);
    assert!(created.status.success(), "{created:?}");
    let created: Value = serde_json::from_slice(&created.stdout).expect("json");
    created["client_secret"]
        .as_str()
        .expect("secret")
        .to_owned()
}

async fn refresh(replica: &Server, secret: &str, token: &str) -> (StatusCode, Value) {
    let (status, _, body) = post_form(
        &reqwest::Client::new(),
        &replica.url("/application/o/token/"),
        Some(("grafana", secret)),
        &[("grant_type", "refresh_token"), ("refresh_token", token)],
    )
    .await;
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_and_a_worker_behind_caddy() {
    scale_out(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_and_a_worker_behind_caddy_with_redis() {
    let mut redis = PrivateRedis::start();
    scale_out(Some(&mut redis)).await;
}

async fn scale_out(redis: Option<&mut PrivateRedis>) {
    let pg = PrivatePostgres::start();
    let proxy = free_addr();
    let data = tempfile::tempdir().expect("data dir");
    let mut env = pg.env();
    if let Some(redis) = &redis {
        env.insert("GATEHOUSE_REDIS__URL".to_owned(), redis.url());
    }
    for (key, value) in [
        ("GATEHOUSE_DATA_DIR", data.path().display().to_string()),
        // Every replica must share the secret key: it keys cookies and token digests.
        (
            "GATEHOUSE_SECRET_KEY",
            "replicas-share-this-secret-key-0123456789".to_owned(),
        ),
        (
            "GATEHOUSE_EXTERNAL_URL",
            format!("https://localhost:{}", proxy.port()),
        ),
        (
            "GATEHOUSE_LISTEN__TRUSTED_PROXY_CIDRS",
            "127.0.0.1".to_owned(),
        ),
        ("GATEHOUSE_BOOTSTRAP_PASSWORD", PASSWORD.to_owned()),
    ] {
        env.insert(key.to_owned(), value);
    }
    let secret = create_grafana(&env);

    // Both replicas start together: migrations and the bootstrap administrator race safely.
    let a = Server::start_replica(&env, &[]);
    let b = Server::start_replica(&env, &[]);
    let worker = Server::start_worker(&env, &[]);
    for process in [&a, &b, &worker] {
        process.wait_ready().await;
    }
    let caddy = Caddy::start(proxy, &[a.http, b.http]);

    // Sign in and authorize through the proxy: the flow's requests alternate replicas.
    let jar = Arc::new(Jar::default());
    let browser = caddy.client(jar.clone());
    let pkce = [
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ];
    let back =
        sign_in_and_authorize(&caddy, &browser, &authorize_url(&caddy, "grafana", &pkce)).await;
    let code = query_param(&back, "code").expect("code");
    let cookies = jar
        .cookies(&caddy.url("/").parse().expect("url"))
        .expect("session cookie")
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(
        cookies.contains("__Host-"),
        "secure cookies behind TLS: {cookies}"
    );
    for replica in [&a, &b] {
        assert_eq!(portal_status(replica, &cookies).await, StatusCode::OK);
    }

    // The code is redeemed at A; each refresh goes to the other replica.
    let (status, _, tokens) = post_form(
        &reqwest::Client::new(),
        &a.url("/application/o/token/"),
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
    let first = tokens["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_owned();
    let mut current = first.clone();
    for replica in [&b, &a, &b] {
        let (status, body) = refresh(replica, &secret, &current).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let next = body["refresh_token"].as_str().expect("rotated").to_owned();
        assert_ne!(next, current);
        current = next;
    }
    // Reusing a rotated token on the other replica revokes the whole family.
    let (status, body) = refresh(&a, &secret, &first).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let (status, body) = refresh(&b, &secret, &current).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
        "the newest token of a reused family is revoked everywhere"
    );

    // Bounded load through the proxy; replica B is killed in the middle of it.
    let service = caddy.client(Arc::new(Jar::default()));
    let token_url = caddy.url("/application/o/token/");
    let issued = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let mut load = Vec::new();
    for _ in 0..4 {
        let (service, token_url, secret) = (service.clone(), token_url.clone(), secret.clone());
        let (issued, failed) = (issued.clone(), failed.clone());
        load.push(tokio::spawn(async move {
            for _ in 0..60 {
                let (status, _, _) = post_form(
                    &service,
                    &token_url,
                    Some(("grafana", &secret)),
                    &[("grant_type", "client_credentials")],
                )
                .await;
                let counter = if status == StatusCode::OK {
                    &issued
                } else {
                    &failed
                };
                counter.fetch_add(1, Ordering::SeqCst);
            }
        }));
    }
    let sign_ins = {
        // A fresh visitor (cookie jar) for each sign-in.
        let visitors: Vec<_> = (0..3)
            .map(|_| caddy.client(Arc::new(Jar::default())))
            .collect();
        let origin = caddy.url("");
        let failed = failed.clone();
        tokio::spawn(async move {
            let mut completed = 0;
            for client in visitors {
                if try_sign_in(&client, &origin).await {
                    completed += 1;
                } else {
                    failed.fetch_add(1, Ordering::SeqCst);
                }
            }
            completed
        })
    };
    while issued.load(Ordering::SeqCst) < 40 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    b.kill();
    for task in load {
        task.await.expect("load task");
    }
    let signed_in = sign_ins.await.expect("sign-in task");
    let (issued, failed) = (issued.load(Ordering::SeqCst), failed.load(Ordering::SeqCst));
    assert!(
        failed <= 5,
        "only requests in flight at the kill may fail: {failed} failed, {issued} issued; caddy:\n{}",
        caddy.log()
    );
    assert!(
        issued + signed_in >= 238,
        "{issued} tokens and {signed_in} sign-ins completed"
    );
    // After the kill everything goes to A, and the session made earlier is intact.
    for _ in 0..4 {
        let status = browser
            .get(caddy.url("/if/user/"))
            .send()
            .await
            .expect("portal")
            .status();
        assert_eq!(status, StatusCode::OK);
    }

    // PostgreSQL goes away: readiness of the server and of the worker says so; both recover
    // by themselves when it returns, and the session is still there.
    pg.stop();
    a.wait_ready_status(503, Duration::from_secs(30)).await;
    worker.wait_ready_status(503, Duration::from_secs(30)).await;
    pg.start_again();
    a.wait_ready().await;
    worker.wait_ready().await;
    assert_eq!(portal_status(&a, &cookies).await, StatusCode::OK);

    if let Some(redis) = redis {
        // Redis goes away: readiness says so on the server and the worker, the session
        // (in PostgreSQL) is still served and tokens are still issued (caches fall back to
        // their TTL); both recover by themselves when Redis returns.
        redis.stop();
        for process in [&a, &worker] {
            process
                .wait_ready_status(503, Duration::from_secs(30))
                .await;
            let body: Value = reqwest::get(process.url("/-/health/ready/"))
                .await
                .expect("readiness")
                .json()
                .await
                .expect("json");
            assert_eq!(body["redis"], "unavailable", "{body}");
            assert_eq!(body["database"], "ok", "{body}");
        }
        assert_eq!(portal_status(&a, &cookies).await, StatusCode::OK);
        let (status, _, body) = post_form(
            &reqwest::Client::new(),
            &a.url("/application/o/token/"),
            Some(("grafana", &secret)),
            &[("grant_type", "client_credentials")],
        )
        .await;
        assert_eq!(
            status,
            StatusCode::OK,
            "tokens are issued while Redis is down: {body}"
        );
        redis.start_again();
        a.wait_ready().await;
        worker.wait_ready().await;
        assert_eq!(portal_status(&a, &cookies).await, StatusCode::OK);
        // The pool's connections come back one by one (reconnect backoff up to 2 s); the
        // link checks every second.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while a.metric("gatehouse_redis_up").await != Some(1.0) {
            assert!(
                std::time::Instant::now() < deadline,
                "{}",
                a.metrics_text().await
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    assert!(worker.terminate().success());
    assert!(a.terminate().success());
}
