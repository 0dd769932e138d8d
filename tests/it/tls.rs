//! TLS on both sides. Gatehouse's own optional HTTPS listener serves its certificate, picks up
//! a renewed one without a restart, and keeps the working one when a renewal is broken.
//! PostgreSQL over TLS, as CloudNativePG clusters require: `sslmode=verify-full` with the
//! cluster's CA as `sslrootcert` connects, and a server whose certificate does not verify (wrong
//! CA, or a host name the certificate does not name) is refused with a clear error.
//!
//! Each test owns a private PostgreSQL instance with TLS switched on and a small PKI made with
//! the `openssl` CLI: a CA, a server certificate it signed for `DNS:localhost` only (deliberately
//! no IP address), and an unrelated second CA. Plain-text connections are rejected by
//! `pg_hba.conf`, so a successful connection is a TLS connection.

use crate::support::pg::PrivatePostgres;
use crate::support::server::{Backend, Installation, Server, free_addr, run_cli};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

/// Certificates for one test, in a temporary directory.
struct Pki {
    _dir: tempfile::TempDir,
    dir_path: PathBuf,
    /// The CA that signed the server certificate.
    ca: PathBuf,
    /// A CA that has nothing to do with the server.
    other_ca: PathBuf,
    /// The server certificate: CN=localhost, subjectAltName DNS:localhost, no IP SAN.
    server_cert: PathBuf,
    server_key: PathBuf,
}

impl Pki {
    fn generate() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = |name: &str| dir.path().join(name);
        let ca_extensions = [
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ];
        for (name, subject) in [
            ("ca", "/CN=Gatehouse test CA"),
            ("other-ca", "/CN=Unrelated CA"),
        ] {
            let key = path(&format!("{name}.key"));
            let cert = path(&format!("{name}.crt"));
            let mut args = vec![
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            ];
            args.extend(["-subj", subject]);
            args.extend(ca_extensions);
            openssl(&args, &[("-keyout", &key), ("-out", &cert)]);
        }
        let csr = path("server.csr");
        openssl(
            &[
                "req",
                "-new",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-subj",
                "/CN=localhost",
            ],
            &[("-keyout", &path("server.key")), ("-out", &csr)],
        );
        let extensions = path("server.ext");
        std::fs::write(
            &extensions,
            "basicConstraints=critical,CA:FALSE\n\
             keyUsage=critical,digitalSignature,keyEncipherment\n\
             extendedKeyUsage=serverAuth\n\
             subjectAltName=DNS:localhost\n",
        )
        .expect("write extensions");
        openssl(
            &["x509", "-req", "-days", "2", "-set_serial", "2"],
            &[
                ("-in", &csr),
                ("-CA", &path("ca.crt")),
                ("-CAkey", &path("ca.key")),
                ("-extfile", &extensions),
                ("-out", &path("server.crt")),
            ],
        );
        Self {
            dir_path: dir.path().to_owned(),
            ca: path("ca.crt"),
            other_ca: path("other-ca.crt"),
            server_cert: path("server.crt"),
            server_key: path("server.key"),
            _dir: dir,
        }
    }
}

impl Pki {
    /// Signs the server's key again under a new serial number: what a renewal produces.
    fn reissue_server_cert(&self, serial: u32) -> PathBuf {
        let path = |name: &str| self.dir_path.join(name);
        let out = path(&format!("server-{serial}.crt"));
        openssl(
            &[
                "x509",
                "-req",
                "-days",
                "2",
                "-set_serial",
                &serial.to_string(),
            ],
            &[
                ("-in", &path("server.csr")),
                ("-CA", &path("ca.crt")),
                ("-CAkey", &path("ca.key")),
                ("-extfile", &path("server.ext")),
                ("-out", &out),
            ],
        );
        out
    }
}

/// The DER bytes of the first certificate in a PEM file.
fn der_of(pem_file: &Path) -> Vec<u8> {
    let pem = std::fs::read_to_string(pem_file).expect("read pem");
    let body: String = pem
        .lines()
        .skip_while(|line| !line.starts_with("-----BEGIN CERTIFICATE"))
        .skip(1)
        .take_while(|line| !line.starts_with("-----END"))
        .collect();
    base64::Engine::decode(&base64::engine::general_purpose::STANDARD, body).expect("base64")
}

