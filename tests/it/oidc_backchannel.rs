//! Back-Channel Logout 1.0 end to end, on both backends: a relying party's logout endpoint
//! (tests/interop/authlib/backchannel_receiver.py, validating each token with Authlib against
//! our JWKS) is registered as `grafana`'s `backchannel_logout_uri`, and receives a logout
//! token naming the session's `sid` (the one in the ID token) when the session ends by
//! sign-out, by RP-initiated end-session and by revocation from the portal. The receiver
//! answers its first request with 500, so the first delivery is retried. A second client
//! without a back-channel URI, signed in the same sessions, causes no delivery. With a
//! separate worker, Redis wakes delivery at once.

use crate::oidc::{
    PASSWORD, REDIRECT, authorize_url, claims_of, client, csrf_of, location, post_form,
    query_param, sign_in_from,
};
use crate::oidc_authlib::id_token;
use crate::on_both_backends;
use crate::redis::{REDIS_PASSWORD, redis_env};
use crate::replicas::create_grafana_with;
use crate::support::pg::PrivatePostgres;
use crate::support::redis::PrivateRedis;
use crate::support::server::{Backend, Installation, Server, free_addr};
use reqwest::StatusCode;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The receiver process; killed when dropped.
struct Receiver {
    child: Child,
    port: u16,
    out: PathBuf,
    _dir: tempfile::TempDir,
}

