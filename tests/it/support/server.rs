//! Real `gatehouse` processes for tests: each gets its own data directory, free ports and,
//! for PostgreSQL, its own fresh database. Logs are captured so tests can read the setup link.

use gatehouse_store::PostgresSettings;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// Which database a test runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite in the data directory.
    Sqlite,
    /// A fresh database on the test PostgreSQL instance.
    Postgres,
}

/// The environment that points a `gatehouse` process at one installation (data dir + database).
pub struct Installation {
    /// Holds the data directory alive.
    pub dir: TempDir,
    /// `GATEHOUSE_*` variables shared by the server and every CLI call.
    pub env: BTreeMap<String, String>,
    /// The PostgreSQL settings, when on PostgreSQL.
    pub postgres: Option<PostgresSettings>,
}

impl Installation {
    /// A new, empty installation on `backend`.
    pub async fn new(backend: Backend) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut env = BTreeMap::new();
        env.insert(
            "GATEHOUSE_DATA_DIR".into(),
            dir.path().display().to_string(),
        );
        // Cheap hashing keeps tests fast; production defaults are checked in unit tests.
        env.insert(
            "GATEHOUSE_PASSWORD_HASHING__MEMORY_KIB".into(),
            "1024".into(),
        );
        env.insert("GATEHOUSE_PASSWORD_HASHING__ITERATIONS".into(), "1".into());
        let postgres = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => {
                let pg = super::db::fresh_postgres_database().await;
                env.extend(postgres_env(&pg));
                Some(pg)
            }
        };
        Self { dir, env, postgres }
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// Runs `gatehouse ARGS` against this installation, with `stdin` as standard input.
    pub fn cli(&self, args: &[&str], stdin: Option<&str>) -> Output {
        run_cli(&self.env, args, stdin)
    }

    /// Runs the CLI and insists that it succeeded, returning standard output.
    pub fn cli_ok(&self, args: &[&str], stdin: Option<&str>) -> String {
        let output = self.cli(args, stdin);
        assert!(
            output.status.success(),
            "gatehouse {args:?} failed ({}):\nstdout: {}\nstderr: {}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Opens the installation's store directly, for assertions on what was written.
    pub async fn store(&self) -> gatehouse_store::SqlStore {
        let settings = match &self.postgres {
            Some(pg) => gatehouse_store::DatabaseSettings::Postgres(pg.clone()),
            None => gatehouse_store::DatabaseSettings::Sqlite {
                path: self.data_dir().join("gatehouse.db"),
            },
        };
        gatehouse_store::SqlStore::connect(&settings)
            .await
            .expect("open store")
    }

    /// The audit log's latest 500 events, for assertions on what was recorded.
    pub async fn events(&self) -> Vec<gatehouse_core::Event> {
        use gatehouse_core::EventStore as _;
        self.store()
            .await
            .list_events(&gatehouse_core::EventQuery {
                limit: 500,
                ..gatehouse_core::EventQuery::default()
            })
            .await
            .expect("events")
            .items
    }
}

/// `GATEHOUSE_POSTGRESQL__*` variables for `settings`.
pub fn postgres_env(settings: &PostgresSettings) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    env.insert("GATEHOUSE_POSTGRESQL__HOST".into(), settings.host.clone());
    env.insert(
        "GATEHOUSE_POSTGRESQL__PORT".into(),
        settings.port.to_string(),
    );
    env.insert("GATEHOUSE_POSTGRESQL__USER".into(), settings.user.clone());
    env.insert(
        "GATEHOUSE_POSTGRESQL__NAME".into(),
        settings.database.clone(),
    );
    env.insert("GATEHOUSE_POSTGRESQL__SSLMODE".into(), "disable".into());
    env.insert(
        "GATEHOUSE_POSTGRESQL__CONNECT_TIMEOUT_SECS".into(),
        "2".into(),
    );
    if let Some(password) = &settings.password {
        env.insert("GATEHOUSE_POSTGRESQL__PASSWORD".into(), password.clone());
    }
    env
}

/// Runs the binary with exactly `env` (plus PATH and HOME), nothing inherited.
pub fn run_cli(env: &BTreeMap<String, String>, args: &[&str], stdin: Option<&str>) -> Output {
    use std::io::Write;
    let mut command = base_command(env);
    command
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    let mut child = command.spawn().expect("spawn gatehouse");
    if let Some(input) = stdin
        && let Some(mut pipe) = child.stdin.take()
    {
        pipe.write_all(input.as_bytes()).expect("write stdin");
    }
    child.wait_with_output().expect("wait for gatehouse")
}

