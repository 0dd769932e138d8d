//! Headless Chromium through ChromeDriver (Debian's `chromium` and `chromium-driver`), so page
//! tests run in the browser people use, not a simulation of it.

use fantoccini::{Client, ClientBuilder};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// A ChromeDriver process and one browser session; both end on drop.
pub struct Browser {
    /// The WebDriver client.
    pub client: Client,
    /// ChromeDriver's base URL, for commands fantoccini has no method for (WebAuthn).
    pub driver_url: String,
    driver: Child,
    _profile: TempDir,
}

impl Browser {
    /// Starts ChromeDriver on a free port and opens a headless Chromium session.
    pub async fn start() -> Self {
        let port = super::server::free_addr().port();
        // Its own process group, so dropping the browser (also when a test panics) can stop
        // ChromeDriver and every Chromium process it started at once.
        let driver = Command::new("chromedriver")
            .process_group(0)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver is installed (scripts/test installs Debian's chromium-driver)");
        let profile = tempfile::tempdir().expect("profile dir");
        let capabilities = serde_json::json!({
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--window-size=1000,900",
                    format!("--user-data-dir={}", profile.path().display()),
                ]
            }
        });
        let capabilities = match capabilities {
            serde_json::Value::Object(map) => map,
            _ => unreachable!("a JSON object literal"),
        };
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        let client = loop {
            match ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                .capabilities(capabilities.clone())
                .connect(&url)
                .await
            {
                Ok(client) => break client,
                Err(error) => {
                    assert!(
                        Instant::now() < deadline,
                        "cannot start a Chromium session: {error}"
                    );
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        };
        Self {
            client,
            driver_url: url,
            driver,
            _profile: profile,
        }
    }

    /// Ends the session and stops ChromeDriver.
    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The group id is ChromeDriver's pid (process_group(0) above).
        let group = format!("-{}", self.driver.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
