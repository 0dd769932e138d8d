//! Caddy (Debian's `caddy`) as the TLS-terminating, load-balancing reverse proxy in front of
//! several Gatehouse replicas, with a local CA of its own that the test's clients trust.

use super::server::Origin;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running Caddy on `https://localhost:<port>`, stopped on drop.
pub struct Caddy {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Caddy {
    /// Starts Caddy on `listen` (chosen before the replicas start, so their `external_url`
    /// can name it), balancing round-robin over `upstreams` with active health checks on
    /// readiness and retries of failed connections on the other upstream.
    pub fn start(listen: SocketAddr, upstreams: &[SocketAddr]) -> Self {
        let dir = tempfile::tempdir().expect("caddy dir");
        let upstream_list = upstreams
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" ");
        let caddyfile = format!(
            "{{\n\tadmin off\n\tskip_install_trust\n\tauto_https disable_redirects\n\tstorage file_system {storage}\n}}\n\
             https://localhost:{port} {{\n\tbind 127.0.0.1\n\ttls internal\n\treverse_proxy {upstream_list} {{\n\
             \t\tlb_policy round_robin\n\t\tlb_try_duration 5s\n\t\tlb_try_interval 100ms\n\
             \t\thealth_uri /-/health/ready/\n\t\thealth_interval 500ms\n\t\thealth_timeout 2s\n\
             \t\tfail_duration 10s\n\t}}\n}}\n",
            storage = dir.path().join("storage").display(),
            port = listen.port(),
        );
        let config = dir.path().join("Caddyfile");
        std::fs::write(&config, caddyfile).expect("write Caddyfile");
        let log = std::fs::File::create(dir.path().join("caddy.log")).expect("log file");
        let child = Command::new("caddy")
            .args(["run", "--adapter", "caddyfile", "--config"])
            .arg(&config)
            .env("HOME", dir.path())
            .env("XDG_DATA_HOME", dir.path().join("data"))
            .env("XDG_CONFIG_HOME", dir.path().join("config"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("run caddy (Debian package caddy)");
        let caddy = Self {
            child,
            port: listen.port(),
            dir,
        };
        caddy.wait_until_serving();
        caddy
    }

    fn root_path(&self) -> std::path::PathBuf {
        self.dir
            .path()
            .join("storage/pki/authorities/local/root.crt")
    }

    fn wait_until_serving(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        // The root certificate, the leaf for `localhost` (issued a moment later: a handshake
        // before it fails with an internal-error alert) and the open port.
        while !(self.root_path().exists()
            && has_certificate(&self.dir.path().join("storage/certificates"))
            && std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok())
        {
            assert!(
                Instant::now() < deadline,
                "caddy did not start; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Caddy's own log (JSON lines).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("caddy.log")).unwrap_or_default()
    }

    /// A client that trusts Caddy's CA and reaches `localhost` at 127.0.0.1, keeping cookies
    /// in `jar` and not following redirects, like the browser of the other tests.
    pub fn client(&self, jar: std::sync::Arc<reqwest::cookie::Jar>) -> reqwest::Client {
        let pem = std::fs::read(self.root_path()).expect("caddy root certificate");
        reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&pem).expect("pem"))
            .resolve("localhost", SocketAddr::from(([127, 0, 0, 1], self.port)))
            .cookie_provider(jar)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(15))
            .build()
            .expect("client")
    }
}

/// Whether `dir` holds a `.crt` file at any depth.
fn has_certificate(dir: &std::path::Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries.flatten().any(|entry| {
            let path = entry.path();
            if path.is_dir() {
                has_certificate(&path)
            } else {
                path.extension().is_some_and(|ext| ext == "crt")
            }
        })
    })
}

impl Origin for Caddy {
    fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.port)
    }
}

impl Drop for Caddy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
