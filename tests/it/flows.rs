//! Flows live in the database: the defaults are stored on first use, `gatehouse flow show`
//! prints one as an `apply` document, an edited document applied while the server runs changes
//! the pages within the catalog's cache lifetime, `export` carries edited flows, and an invalid
//! flow is refused with its place in the document and nothing stored.

use crate::on_both_backends;
use crate::support::server::{Backend, Installation, Server};
use std::time::{Duration, Instant};

const LOGIN: &str = "/if/flow/default-authentication-flow/";

async fn page(server: &Server, path: &str) -> String {
    reqwest::get(server.url(path))
        .await
        .expect("GET")
        .text()
        .await
        .expect("body")
}

async fn edited_flows_are_served_exported_and_validated(backend: Backend) {
    let gh = Installation::new(backend).await;
    let listed = gh.cli_ok(&["flow", "list"], None);
    assert!(
        listed.contains("default-authentication-flow") && listed.contains("default"),
        "{listed}"
    );

    let server = Server::start(&gh, &[]);
    server.wait_ready().await;
    assert!(page(&server, LOGIN).await.contains("Welcome to Gatehouse!"));

    let shown = gh.cli_ok(&["flow", "show", "default-authentication-flow"], None);
    assert!(
        shown.starts_with("flows:\n- slug: default-authentication-flow\n"),
        "{shown}"
    );
    let edited = shown.replacen(
        "title: Welcome to Gatehouse!",
        "title: Sign in to Example Corp",
        1,
    );
    assert_ne!(edited, shown);
    let file = gh.data_dir().join("login-flow.yaml");
    std::fs::write(&file, &edited).expect("write");
    let path = file.to_str().expect("path");
    let applied = gh.cli_ok(&["apply", "-f", path], None);
    assert!(
        applied.contains("~ flow default-authentication-flow"),
        "{applied}"
    );
    assert_eq!(gh.cli_ok(&["apply", "-f", path], None).trim(), "no changes");

    // The running server reads flows again once its cached copy is a few seconds old.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if page(&server, LOGIN)
            .await
            .contains("Sign in to Example Corp")
        {
            break;
        }
        assert!(Instant::now() < deadline, "the edited title never appeared");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(gh.cli_ok(&["flow", "list"], None).contains("edited"));

    let exported = gh.cli_ok(&["export"], None);
    assert!(
        exported.contains("title: Sign in to Example Corp"),
        "{exported}"
    );
    assert!(
        !exported.contains("slug: default-invalidation-flow"),
        "unedited defaults are left out: {exported}"
    );

    // A binding guarded by a broken expression: refused at its place, nothing stored.
    let broken = edited.replacen(
        "policies: []",
        "policies:\n  - { type: expression, expression: \"user.attributes.x ==\" }",
        1,
    );
    assert_ne!(broken, edited);
    let broken_file = gh.data_dir().join("broken-flow.yaml");
    std::fs::write(&broken_file, broken.replace("Example Corp", "Broken Corp")).expect("write");
    let output = gh.cli(&["apply", "-f", broken_file.to_str().expect("path")], None);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("flows[0].policies[0]"), "{stderr}");
    let shown = gh.cli_ok(&["flow", "show", "default-authentication-flow"], None);
    assert!(
        shown.contains("Sign in to Example Corp"),
        "nothing written: {shown}"
    );

    // Made-up slugs are simply not found.
    let response = reqwest::get(server.url("/if/flow/no-such-flow/"))
        .await
        .expect("GET");
    assert_eq!(response.status(), reqwest::StatusCode::NOT_FOUND);
    server.terminate();
}

on_both_backends!(edited_flows_are_served_exported_and_validated);
