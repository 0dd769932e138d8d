//! The server process: health endpoints, metrics, request ids, signals, configuration errors.

use crate::support::server::{Backend, Installation, Server, run_cli};
use reqwest::StatusCode;
use std::collections::BTreeMap;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_metrics_and_request_ids() {
    let installation = Installation::new(Backend::Sqlite).await;
    let server = Server::start(&installation, &[]);
    server.wait_ready().await;
    let client = reqwest::Client::new();

    let live = client
        .get(server.url("/-/health/live/"))
        .send()
        .await
        .expect("live");
    assert_eq!(live.status(), StatusCode::OK);
    let generated = live.headers()["x-request-id"]
        .to_str()
        .expect("id")
        .to_owned();
    assert_eq!(generated.len(), 36, "a UUID request id: {generated}");
    let ready = client
        .get(server.url("/-/health/ready/"))
        .header("x-request-id", "from-the-proxy-123")
        .send()
        .await
        .expect("ready");
    assert_eq!(ready.headers()["x-request-id"], "from-the-proxy-123");
    let ready: serde_json::Value = ready.json().await.expect("json");
    assert_eq!(
        ready,
        serde_json::json!({"status": "ok", "database": "ok", "startup": "ok"})
    );
    let missing = client
        .get(server.url("/no/such/page"))
        .send()
        .await
        .expect("404");
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);

    let metrics = server.metrics_text().await;
    for series in [
        r#"gatehouse_http_requests_total{method="GET",route="/-/health/live/",status="200"} 1"#,
        r#"gatehouse_http_request_duration_seconds_bucket{method="GET",route="/-/health/ready/""#,
        r#"status="404""#,
        "gatehouse_db_pool_connections{state=\"open\"}",
        "gatehouse_db_pool_max_connections",
        "process_resident_memory_bytes",
        "process_cpu_seconds_total",
        "process_open_fds",
        "gatehouse_ready 1",
    ] {
        assert!(
            metrics.contains(series),
            "missing {series:?} in:\n{metrics}"
        );
    }
    // Raw paths never become labels (bounded cardinality).
    assert!(!metrics.contains("/no/such/page"));
    // Query strings (setup tokens) never reach the logs.
    assert!(!server.logs().contains("token=") || server.logs().matches("token=").count() == 1);
}

