//! Redis as the replicas' shared ephemeral state, with real processes: two `serve
//! --no-worker` replicas on one PostgreSQL and one private `redis-server` (password given
//! through an `env://` reference). The login throttle's budget is one across replicas; an
//! application deleted with the CLI is refused by the other replica at once (well under the
//! caches' 5 s TTL); a session revoked on one replica is refused on the other although the
//! other had it in the Redis session cache; no username appears in Redis in clear; mail
//! queued by a server wakes the worker through Redis instead of waiting for its next poll.

use crate::oidc::{PASSWORD, post_form};
use crate::support::forms::csrf_of;
use crate::support::pg::PrivatePostgres;
use crate::support::redis::PrivateRedis;
use crate::support::server::{Server, run_cli};
use crate::support::smtp::SmtpSink;
use reqwest::StatusCode;
use reqwest::cookie::Jar;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

const LOGIN: &str = "/if/flow/default-authentication-flow/";
const RECOVERY: &str = "/if/flow/default-recovery-flow/";

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
pub(crate) fn redis_env(
    pg: &PrivatePostgres,
    redis: &PrivateRedis,
    data: &std::path::Path,
) -> BTreeMap<String, String> {
    let mut env = pg.env();
    for (key, value) in [
        ("GATEHOUSE_DATA_DIR", data.display().to_string()),
        (
            "GATEHOUSE_SECRET_KEY",
            "replicas-share-this-secret-key-0123456789".to_owned(),
        ),
        ("GATEHOUSE_BOOTSTRAP_PASSWORD", PASSWORD.to_owned()),
        ("GATEHOUSE_REDIS__URL", redis.url()),
        (
            "GATEHOUSE_REDIS__PASSWORD",
            "env://REDIS_PASSWORD".to_owned(),
        ),
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
        ("GATEHOUSE_BOOTSTRAP_EMAIL", "ops@example.com"),
    ] {
        env.insert(key.to_owned(), value.to_owned());
    }
    let sink = SmtpSink::start(0);
    env.extend(
        sink.gatehouse_env()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v)),
    );
    // The worker polls the outbox only once a minute: mail sent within seconds proves the
    // Redis wake-up.
    env.insert(
        "GATEHOUSE_EMAIL__POLL_INTERVAL_MS".to_owned(),
        "60000".to_owned(),
    );
    let secret = crate::replicas::create_grafana(&env);
    let a = Server::start_replica(&env, &[]);
    let b = Server::start_replica(&env, &[]);
    let worker = Server::start_worker(&env, &[]);
    for replica in [&a, &b, &worker] {
        replica.wait_ready().await;
        let (status, body) = readiness(replica).await;
        assert_eq!(
            (status, body["redis"].as_str()),
            (StatusCode::OK, Some("ok")),
            "{body}"
        );
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
    assert!(
        !keys.to_lowercase().contains("carol"),
        "no username in clear: {keys}"
    );
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
    assert!(
        redis.keys().contains("gatehouse:session:"),
        "{}",
        redis.keys()
    );
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
        .form(&[
            ("csrf", csrf_of(&portal).as_str()),
            ("session", &session_id),
        ])
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

    // Wake-up: a recovery link requested at A is queued in PostgreSQL and the worker, told
    // through Redis, sends it at once rather than at its next poll a minute later.
    let requester = visitor();
    let page = requester
        .get(a.url(RECOVERY))
        .send()
        .await
        .expect("recovery page")
        .text()
        .await
        .expect("body");
    let requested = requester
        .post(a.url(RECOVERY))
        .form(&[
            ("csrf", csrf_of(&page).as_str()),
            ("uid", "ops@example.com"),
        ])
        .send()
        .await
        .expect("request link");
    assert_eq!(requested.status(), StatusCode::SEE_OTHER);
    // The email stage queues the link when it is shown.
    let shown = requester
        .get(a.url(&crate::oidc::location(&requested)))
        .send()
        .await
        .expect("email stage");
    assert_eq!(shown.status(), StatusCode::OK);
    let started = Instant::now();
    let messages = sink.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(messages[0].recipients, "ops@example.com");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "delivered after {:?}",
        started.elapsed()
    );
    assert!(worker.terminate().success());
    assert!(a.terminate().success());
    assert!(b.terminate().success());
}

#[test]
fn redis_settings_are_checked_and_masked() {
    let dir = tempfile::tempdir().expect("dir");
    let yaml = dir.path().join("config.yaml");
    let mut env = BTreeMap::new();
    env.insert(
        "GATEHOUSE_DATA_DIR".to_owned(),
        dir.path().display().to_string(),
    );
    env.insert(
        "REDIS_PASSWORD".to_owned(),
        "from-the-environment".to_owned(),
    );
    let check = |text: &str| {
        std::fs::write(&yaml, text).expect("write");
        run_cli(
            &env,
            &["--config", yaml.to_str().expect("path"), "check-config"],
            None,
        )
    };

    let output = check(
        "redis:\n  url: rediss://:url-password@redis.example:6380/0\n  password: env://REDIS_PASSWORD\n  session_cache_secs: 10\n",
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    assert!(stdout.contains("session_cache_secs: 10"), "{stdout}");
    for secret in ["url-password", "from-the-environment"] {
        assert!(!stdout.contains(secret), "{secret} is masked: {stdout}");
    }

    let output = check("redis:\n  url: redis://127.0.0.1\n  passwrd: x\n");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("redis.passwrd: unknown key"), "{stderr}");

    let output = check("redis:\n  url: http://:hunter2@127.0.0.1\n");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("redis.url") && !stderr.contains("hunter2"),
        "{stderr}"
    );
}
