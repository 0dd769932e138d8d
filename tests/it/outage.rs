//! Database outages on PostgreSQL: a server keeps running while its database is stopped,
//! answers 503 where the database is needed, and recovers by itself when it returns. Each test
//! owns a private PostgreSQL instance it can stop and start.

use crate::support::pg::PrivatePostgres;
use crate::support::server::{Backend, Installation, Server};
use reqwest::StatusCode;
use std::time::Duration;

async fn status_of(url: &str) -> StatusCode {
    reqwest::Client::new()
        .get(url)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .expect("server answers")
        .status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn survives_postgres_stopping_and_recovers_when_it_returns() {
    let pg = PrivatePostgres::start();
    let dir = tempfile::tempdir().expect("data dir");
    let mut env = pg.env();
    env.insert(
        "GATEHOUSE_DATA_DIR".into(),
        dir.path().display().to_string(),
    );
    let server = Server::start_with_env(&env, &[]);
    let link = server.setup_link().await;
    server.wait_ready().await;
    assert_eq!(status_of(&link).await, StatusCode::OK);

    pg.stop();
    server.wait_ready_status(503, Duration::from_secs(30)).await;
    assert_eq!(
        status_of(&server.url("/-/health/live/")).await,
        StatusCode::OK,
        "still alive"
    );
    assert_eq!(
        status_of(&link).await,
        StatusCode::SERVICE_UNAVAILABLE,
        "a clean 503, not a hang or a 500"
    );

    pg.start_again();
    server.wait_ready_status(200, Duration::from_secs(30)).await;
    assert_eq!(
        status_of(&link).await,
        StatusCode::OK,
        "recovered without a restart"
    );
    assert!(server.terminate().success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starts_while_postgres_is_down_and_becomes_ready_later() {
    let pg = PrivatePostgres::start();
    pg.stop();
    let dir = tempfile::tempdir().expect("data dir");
    let mut env = pg.env();
    env.insert(
        "GATEHOUSE_DATA_DIR".into(),
        dir.path().display().to_string(),
    );
    let server = Server::start_with_env(&env, &[]);
    server.wait_ready_status(503, Duration::from_secs(30)).await;
    assert_eq!(
        status_of(&server.url("/-/health/live/")).await,
        StatusCode::OK
    );
    assert_eq!(
        status_of(&server.url("/if/flow/initial-setup/?token=x")).await,
        StatusCode::SERVICE_UNAVAILABLE,
        "routes wait for start-up"
    );
    pg.start_again();
    server.wait_ready().await;
    let link = server.setup_link().await;
    assert_eq!(status_of(&link).await, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_with_different_secret_keys_are_refused() {
    let installation = Installation::new(Backend::Postgres).await;
    let first = Server::start(
        &installation,
        &[(
            "GATEHOUSE_SECRET_KEY",
            "the-first-secret-key-0123456789abcdef",
        )],
    );
    first.wait_ready().await;
    let other_dir = tempfile::tempdir().expect("data dir");
    let mut env = installation.env.clone();
    env.insert(
        "GATEHOUSE_DATA_DIR".into(),
        other_dir.path().display().to_string(),
    );
    let mut second = Server::start_with_env(
        &env,
        &[(
            "GATEHOUSE_SECRET_KEY",
            "a-different-secret-key-0123456789abcdef",
        )],
    );
    let status = second.wait_exit(Duration::from_secs(30));
    assert_eq!(status.code(), Some(1));
    assert!(
        second.logs().contains("secret key differs"),
        "{}",
        second.logs()
    );
    assert!(
        !second.logs().contains("the-first-secret")
            && !second.logs().contains("a-different-secret")
    );
    // The same key on another replica is fine.
    let third = Server::start_with_env(
        &env,
        &[(
            "GATEHOUSE_SECRET_KEY",
            "the-first-secret-key-0123456789abcdef",
        )],
    );
    third.wait_ready().await;
}
