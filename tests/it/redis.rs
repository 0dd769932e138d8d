//! Redis as the replicas' shared ephemeral state, with real processes: two `serve
//! --no-worker` replicas on one PostgreSQL and one private `redis-server` (password given
//! through an `env://` reference). The login throttle's budget is one across replicas; an
//! application deleted with the CLI is refused by the other replica at once (well under the
//! caches' 5 s TTL); a session revoked on one replica is refused on the other although the
//! other had it in the Redis session cache; no username appears in Redis in clear.

use crate::oidc::{PASSWORD, REDIRECT, post_form};
use crate::support::forms::csrf_of;
use crate::support::pg::PrivatePostgres;
use crate::support::redis::PrivateRedis;
use crate::support::server::{Server, run_cli};
use reqwest::StatusCode;
use reqwest::cookie::Jar;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

const LOGIN: &str = "/if/flow/default-authentication-flow/";

/// A browser-like client with its own cookie jar that does not follow redirects.
pub(crate) fn visitor() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_provider(Arc::new(Jar::default()))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// Walks the sign-in flow at `replica` (username, then password) and returns the last page.
pub(crate) async fn sign_in(
    client: &reqwest::Client,
    replica: &Server,
    username: &str,
    password: &str,
) -> String {
    let mut page = client
        .get(replica.url(LOGIN))
        .send()
        .await
        .expect("login page")
        .text()
        .await
        .expect("body");
    for (field, value) in [("uid", username), ("password", password)] {
        let mut response = client
            .post(replica.url(LOGIN))
            .form(&[("csrf", csrf_of(&page).as_str()), (field, value)])
            .send()
            .await
            .expect("post");
        for _ in 0..5 {
            if response.status() != StatusCode::SEE_OTHER {
                break;
            }
            let target = crate::oidc::location(&response);
            response = client
                .get(replica.url(&target))
                .send()
                .await
                .expect("follow");
        }
        page = response.text().await.expect("body");
        if !page.contains(r#"name="password""#) && field == "uid" {
            break;
        }
    }
    page
}