/// The certificate a fresh TLS connection to `https` is given (and that the request works).
async fn served_certificate(https: std::net::SocketAddr, ca: &Path) -> Vec<u8> {
    let ca = std::fs::read(ca).expect("ca");
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).expect("ca pem"))
        .resolve("localhost", https)
        .tls_info(true)
        .pool_max_idle_per_host(0)
        .build()
        .expect("client");
    let response = client
        .get(format!(
            "https://localhost:{}/-/health/ready/",
            https.port()
        ))
        .send()
        .await
        .expect("HTTPS request");
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    response
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|info| info.peer_certificate())
        .expect("peer certificate")
        .to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_listener_reloads_a_renewed_certificate_and_keeps_a_working_one() {
    let pki = Pki::generate();
    let served = tempfile::tempdir().expect("served dir");
    let (cert, key) = (served.path().join("tls.crt"), served.path().join("tls.key"));
    std::fs::copy(&pki.server_cert, &cert).expect("copy cert");
    std::fs::copy(&pki.server_key, &key).expect("copy key");
    let installation = Installation::new(Backend::Sqlite).await;
    let https = free_addr();
    let (https_text, cert_text, key_text) = (
        https.to_string(),
        cert.display().to_string(),
        key.display().to_string(),
    );
    let server = Server::start(
        &installation,
        &[
            ("GATEHOUSE_LISTEN__HTTPS", https_text.as_str()),
            ("GATEHOUSE_TLS__CERTIFICATE_FILE", cert_text.as_str()),
            ("GATEHOUSE_TLS__PRIVATE_KEY_FILE", key_text.as_str()),
            ("GATEHOUSE_TLS__RELOAD_INTERVAL_SECS", "1"),
        ],
    );
    server.wait_ready().await;
    assert_eq!(
        served_certificate(https, &pki.ca).await,
        der_of(&pki.server_cert)
    );

    // A broken renewal (a truncated file) is ignored: the working certificate stays.
    std::fs::write(&cert, "-----BEGIN CERTIFICATE-----\nMIIB\n").expect("write");
    server
        .wait_for_log(
            "not usable; keeping the current one",
            Duration::from_secs(10),
        )
        .await;
    assert_eq!(
        served_certificate(https, &pki.ca).await,
        der_of(&pki.server_cert)
    );

    // The renewed certificate is served to new connections, without a restart.
    let renewed = pki.reissue_server_cert(3);
    std::fs::copy(&renewed, &cert).expect("renew");
    server
        .wait_for_log("TLS certificate reloaded", Duration::from_secs(10))
        .await;
    let now_served = served_certificate(https, &pki.ca).await;
    assert_eq!(now_served, der_of(&renewed));
    assert_ne!(now_served, der_of(&pki.server_cert));
    assert!(server.terminate().success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_listener_refuses_to_start_with_a_key_of_another_certificate() {
    let pki = Pki::generate();
    let installation = Installation::new(Backend::Sqlite).await;
    let https = free_addr().to_string();
    let cert = pki.server_cert.display().to_string();
    let wrong_key = pki.dir_path.join("ca.key").display().to_string();
    let mut server = Server::start(
        &installation,
        &[
            ("GATEHOUSE_LISTEN__HTTPS", https.as_str()),
            ("GATEHOUSE_TLS__CERTIFICATE_FILE", cert.as_str()),
            ("GATEHOUSE_TLS__PRIVATE_KEY_FILE", wrong_key.as_str()),
        ],
    );
    let status = server.wait_exit(Duration::from_secs(15));
    assert!(!status.success());
    let logs = server.logs();
    assert!(
        logs.contains("HTTPS listener") && logs.contains("ca.key") && !logs.contains("PRIVATE KEY"),
        "{logs}"
    );
}

/// Runs `openssl ARGS` followed by `FLAG PATH` pairs; panics with its output on failure.
fn openssl(args: &[&str], files: &[(&str, &Path)]) {
    let mut command = Command::new("openssl");
    command.args(args);
    for (flag, path) in files {
        command.arg(flag).arg(path);
    }
    let output = command
        .output()
        .expect("run openssl (Debian package `openssl`; scripts/test installs it)");
    assert!(
        output.status.success(),
        "openssl {args:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A private PostgreSQL with TLS on and plain-text connections rejected, and its PKI.
struct TlsPostgres {
    pg: PrivatePostgres,
    pki: Pki,
    data: tempfile::TempDir,
}

impl TlsPostgres {
    fn start() -> Self {
        let pki = Pki::generate();
        let pg = PrivatePostgres::start();
        pg.enable_tls(&pki.server_cert, &pki.server_key, true);
        Self {
            pg,
            pki,
            data: tempfile::tempdir().expect("data dir"),
        }
    }

    /// The environment of a `gatehouse` process connecting to `host` with `sslmode`.
    fn env(
        &self,
        host: &str,
        sslmode: &str,
        sslrootcert: Option<&Path>,
    ) -> BTreeMap<String, String> {
        let mut env = self.pg.env();
        env.insert("GATEHOUSE_POSTGRESQL__HOST".into(), host.into());
        env.insert("GATEHOUSE_POSTGRESQL__SSLMODE".into(), sslmode.into());
        if let Some(ca) = sslrootcert {
            env.insert(
                "GATEHOUSE_POSTGRESQL__SSLROOTCERT".into(),
                ca.display().to_string(),
            );
        }
        env.insert(
            "GATEHOUSE_DATA_DIR".into(),
            self.data.path().display().to_string(),
        );
        env
    }

    /// `gatehouse migrate` with `host`, `sslmode` and `sslrootcert`.
    fn migrate(&self, host: &str, sslmode: &str, sslrootcert: Option<&Path>) -> Output {
        run_cli(&self.env(host, sslmode, sslrootcert), &["migrate"], None)
    }
}

fn describe(output: &Output) -> String {
    format!(
        "status {}\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// `migrate` connected and migrated.
fn assert_migrated(output: &Output, what: &str) {
    assert!(
        output.status.success()
            && String::from_utf8_lossy(&output.stdout).contains("migrations applied (postgresql)"),
        "{what}: expected a successful migration, got {}",
        describe(output)
    );
}

/// `migrate` failed cleanly: exit 1, no panic, the CLI's `gatehouse: cannot prepare the
/// database` error, and the reason (`fragments`, from the warning logged on stderr).
fn assert_refused(output: &Output, what: &str, fragments: &[&str]) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{what}: expected exit code 1, got {}",
        describe(output)
    );
    assert!(
        !stderr.contains("panicked"),
        "{what}: panicked: {}",
        describe(output)
    );
    for fragment in ["gatehouse: cannot prepare the database"]
        .iter()
        .chain(fragments)
    {
        assert!(
            stderr.contains(fragment),
            "{what}: stderr lacks {fragment:?}: {}",
            describe(output)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_full_with_the_cluster_ca_migrates_and_serves_over_tls() {
    let db = TlsPostgres::start();
    let output = db.migrate("localhost", "verify-full", Some(&db.pki.ca));
    assert_migrated(&output, "verify-full, host localhost, the right CA");

    let server = Server::start_with_env(&db.env("localhost", "verify-full", Some(&db.pki.ca)), &[]);
    server.wait_ready().await;
    // The server's own view: every gatehouse connection is encrypted.
    let sessions = db.pg.psql(
        "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) \
         WHERE a.application_name = 'gatehouse'",
    );
    assert!(
        !sessions.is_empty() && sessions.lines().all(|ssl| ssl == "t"),
        "gatehouse sessions and their ssl flag: {sessions:?}"
    );
    assert!(server.terminate().success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_full_checks_the_host_name_and_verify_ca_does_not() {
    let db = TlsPostgres::start();
    // The certificate names DNS:localhost only, so 127.0.0.1 does not match it.
    let output = db.migrate("127.0.0.1", "verify-full", Some(&db.pki.ca));
    assert_refused(
        &output,
        "verify-full, host 127.0.0.1 (not in the certificate)",
        &[
            "invalid peer certificate",
            "not valid for name \"127.0.0.1\"",
        ],
    );
    let output = db.migrate("127.0.0.1", "verify-ca", Some(&db.pki.ca));
    assert_migrated(&output, "verify-ca, host 127.0.0.1, the right CA");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_from_another_ca_is_refused() {
    let db = TlsPostgres::start();
    let output = db.migrate("localhost", "verify-full", Some(&db.pki.other_ca));
    assert_refused(
        &output,
        "verify-full, host localhost, an unrelated CA",
        &["invalid peer certificate", "UnknownIssuer"],
    );
    let output = db.migrate("localhost", "verify-ca", Some(&db.pki.other_ca));
    assert_refused(
        &output,
        "verify-ca, host localhost, an unrelated CA",
        &["invalid peer certificate", "UnknownIssuer"],
    );

    // A server started like that never becomes ready, and says why.
    let server = Server::start_with_env(
        &db.env("localhost", "verify-full", Some(&db.pki.other_ca)),
        &[],
    );
    server.wait_ready_status(503, Duration::from_secs(30)).await;
    server
        .wait_for_log("UnknownIssuer", Duration::from_secs(30))
        .await;
    server.wait_ready_status(503, Duration::from_secs(5)).await;
    assert!(server.terminate().success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn require_encrypts_without_a_ca_and_plain_text_is_refused() {
    let db = TlsPostgres::start();
    let output = db.migrate("127.0.0.1", "require", None);
    assert_migrated(&output, "require, no CA");
    // pg_hba.conf rejects connections without TLS: proof that the others used it.
    let output = db.migrate("127.0.0.1", "disable", None);
    assert_refused(
        &output,
        "disable",
        &["pg_hba.conf rejects connection", "no encryption"],
    );
}