impl Receiver {
    /// Starts the receiver for `client_id` of `issuer`, answering the first `fail_first`
    /// requests with 500.
    fn start(issuer: &str, client_id: &str, fail_first: u32) -> Self {
        let python = std::env::var("GATEHOUSE_TEST_AUTHLIB_PYTHON").expect(
            "GATEHOUSE_TEST_AUTHLIB_PYTHON: run scripts/test, which installs Authlib into a virtualenv",
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("received.jsonl");
        let mut child = Command::new(python)
            .arg(format!(
                "{}/../../tests/interop/authlib/backchannel_receiver.py",
                env!("CARGO_MANIFEST_DIR")
            ))
            .args([issuer, client_id])
            .arg(&out)
            .arg(fail_first.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("run the receiver");
        let mut first = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut first)
            .expect("the receiver's port");
        let port = first.trim().parse().expect("a port number");
        Self {
            child,
            port,
            out,
            _dir: dir,
        }
    }

    fn uri(&self) -> String {
        format!("http://127.0.0.1:{}/backchannel-logout", self.port)
    }

    /// Every request received so far, in order.
    fn received(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .map(|line| serde_json::from_str(line).expect("a JSON line"))
            .collect()
    }

    /// Waits until `accepted` valid tokens have arrived; returns every request.
    async fn wait_for(&self, accepted: usize) -> Vec<Value> {
        for _ in 0..150 {
            let received = self.received();
            if received.iter().filter(|r| r["answered"] == 200).count() >= accepted {
                return received;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "{accepted} logout tokens did not arrive; got {:?}",
            self.received()
        );
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn create_app(gh: &Installation, slug: &str, extra: &[&str]) -> String {
    let mut args = vec![
        "app",
        "create",
        slug,
        "--client-id",
        slug,
        "--redirect-uri",
        REDIRECT,
        "--post-logout-redirect-uri",
        "https://rp.example/bye",
        "--json",
    ];
    args.extend_from_slice(extra);
    let created: Value = serde_json::from_str(&gh.cli_ok(&args, None)).expect("json");
    created["client_secret"]
        .as_str()
        .expect("secret")
        .to_owned()
}

/// Signs the already signed-in `browser` into `other` too (code flow, implicit consent).
async fn also_sign_into_other(server: &Server, browser: &reqwest::Client, secret: &str) {
    let response = browser
        .get(authorize_url(server, "other", &[]))
        .send()
        .await
        .expect("authorize");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let code = query_param(&location(&response), "code").expect("code");
    let (status, _, body) = post_form(
        &client(),
        &server.url("/application/o/token/"),
        Some(("other", secret)),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// Follows `path` and its redirects (the sign-out link of the portal).
async fn follow(server: &Server, browser: &reqwest::Client, path: &str) {
    let mut target = path.to_owned();
    for _ in 0..5 {
        let url = if target.starts_with('/') {
            server.url(&target)
        } else {
            target.clone()
        };
        let response = browser.get(&url).send().await.expect("get");
        if response.status() != StatusCode::SEE_OTHER {
            return;
        }
        target = location(&response);
    }
}

/// Whether `browser` is still signed in.
async fn signed_in(server: &Server, browser: &reqwest::Client) -> bool {
    let response = browser
        .get(server.url("/if/user/"))
        .send()
        .await
        .expect("portal");
    response.status() == StatusCode::OK
}

/// The last accepted token's claims, checked against the ID token it logs out.
fn check_logout(received: &[Value], id_token: &str) -> Value {
    let last = received
        .iter()
        .rev()
        .find(|r| r["answered"] == 200)
        .expect("an accepted token");
    let id_claims = claims_of(id_token);
    let claims = &last["claims"];
    assert!(
        id_claims["sid"].as_str().is_some_and(|s| !s.is_empty()),
        "ID tokens carry sid: {id_claims}"
    );
    assert_eq!(claims["sid"], id_claims["sid"], "{last}");
    assert_eq!(claims["sub"], id_claims["sub"], "{last}");
    assert_eq!(claims["aud"], "grafana");
    assert_eq!(last["header"]["typ"], "logout+jwt");
    assert_eq!(last["header"]["alg"], "RS256");
    assert!(claims.get("nonce").is_none());
    assert_eq!(last["path"], "/backchannel-logout");
    assert!(
        last["content_type"]
            .as_str()
            .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded")),
        "{last}"
    );
    claims.clone()
}

async fn backchannel_logout(backend: Backend) {
    let gh = Installation::new(backend).await;
    let addr = free_addr();
    let issuer = format!("http://{addr}/application/o/grafana/");
    let receiver = Receiver::start(&issuer, "grafana", 1);
    let secret = create_app(
        &gh,
        "grafana",
        &["--backchannel-logout-uri", &receiver.uri()],
    );
    let other_secret = create_app(&gh, "other", &[]);
    let server = Server::start_at(
        &gh.env,
        addr,
        &[
            ("GATEHOUSE_BOOTSTRAP_PASSWORD", PASSWORD),
            ("GATEHOUSE_WORKER__BACKCHANNEL_RETRY_BASE_SECS", "1"),
            ("GATEHOUSE_WORKER__BACKCHANNEL_POLL_INTERVAL_MS", "100"),
        ],
    );
    server.wait_ready().await;

    // Sign-out: the first delivery meets a 500 and is retried; `other` causes nothing.
    let browser = client();
    let first = id_token(&server, &browser, &secret).await;
    also_sign_into_other(&server, &browser, &other_secret).await;
    follow(&server, &browser, "/if/flow/default-invalidation-flow/").await;
    assert!(!signed_in(&server, &browser).await);
    let received = receiver.wait_for(1).await;
    assert_eq!(received[0]["answered"], 500, "{received:?}");
    assert_eq!(received.len(), 2, "{received:?}");
    let claims = check_logout(&received, &first);
    assert_eq!(claims["iss"], issuer);

    // RP-initiated logout at the end-session endpoint.
    let second = id_token(&server, &browser, &secret).await;
    assert_ne!(
        claims_of(&second)["sid"],
        claims_of(&first)["sid"],
        "a new session, a new sid"
    );
    let end_session = server.url("/application/o/grafana/end-session/");
    let page = browser
        .get(format!("{end_session}?id_token_hint={second}"))
        .send()
        .await
        .expect("end-session")
        .text()
        .await
        .expect("page");
    let confirmed = browser
        .post(&end_session)
        .form(&[
            ("csrf", csrf_of(&page).as_str()),
            ("id_token_hint", &second),
        ])
        .send()
        .await
        .expect("confirm");
    assert_eq!(confirmed.status(), StatusCode::OK);
    assert!(!signed_in(&server, &browser).await);
    check_logout(&receiver.wait_for(2).await, &second);

    // Revocation from the portal of another browser.
    let laptop = client();
    let third = id_token(&server, &laptop, &secret).await;
    let phone = client();
    let target = sign_in_from(&server, &phone, &server.url("/if/user/")).await;
    assert_eq!(target, "/if/user/");
    let portal = phone
        .get(server.url("/if/user/"))
        .send()
        .await
        .expect("portal")
        .text()
        .await
        .expect("page");
    let marker = r#"name="session" value=""#;
    let start = portal
        .find(marker)
        .map(|i| i + marker.len())
        .expect("a revoke button");
    let session = portal[start..].split('"').next().expect("id").to_owned();
    let revoked = phone
        .post(server.url("/if/user/sessions/revoke"))
        .form(&[("csrf", csrf_of(&portal).as_str()), ("session", &session)])
        .send()
        .await
        .expect("revoke");
    assert_eq!(revoked.status(), StatusCode::SEE_OTHER);
    assert!(!signed_in(&server, &laptop).await);
    let received = receiver.wait_for(3).await;
    check_logout(&received, &third);

    // Every request was grafana's: three tokens, one retry, no refusal, nothing for `other`.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let received = receiver.received();
    assert_eq!(received.len(), 4, "{received:?}");
    assert!(
        received.iter().all(|r| r["answered"] != 400),
        "{received:?}"
    );
    let metric =
        |result: &str| format!("gatehouse_backchannel_logout_total{{result=\"{result}\"}}");
    assert_eq!(server.metric(&metric("delivered")).await, Some(3.0));
    assert_eq!(server.metric(&metric("retried")).await, Some(1.0));
    assert_eq!(server.metric(&metric("given_up")).await, None);
}

on_both_backends!(backchannel_logout);

/// With a separate worker, a sign-out at a replica wakes the worker's delivery through
/// Redis: the worker polls the queue only once a minute, so a token within seconds proves
/// the wake-up.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_separate_worker_delivers_at_once_when_woken_through_redis() {
    let pg = PrivatePostgres::start();
    let redis = PrivateRedis::start_with_password(Some(REDIS_PASSWORD));
    let data = tempfile::tempdir().expect("data dir");
    let mut env = redis_env(&pg, &redis, data.path());
    env.insert(
        "GATEHOUSE_WORKER__BACKCHANNEL_POLL_INTERVAL_MS".to_owned(),
        "60000".to_owned(),
    );
    let addr = free_addr();
    // The worker mints logout tokens away from any request: the issuer comes from the
    // configured external URL, as a multi-process deployment must set it.
    env.insert(
        "GATEHOUSE_EXTERNAL_URL".to_owned(),
        format!("http://{addr}"),
    );
    let issuer = format!("http://{addr}/application/o/grafana/");
    let receiver = Receiver::start(&issuer, "grafana", 0);
    let secret = create_grafana_with(&env, &["--backchannel-logout-uri", &receiver.uri()]);
    let replica = Server::start_replica_at(&env, addr, &[]);
    let worker = Server::start_worker(&env, &[]);
    replica.wait_ready().await;
    worker.wait_ready().await;

    let browser = client();
    let token = id_token(&replica, &browser, &secret).await;
    follow(&replica, &browser, "/if/flow/default-invalidation-flow/").await;
    assert!(!signed_in(&replica, &browser).await);
    let received = receiver.wait_for(1).await;
    assert_eq!(received.len(), 1, "{received:?}");
    check_logout(&received, &token);
}
