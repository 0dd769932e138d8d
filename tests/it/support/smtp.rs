//! A real SMTP server for email tests: `smtp_sink.py` (aiosmtpd) in its own process, writing
//! every message it accepts to a directory the test reads. `scripts/test` installs aiosmtpd
//! into a virtualenv and points `GATEHOUSE_TEST_SMTP_PYTHON` at its interpreter.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// The interpreter with aiosmtpd installed.
fn python() -> PathBuf {
    std::env::var_os("GATEHOUSE_TEST_SMTP_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/cache/gatehouse-test/smtp-venv/bin/python"))
}

/// A running sink; stopped on drop.
pub struct SmtpSink {
    /// The port it listens on (127.0.0.1).
    pub port: u16,
    process: Child,
    dir: TempDir,
}

/// One received message.
#[derive(Clone, Debug)]
pub struct ReceivedEmail {
    /// The envelope recipients.
    pub recipients: String,
    /// The raw message.
    pub raw: String,
}

impl ReceivedEmail {
    /// The first `http(s)://…` link containing `needle`, from the plain-text part (quoted-
    /// printable soft breaks undone).
    pub fn link_containing(&self, needle: &str) -> Option<String> {
        let text = self.raw.replace("=\r\n", "").replace("=\n", "");
        text.split_whitespace()
            .filter(|w| w.starts_with("http://") || w.starts_with("https://"))
            .map(|w| w.replace("=3D", "="))
            .find(|w| w.contains(needle))
    }
}

impl SmtpSink {
    /// Starts a sink; with `fail_first` > 0 it answers that many messages with a 451.
    pub fn start(fail_first: u32) -> Self {
        let dir = tempfile::tempdir().expect("sink dir");
        let script =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/it/support/smtp_sink.py");
        let mut process = Command::new(python())
            .arg(&script)
            .arg(dir.path())
            .arg(fail_first.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start the SMTP sink with {} ({e}); run scripts/test, which installs aiosmtpd",
                    python().display()
                )
            });
        let stdout = process.stdout.take().expect("sink stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("sink output");
        let port = line
            .trim()
            .strip_prefix("READY ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("the SMTP sink did not start: {line:?}"));
        Self { port, process, dir }
    }

    /// The `GATEHOUSE_EMAIL__*` settings that send to this sink.
    pub fn gatehouse_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("GATEHOUSE_EMAIL__HOST", "127.0.0.1".into()),
            ("GATEHOUSE_EMAIL__PORT", self.port.to_string()),
            ("GATEHOUSE_EMAIL__TLS", "none".into()),
            (
                "GATEHOUSE_EMAIL__FROM",
                "Gatehouse <gatehouse@example.com>".into(),
            ),
            ("GATEHOUSE_EMAIL__POLL_INTERVAL_MS", "200".into()),
        ]
    }

    /// Every message received so far, oldest first.
    pub fn messages(&self) -> Vec<ReceivedEmail> {
        let mut files: Vec<(u32, PathBuf)> = std::fs::read_dir(self.dir.path())
            .expect("read sink dir")
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let path = e.path();
                let n = path.file_stem()?.to_str()?.parse().ok()?;
                (path.extension()? == "eml").then_some((n, path))
            })
            .collect();
        files.sort();
        files
            .into_iter()
            .map(|(_, path)| {
                let raw = std::fs::read_to_string(&path).expect("read message");
                let recipients = raw
                    .lines()
                    .next()
                    .and_then(|l| l.strip_prefix("X-Sink-Rcpt: "))
                    .unwrap_or_default()
                    .to_owned();
                ReceivedEmail { recipients, raw }
            })
            .collect()
    }

    /// Waits until at least `count` messages have arrived, and returns them.
    pub async fn wait_for(&self, count: usize, timeout: Duration) -> Vec<ReceivedEmail> {
        let deadline = Instant::now() + timeout;
        loop {
            let messages = self.messages();
            if messages.len() >= count {
                return messages;
            }
            assert!(
                Instant::now() < deadline,
                "expected {count} message(s) in the SMTP sink, got {}",
                messages.len()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}
