//! Pages in a real browser: headless Chromium fills in the first-run setup form the way a
//! person (or a password manager) would.

use crate::support::browser::Browser;
use crate::support::server::{Backend, Installation, Server};
use fantoccini::Locator;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_run_setup_in_chromium() {
    let installation = Installation::new(Backend::Sqlite).await;
    let server = Server::start(&installation, &[]);
    let link = server.setup_link().await;
    server.wait_ready().await;
    let browser = Browser::start().await;
    let page = &browser.client;

    page.goto(&link).await.expect("open setup link");
    assert!(
        page.title()
            .await
            .expect("title")
            .starts_with("Create the administrator")
    );
    let fill = |field: &'static str, value: &'static str| async move {
        let input = page.find(Locator::Id(field)).await.expect("field");
        input.clear().await.expect("clear");
        input.send_keys(value).await.expect("type");
    };

    // A weak password is refused next to the field; the typed username survives.
    fill("username", "browser-admin").await;
    fill("email", "admin@example.com").await;
    fill("password", "tooshort").await;
    fill("password_repeat", "tooshort").await;
    page.find(Locator::Css("button[type=submit]"))
        .await
        .expect("button")
        .click()
        .await
        .expect("submit");
    let error = page
        .find(Locator::Id("password-error"))
        .await
        .expect("password error shown");
    assert!(
        error
            .text()
            .await
            .expect("text")
            .contains("at least 10 characters")
    );
    let kept = page
        .find(Locator::Id("username"))
        .await
        .expect("field")
        .prop("value")
        .await
        .expect("value");
    assert_eq!(kept.as_deref(), Some("browser-admin"));

    fill("password", "a long and unusual passphrase").await;
    fill("password_repeat", "a long and unusual passphrase").await;
    page.find(Locator::Css("button[type=submit]"))
        .await
        .expect("button")
        .click()
        .await
        .expect("submit");
    let heading = page
        .find(Locator::Css("h1"))
        .await
        .expect("heading")
        .text()
        .await
        .expect("text");
    assert_eq!(heading, "Administrator created");

    let listed = installation.cli_ok(&["user", "list"], None);
    assert!(listed.contains("browser-admin"), "{listed}");

    // Reloading the spent link shows the invalid-link page.
    page.goto(&link).await.expect("reload link");
    let heading = page
        .find(Locator::Css("h1"))
        .await
        .expect("heading")
        .text()
        .await
        .expect("text");
    assert_eq!(heading, "Link not valid");
    browser.close().await;
}
