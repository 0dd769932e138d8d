//! schemathesis (PyPI, pinned in scripts/test) against the admin API of a real server with a
//! superuser's bearer token, on both backends: it generates valid and invalid requests for
//! every operation from the served OpenAPI document and fails on any 5xx and on any answer
//! that contradicts the document. Examples and time are bounded to keep the run short.

use crate::on_both_backends;
use crate::support::server::{Backend, Installation, Server};

const TOKEN: &str = "schemathesis-root-token-0123456789abcdef";

async fn schemathesis_finds_no_server_error_or_schema_violation(backend: Backend) {
    let st = std::env::var("GATEHOUSE_TEST_SCHEMATHESIS").expect(
        "GATEHOUSE_TEST_SCHEMATHESIS: run scripts/test, which installs schemathesis into a virtualenv",
    );
    let gh = Installation::new(backend).await;
    let server = Server::start(&gh, &[("GATEHOUSE_BOOTSTRAP_TOKEN", TOKEN)]);
    server.wait_ready().await;
    let reports = tempfile::tempdir().expect("temp dir");
    let output = tokio::process::Command::new(st)
        .arg("run")
        .arg(server.url("/api/v3/schema/"))
        .args(["--url", &server.url("")])
        .args(["--header", &format!("Authorization: Bearer {TOKEN}")])
        .args(["--checks", "not_a_server_error,response_schema_conformance"])
        // One worker: with several, CPython 3.11's `ast.parse` in Hypothesis's lambda
        // descriptions occasionally fails across threads (a schemathesis runtime error).
        .args(["--max-examples", "12", "--max-time", "90", "--workers", "1"])
        .args([
            "--seed",
            "20261129",
            "--no-color",
            "--request-timeout",
            "20",
        ])
        .arg("--report-dir")
        .arg(reports.path())
        .env("SCHEMATHESIS_TELEMETRY", "false")
        .current_dir(reports.path())
        .output()
        .await
        .expect("run schemathesis");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "schemathesis found problems:\n{stdout}\n{}\nserver log:\n{}",
        String::from_utf8_lossy(&output.stderr),
        server.logs()
    );
    // It really exercised the API: the summary counts operations it tested.
    assert!(stdout.contains("/api/v3/core/users/"), "{stdout}");
}

on_both_backends!(schemathesis_finds_no_server_error_or_schema_violation);