fn base_command(env: &BTreeMap<String, String>) -> Command {
    let mut command = Command::new(binary());
    command.env_clear();
    for name in ["PATH", "HOME", "USER"] {
        if let Ok(value) = std::env::var(name) {
            command.env(name, value);
        }
    }
    command.envs(env);
    command
}

/// The `gatehouse` binary Cargo built for this test run.
pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_gatehouse"))
}

/// A free 127.0.0.1 port for a server the test starts next.
///
/// The port is released before the server binds it, which leaves two ways to lose it in
/// between, both seen in CI:
/// - an outgoing connection of a concurrent test (PostgreSQL, Chromium, a relying party)
///   draws it from the kernel's ephemeral range: so ports are picked below that range
///   (32768 and up);
/// - another test process picks the same port before our server has bound it (a server
///   binds only after its migrations, seconds later under load): so each port handed out is
///   reserved with an exclusive lock on a file named after it, held until this process
///   exits (the kernel drops the lock even when a test crashes). Every caller of this
///   function, in every test process, skips ports another process holds.
pub fn free_addr() -> SocketAddr {
    use std::sync::atomic::{AtomicU64, Ordering};
    const FIRST: u64 = 15_000;
    const SPAN: u64 = 32_000 - FIRST;
    static CALLS: AtomicU64 = AtomicU64::new(0);
    static HELD: Mutex<Vec<std::fs::File>> = Mutex::new(Vec::new());
    let locks = std::env::temp_dir().join("gatehouse-test-ports");
    std::fs::create_dir_all(&locks).expect("port lock directory");
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64)
        .unwrap_or(0);
    let mut seed = (u64::from(std::process::id()) << 32)
        ^ nanos
        ^ CALLS
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15);
    for _ in 0..SPAN {
        // xorshift: a cheap walk through the range.
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let port = (FIRST + seed % SPAN) as u16;
        let Ok(lock) = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(locks.join(port.to_string()))
        else {
            continue;
        };
        // A lock is per open file, so this also refuses a port this process handed out.
        if lock.try_lock().is_err() {
            continue;
        }
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            HELD.lock().expect("port locks").push(lock);
            return SocketAddr::from(([127, 0, 0, 1], port));
        }
    }
    panic!("no free port between {FIRST} and {}", FIRST + SPAN)
}

/// Where a test's HTTP requests go: one server directly, or a proxy in front of several.
pub trait Origin {
    /// The absolute URL of `path` (which starts with `/`).
    fn url(&self, path: &str) -> String;
}

impl Origin for Server {
    fn url(&self, path: &str) -> String {
        Server::url(self, path)
    }
}

