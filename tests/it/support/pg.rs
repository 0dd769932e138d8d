//! A private PostgreSQL instance of one test's own, built on `scripts/pg-test-instance`: the
//! test can stop it, start it again (on the same port), and switch TLS on. Use it where a test
//! changes the server itself; tests that only need a database use `support::db`.

use super::server::postgres_env;
use gatehouse_store::{PostgresSettings, SslMode};
use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// A PostgreSQL instance of this test's own, on a fixed port across restarts. Trust
/// authentication, user and database `postgres`, listening on 127.0.0.1 only. Stopped on drop.
pub struct PrivatePostgres {
    _parent: tempfile::TempDir,
    dir: PathBuf,
    port: u16,
}

impl PrivatePostgres {
    /// Initialises and starts a new instance.
    pub fn start() -> Self {
        let parent = tempfile::tempdir().expect("temp dir");
        // The cluster runs as the `postgres` user when tests run as root: let it in.
        set_mode(parent.path(), 0o755);
        let dir = parent.path().join("pg");
        run_script("start", &dir);
        let port = port_in_url(&read_url(&dir));
        Self {
            _parent: parent,
            dir,
            port,
        }
    }

    /// The cluster's data directory (`postgresql.conf`, `pg_hba.conf`, `server.log`).
    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// Stops the instance (`pg_ctl stop -m fast`).
    pub fn stop(&self) {
        run_script("stop", &self.dir);
    }

    /// Starts the instance again after [`stop`](Self::stop), on the same port.
    pub fn start_again(&self) {
        run_script("start", &self.dir);
        let url = read_url(&self.dir);
        assert_eq!(
            port_in_url(&url),
            self.port,
            "restarted on the same port: {url}"
        );
    }

    /// Stops and starts the instance, e.g. to apply settings that need a restart.
    pub fn restart(&self) {
        self.stop();
        self.start_again();
    }

    /// Settings for user and database `postgres` on 127.0.0.1, without TLS.
    pub fn settings(&self) -> PostgresSettings {
        PostgresSettings {
            host: "127.0.0.1".into(),
            port: self.port,
            user: "postgres".into(),
            password: None,
            database: "postgres".into(),
            sslmode: SslMode::Disable,
            sslrootcert: None,
            max_connections: 4,
            connect_timeout: Duration::from_secs(2),
        }
    }

    /// `GATEHOUSE_POSTGRESQL__*` variables for [`settings`](Self::settings).
    pub fn env(&self) -> BTreeMap<String, String> {
        postgres_env(&self.settings())
    }

    /// Runs `sql` through `psql` as `postgres` (over TLS when the server offers it) and
    /// returns its unaligned, tuples-only output. Panics when `psql` fails.
    pub fn psql(&self, sql: &str) -> String {
        let output = Command::new("psql")
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(["-U", "postgres", "-d", "postgres", "-c", sql])
            .env("PGSSLMODE", "prefer")
            .env("PGCONNECT_TIMEOUT", "10")
            .output()
            .expect("run psql (Debian package postgresql-client)");
        assert!(
            output.status.success(),
            "psql {sql:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    /// Switches TLS on with the PEM certificate (chain) `cert` and its private key `key`,
    /// copied into the data directory as `server.crt` / `server.key` (owned by the cluster's
    /// owner, key mode 0600), and restarts. With `reject_plaintext`, `pg_hba.conf` first gets
    /// `hostnossl ... reject` lines, so clients that do not use TLS are refused; otherwise both
    /// TLS and plain connections are accepted.
    pub fn enable_tls(&self, cert: &Path, key: &Path, reject_plaintext: bool) {
        let data = self.data_dir();
        let owner = std::fs::metadata(&data).expect("data dir");
        for (source, name, mode) in [(cert, "server.crt", 0o644), (key, "server.key", 0o600)] {
            let target = data.join(name);
            std::fs::copy(source, &target)
                .unwrap_or_else(|err| panic!("copy {} to {name}: {err}", source.display()));
            std::os::unix::fs::chown(&target, Some(owner.uid()), Some(owner.gid()))
                .unwrap_or_else(|err| panic!("chown {name}: {err}"));
            set_mode(&target, mode);
        }
        if reject_plaintext {
            // pg_hba.conf is first-match: these lines win over initdb's `host ... trust` ones.
            let hba = data.join("pg_hba.conf");
            let existing = std::fs::read_to_string(&hba).expect("read pg_hba.conf");
            std::fs::write(
                &hba,
                format!(
                    "hostnossl all all 0.0.0.0/0 reject\nhostnossl all all ::/0 reject\n{existing}"
                ),
            )
            .expect("write pg_hba.conf");
        }
        // `ssl_cert_file` / `ssl_key_file` default to server.crt / server.key in the data dir.
        self.psql("ALTER SYSTEM SET ssl = on");
        self.restart();
        assert_eq!(self.psql("SHOW ssl"), "on", "TLS is on after the restart");
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        self.stop();
    }
}

fn read_url(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("url"))
        .expect("url")
        .trim()
        .to_owned()
}

/// The port of `postgres://user@host:PORT/db`.
fn port_in_url(url: &str) -> u16 {
    url.rsplit(':')
        .next()
        .and_then(|tail| tail.split('/').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("port in url {url:?}"))
}

fn run_script(action: &str, dir: &Path) {
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

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}