/// A separate `gatehouse worker` (as in a Kubernetes worker Deployment) can be probed and
/// scraped on its metrics listener, and stops cleanly on SIGTERM.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_serves_health_and_metrics() {
    let installation = Installation::new(Backend::Sqlite).await;
    let worker = Server::start_worker(
        &installation.env,
        &[("GATEHOUSE_WORKER__SWEEP_INTERVAL_SECS", "1")],
    );
    worker.wait_ready().await;
    worker
        .wait_for_log(
            "Gatehouse worker is running",
            std::time::Duration::from_secs(10),
        )
        .await;
    let client = reqwest::Client::new();
    let live = client
        .get(worker.url("/-/health/live/"))
        .send()
        .await
        .expect("live");
    assert_eq!(live.status(), StatusCode::OK);
    // The first sweep runs at start; wait until the counter shows it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let metrics = loop {
        let text = worker.metrics_text().await;
        if text.contains("gatehouse_worker_sweeps_total") || std::time::Instant::now() > deadline {
            break text;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    for series in [
        "gatehouse_worker_sweeps_total",
        "gatehouse_db_pool_max_connections",
        "process_resident_memory_bytes",
    ] {
        assert!(
            metrics.contains(series),
            "missing {series:?} in:\n{metrics}"
        );
    }
    // A worker has no pages.
    let page = client
        .get(worker.url("/if/flow/default-authentication-flow/"))
        .send()
        .await
        .expect("page");
    assert_eq!(page.status(), StatusCode::NOT_FOUND);
    assert!(worker.terminate().success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_and_a_clean_sigterm() {
    let installation = Installation::new(Backend::Sqlite).await;
    let server = Server::start(&installation, &[("GATEHOUSE_LOG__FORMAT", "json")]);
    server.wait_ready().await;
    reqwest::get(server.url("/-/health/live/"))
        .await
        .expect("live");
    let logs = server.logs();
    let status = server.terminate();
    assert!(status.success(), "exit status {status}");
    let lines: Vec<&str> = logs.lines().collect();
    assert!(lines.len() >= 3, "{logs}");
    for line in lines {
        let event: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(
            event.get("level").is_some() && event.get("timestamp").is_some(),
            "{line}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_port_is_a_clear_error() {
    let installation = Installation::new(Backend::Sqlite).await;
    let holder = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let busy = holder.local_addr().expect("addr").to_string();
    let mut server = Server::start(&installation, &[("GATEHOUSE_LISTEN__HTTP", busy.as_str())]);
    let status = server.wait_exit(std::time::Duration::from_secs(20));
    assert_eq!(status.code(), Some(1));
    assert!(
        server.logs().contains(&format!("cannot listen on {busy}")),
        "{}",
        server.logs()
    );
}

#[test]
fn bad_configuration_exits_2_naming_key_and_source() {
    let dir = tempfile::tempdir().expect("dir");
    let mut env = BTreeMap::new();
    env.insert(
        "GATEHOUSE_DATA_DIR".to_owned(),
        dir.path().display().to_string(),
    );
    env.insert(
        "GATEHOUSE_LISTEN__HTTP".to_owned(),
        "not-an-address".to_owned(),
    );
    let output = run_cli(&env, &["check-config"], None);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("listen.http") && stderr.contains("GATEHOUSE_LISTEN__HTTP"),
        "{stderr}"
    );

    let yaml = dir.path().join("config.yaml");
    std::fs::write(&yaml, "postgresql:\n  port: lots\n").expect("write");
    env.remove("GATEHOUSE_LISTEN__HTTP");
    let output = run_cli(
        &env,
        &["--config", yaml.to_str().expect("path"), "check-config"],
        None,
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("postgresql.port") && stderr.contains("config.yaml"),
        "{stderr}"
    );

    // A misspelt key is refused, not silently replaced by its default.
    std::fs::write(
        &yaml,
        "listen:\n  htp: 0.0.0.0:9000\npostgresql:\n  host: db\n  pasword: x\nbranding: {title: T}\n",
    )
    .expect("write");
    let output = run_cli(
        &env,
        &["--config", yaml.to_str().expect("path"), "check-config"],
        None,
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("listen.htp: unknown key")
            && stderr.contains("postgresql.pasword: unknown key")
            && !stderr.contains("branding")
            && stderr.contains("config.yaml"),
        "{stderr}"
    );
    assert!(
        output.stdout.is_empty(),
        "nothing printed for a refused file"
    );

    // An HTTPS listener without its certificate is refused before anything starts.
    env.insert(
        "GATEHOUSE_LISTEN__HTTPS".to_owned(),
        "127.0.0.1:0".to_owned(),
    );
    let output = run_cli(&env, &["check-config"], None);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("listen.https: needs tls.certificate_file and tls.private_key_file"),
        "{stderr}"
    );
    env.remove("GATEHOUSE_LISTEN__HTTPS");

    env.insert(
        "GATEHOUSE_SECRET_KEY".to_owned(),
        "env://GATEHOUSE_TEST_MISSING_SECRET".to_owned(),
    );
    let output = run_cli(&env, &["check-config"], None);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("secret_key") && stderr.contains("GATEHOUSE_TEST_MISSING_SECRET"),
        "{stderr}"
    );

    let missing = dir.path().join("absent.yaml");
    let output = run_cli(
        &BTreeMap::new(),
        &["--config", missing.to_str().expect("path"), "check-config"],
        None,
    );
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn check_config_resolves_references_and_masks_secrets() {
    let dir = tempfile::tempdir().expect("dir");
    let secret_file = dir.path().join("db-password");
    std::fs::write(&secret_file, "file-held-db-password\n").expect("write");
    let yaml = dir.path().join("config.yaml");
    std::fs::write(
        &yaml,
        format!(
            "branding:\n  title: From the file\npostgresql:\n  host: db.internal\n  password: file://{}\nlisten:\n  http: 127.0.0.1:9100\n",
            secret_file.display()
        ),
    )
    .expect("write");
    let mut env = BTreeMap::new();
    env.insert(
        "GATEHOUSE_DATA_DIR".to_owned(),
        dir.path().display().to_string(),
    );
    env.insert(
        "GATEHOUSE_SECRET_KEY".to_owned(),
        "env://MY_SECRET_KEY".to_owned(),
    );
    env.insert(
        "MY_SECRET_KEY".to_owned(),
        "a-very-long-secret-key-value-0123456789".to_owned(),
    );
    env.insert(
        "GATEHOUSE_BRANDING__TITLE".to_owned(),
        "Env wins".to_owned(),
    );
    env.insert("GATEHOUSE_POSTGRESQL__PORT".to_owned(), "6543".to_owned());
    let output = run_cli(
        &env,
        &["--config", yaml.to_str().expect("path"), "check-config"],
        None,
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let effective: serde_json::Value = serde_yaml::from_str(&stdout).expect("yaml");
    assert_eq!(effective["branding"]["title"], "Env wins");
    assert_eq!(effective["listen"]["http"], "127.0.0.1:9100");
    assert_eq!(effective["postgresql"]["host"], "db.internal");
    assert_eq!(effective["postgresql"]["port"], 6543);
    assert_eq!(effective["postgresql"]["password"], "********");
    assert_eq!(effective["secret_key"], "********");
    assert!(
        !stdout.contains("file-held-db-password") && !stdout.contains("a-very-long-secret"),
        "{stdout}"
    );
}