/// A running `gatehouse serve` or `gatehouse worker`.
pub struct Server {
    child: Child,
    /// HTTP listener.
    pub http: SocketAddr,
    /// Metrics listener.
    pub metrics: SocketAddr,
    logs: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Starts `gatehouse serve` (with `extra` variables on top of the installation's).
    pub fn start(installation: &Installation, extra: &[(&str, &str)]) -> Self {
        Self::start_with_env(&installation.env, extra)
    }

    /// Starts `gatehouse serve` with an explicit environment.
    pub fn start_with_env(env: &BTreeMap<String, String>, extra: &[(&str, &str)]) -> Self {
        Self::start_at(env, free_addr(), extra)
    }

    /// Starts `gatehouse serve` with its HTTP listener on `http` (for tests that must know
    /// the address first, e.g. to set `GATEHOUSE_EXTERNAL_URL`).
    pub fn start_at(
        env: &BTreeMap<String, String>,
        http: SocketAddr,
        extra: &[(&str, &str)],
    ) -> Self {
        Self::spawn(env, &["serve"], http, free_addr(), extra)
    }

    /// Starts `gatehouse serve --no-worker`, one of several replicas that leave background
    /// tasks to a separate worker.
    pub fn start_replica(env: &BTreeMap<String, String>, extra: &[(&str, &str)]) -> Self {
        Self::start_replica_at(env, free_addr(), extra)
    }

    /// Starts a replica with its HTTP listener on `http`, for tests that must know the
    /// address (the issuer) first.
    pub fn start_replica_at(
        env: &BTreeMap<String, String>,
        http: SocketAddr,
        extra: &[(&str, &str)],
    ) -> Self {
        Self::spawn(env, &["serve", "--no-worker"], http, free_addr(), extra)
    }

    /// Starts `gatehouse worker`. It has no public listener, so `http` and `metrics` both
    /// name its metrics listener, which also answers the health checks.
    pub fn start_worker(env: &BTreeMap<String, String>, extra: &[(&str, &str)]) -> Self {
        let metrics = free_addr();
        Self::spawn(env, &["worker"], metrics, metrics, extra)
    }

    fn spawn(
        env: &BTreeMap<String, String>,
        args: &[&str],
        http: SocketAddr,
        metrics: SocketAddr,
        extra: &[(&str, &str)],
    ) -> Self {
        let mut command = base_command(env);
        command
            .args(args)
            .env("GATEHOUSE_LISTEN__HTTP", http.to_string())
            .env("GATEHOUSE_LISTEN__METRICS", metrics.to_string())
            .env("GATEHOUSE_LOG__LEVEL", "info,tower_http=debug")
            .envs(extra.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("spawn gatehouse");
        let logs = Arc::new(Mutex::new(Vec::new()));
        if let Some(stderr) = child.stderr.take() {
            let sink = logs.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    sink.lock().expect("log lock").push(line);
                }
            });
        }
        Self {
            child,
            http,
            metrics,
            logs,
        }
    }

    /// `http://ADDR` of the HTTP listener.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.http)
    }

    /// Everything logged so far.
    pub fn logs(&self) -> String {
        self.logs.lock().expect("log lock").join("\n")
    }

    /// Waits until a log line contains `needle`, returning that line.
    pub async fn wait_for_log(&self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(line) = self
                .logs
                .lock()
                .expect("log lock")
                .iter()
                .find(|l| l.contains(needle))
            {
                return line.clone();
            }
            assert!(
                Instant::now() < deadline,
                "no log line with {needle:?} within {timeout:?}; logs:\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Everything the metrics listener shows now.
    pub async fn metrics_text(&self) -> String {
        reqwest::get(format!("http://{}/metrics", self.metrics))
            .await
            .expect("metrics")
            .text()
            .await
            .expect("metrics text")
    }

    /// The value of one series (name with labels, exactly as rendered) on the metrics
    /// listener, or `None` when it has not been recorded.
    pub async fn metric(&self, series: &str) -> Option<f64> {
        self.metrics_text().await.lines().find_map(|line| {
            let value = line.strip_prefix(series)?.strip_prefix(' ')?;
            Some(value.trim().parse().expect("a number"))
        })
    }

    /// Waits until readiness answers `status`.
    pub async fn wait_ready_status(&self, status: u16, timeout: Duration) {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + timeout;
        loop {
            let got = client
                .get(self.url("/-/health/ready/"))
                .timeout(Duration::from_secs(3))
                .send()
                .await
                .map(|r| r.status().as_u16())
                .ok();
            if got == Some(status) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "readiness never became {status} (last: {got:?}); logs:\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the server is ready.
    pub async fn wait_ready(&self) {
        self.wait_ready_status(200, Duration::from_secs(30)).await;
    }

    /// The one-time setup link printed at start-up.
    pub async fn setup_link(&self) -> String {
        let line = self
            .wait_for_log("initial-setup/?token=", Duration::from_secs(30))
            .await;
        let start = line.find("http://").expect("link in log line");
        line[start..]
            .split(|c: char| c.is_whitespace() || c == '"')
            .next()
            .expect("link")
            .to_owned()
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        assert!(sent.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "server did not stop after SIGTERM; logs:\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the process with SIGKILL, as a crashing node or an OOM kill would.
    pub fn kill(mut self) {
        self.child.kill().expect("SIGKILL");
        let _ = self.child.wait();
    }

    /// Waits for the process to exit by itself (e.g. on a fatal start-up error).
    pub fn wait_exit(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                // Give the log reader a moment to drain.
                std::thread::sleep(Duration::from_millis(100));
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "server still running; logs:\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Instantiates `async fn name(backend: Backend)` tests once per backend.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::support::server::Backend::Sqlite).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::support::server::Backend::Postgres).await;
                }
            )+
        }
    };
}