/// The readiness answer of `process`.
pub(crate) async fn readiness(process: &Server) -> (StatusCode, Value) {
    let response = reqwest::get(process.url("/-/health/ready/"))
        .await
        .expect("readiness");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The environment of an installation on `pg` with Redis at `redis`.
pub(crate) fn redis_env(pg: &PrivatePostgres, redis: &PrivateRedis, data: &std::path::Path) -> BTreeMap<String, String> {
    let mut env = pg.env();
    for (key, value) in [
        ("GATEHOUSE_DATA_DIR", data.display().to_string()),
        (
            "GATEHOUSE_SECRET_KEY",
            "replicas-share-this-secret-key-0123456789".to_owned(),
        ),
        ("GATEHOUSE_BOOTSTRAP_PASSWORD", PASSWORD.to_owned()),
        ("GATEHOUSE_REDIS__URL", redis.url()),
        ("GATEHOUSE_REDIS__PASSWORD", "env://REDIS_PASSWORD".to_owned()),
        ("REDIS_PASSWORD", REDIS_PASSWORD.to_owned()),
    ] {
        env.insert(key.to_owned(), value);
    }
    env
}

/// The private Redis's password.
pub(crate) const REDIS_PASSWORD: &str = "redis-test-password-7f3a";

async fn client_credentials(replica: &Server, secret: &str) -> StatusCode {
    post_form(
        &reqwest::Client::new(),
        &replica.url("/application/o/token/"),
        Some(("grafana", secret)),
        &[("grant_type", "client_credentials")],
    )
    .await
    .0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_share_limits_invalidations_and_sessions_through_redis() {
    let pg = PrivatePostgres::start();
    let redis = PrivateRedis::start_with_password(Some(REDIS_PASSWORD));
    let data = tempfile::tempdir().expect("data dir");
    let mut env = redis_env(&pg, &redis, data.path());
    for (key, value) in [
        ("GATEHOUSE_LOGIN_THROTTLE__FREE_ATTEMPTS", "2"),
        ("GATEHOUSE_LOGIN_THROTTLE__BASE_DELAY_SECS", "60"),
        ("GATEHOUSE_LOGIN_THROTTLE__IP_FREE_ATTEMPTS", "100"),
    ] {
        env.insert(key.to_owned(), value.to_owned());
    }
    let created = run_cli(
        &env,
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
    );
    assert!(created.status.success(), "{created:?}");
    let created: Value = serde_json::from_slice(&created.stdout).expect("json");
    let secret = created["client_secret"].as_str().expect("secret").to_owned();
    let a = Server::start_replica(&env, &[]);
    let b = Server::start_replica(&env, &[]);
    for replica in [&a, &b] {
        replica.wait_ready().await;
        let (status, body) = readiness(replica).await;
        assert_eq!((status, body["redis"].as_str()), (StatusCode::OK, Some("ok")), "{body}");
    }

    // One throttle budget: failures alternate replicas, and the third (over the two free
    // ones) blocks the account on both. Counted per replica, B would have seen one failure.
    for replica in [&a, &b, &a] {
        let page = sign_in(&visitor(), replica, "carol", "wrong password").await;
        assert!(page.contains("Invalid username or password"), "{page}");
    }
    let page = sign_in(&visitor(), &b, "carol", "wrong password").await;
    assert!(page.contains("Too many failed attempts"), "{page}");
    let keys = redis.keys();
    assert!(keys.contains("gatehouse:limit:"), "{keys}");
    assert!(!keys.to_lowercase().contains("carol"), "no username in clear: {keys}");
    assert!(!keys.contains("127.0.0.1"), "no address in clear: {keys}");

    // Sessions: both devices sign in at A; B serves the tablet's session from Redis, and
    // still refuses it at once after the laptop revokes it at A.
    let (laptop, tablet) = (visitor(), visitor());
    for device in [&laptop, &tablet] {
        let page = sign_in(device, &a, "admin", PASSWORD).await;
        assert!(page.contains("Hello,"), "{page}");
    }
    let portal_status = |device: &reqwest::Client, replica: &Server| {
        let request = device.get(replica.url("/if/user/"));
        async move { request.send().await.expect("portal").status() }
    };
    assert_eq!(portal_status(&tablet, &b).await, StatusCode::OK);
    assert!(redis.keys().contains("gatehouse:session:"), "{}", redis.keys());
    let portal = laptop
        .get(b.url("/if/user/"))
        .send()
        .await
        .expect("portal")
        .text()
        .await
        .expect("body");
    let session_id = crate::support::forms::hidden_field(&portal, "session");
    let revoked = laptop
        .post(a.url("/if/user/sessions/revoke"))
        .form(&[("csrf", csrf_of(&portal).as_str()), ("session", &session_id)])
        .send()
        .await
        .expect("revoke");
    assert_eq!(revoked.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        portal_status(&tablet, &b).await,
        StatusCode::SEE_OTHER,
        "the revoked session is not served from the cache"
    );
    assert_eq!(portal_status(&laptop, &b).await, StatusCode::OK);

    // Invalidation: B has grafana cached; the CLI deletes it, and B refuses it well within
    // the caches' 5 s TTL.
    assert_eq!(client_credentials(&b, &secret).await, StatusCode::OK);
    let deleted = run_cli(&env, &["app", "delete", "grafana", "--yes"], None);
    assert!(deleted.status.success(), "{deleted:?}");
    let started = Instant::now();
    loop {
        let status = client_credentials(&b, &secret).await;
        if status == StatusCode::UNAUTHORIZED {
            break;
        }
        assert_eq!(status, StatusCode::OK);
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "B still issues tokens for a deleted application after {:?}",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(a.terminate().success());
    assert!(b.terminate().success());
}
