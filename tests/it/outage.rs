//! Database outages on PostgreSQL: a server keeps running while its database is stopped,
//! answers 503 where the database is needed, and recovers by itself when it returns. Each test
//! owns a private PostgreSQL instance it can stop and start.

use crate::support::server::{Backend, Installation, Server, postgres_env};
use reqwest::StatusCode;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

/// A PostgreSQL instance of this test's own, on a fixed port across restarts.
struct PrivatePostgres {
    _parent: tempfile::TempDir,
    dir: PathBuf,
    port: u16,
}

impl PrivatePostgres {
    fn start() -> Self {
        let parent = tempfile::tempdir().expect("temp dir");
        // The cluster runs as the `postgres` user when tests run as root: let it in.
        set_mode(parent.path(), 0o755);
        let dir = parent.path().join("pg");
        run_script("start", &dir);
        let url = std::fs::read_to_string(dir.join("url")).expect("url");
        let port = url
            .trim()
            .rsplit(':')
            .next()
            .and_then(|tail| tail.split('/').next())
            .and_then(|p| p.parse().ok())
            .expect("port in url");
        Self {
            _parent: parent,
            dir,
            port,
        }
    }

    fn stop(&self) {
        run_script("stop", &self.dir);
    }

    fn restart(&self) {
        run_script("start", &self.dir);
        let url = std::fs::read_to_string(self.dir.join("url")).expect("url");
        assert!(
            url.contains(&format!(":{}/", self.port)),
            "restarted on the same port: {url}"
        );
    }

    fn env(&self) -> BTreeMap<String, String> {
        postgres_env(&gatehouse_store::PostgresSettings {
            host: "127.0.0.1".into(),
            port: self.port,
            user: "postgres".into(),
            password: None,
            database: "postgres".into(),
            sslmode: gatehouse_store::SslMode::Disable,
            sslrootcert: None,
            max_connections: 4,
            connect_timeout: Duration::from_secs(2),
        })
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        self.stop();
    }
}

fn run_script(action: &str, dir: &std::path::Path) {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/pg-test-instance");
    let output = Command::new(script)
        .arg(action)
        .arg(dir)
        .output()
        .expect("run pg-test-instance");
    assert!(
        output.status.success(),
        "pg-test-instance {action}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn set_mode(path: &std::path::Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

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

    pg.restart();
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
    pg.restart();
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
