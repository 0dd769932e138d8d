//! Configuration: built-in defaults, then a YAML file, then `GATEHOUSE_*` environment
//! variables (`__` separates nesting levels), with `env://` and `file://` references resolved.
//! A bad value is reported with its key and where it came from.

use crate::reference;
use figment::providers::{Data, Env, Format, Serialized, Yaml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Where the configuration file is read from when `--config` is not given.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/gatehouse/config.yaml";

/// A configuration value that must never be printed: masked in `Debug` and when serialised
/// (which is how `check-config` prints the effective configuration).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl<'de> Deserialize<'de> for Secret {
    /// Accepts any scalar: environment values that look like numbers (`GATEHOUSE_…PASSWORD=1234`)
    /// arrive as numbers and are still meant as text.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ScalarText;
        impl serde::de::Visitor<'_> for ScalarText {
            type Value = Secret;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Secret, E> {
                Ok(Secret(v.to_owned()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Secret, E> {
                Ok(Secret(v.to_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Secret, E> {
                Ok(Secret(v.to_string()))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Secret, E> {
                Ok(Secret(v.to_string()))
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Secret, E> {
                Ok(Secret(v.to_string()))
            }
        }
        deserializer.deserialize_any(ScalarText)
    }
}

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"********\"")
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("********")
    }
}

/// The whole configuration.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Listener addresses.
    pub listen: ListenConfig,
    /// Certificate and key of the HTTPS listener.
    pub tls: TlsConfig,
    /// The URL people and clients use to reach Gatehouse (scheme, host, optional path prefix).
    /// Defaults to `http://` + the HTTP listener address.
    pub external_url: Option<String>,
    /// Where the SQLite database and the generated secret key live.
    pub data_dir: PathBuf,
    /// Key for secrets at rest, token digests and cookie signing; generated into `data_dir`
    /// when unset. Replicas must share it.
    pub secret_key: Option<Secret>,
    /// PostgreSQL; used instead of SQLite when `host` is set.
    pub postgresql: PostgresConfig,
    /// Redis (optional shared cache, sessions and queue).
    pub redis: RedisConfig,
    /// Logging.
    pub log: LogConfig,
    /// Names and images shown on pages.
    pub branding: BrandingConfig,
    /// Argon2id cost and concurrency.
    pub password_hashing: PasswordHashingConfig,
    /// Background work.
    pub worker: WorkerConfig,
    /// Growing waits and lockout after failed sign-ins.
    pub login_throttle: crate::throttle::ThrottlePolicy,
    /// Outgoing email (SMTP); recovery and verification links need it.
    pub email: crate::mail::EmailConfig,
    /// How Gatehouse talks to upstream login sources (timeouts, the SSRF guard).
    pub sources: SourcesConfig,
    /// Password for the first administrator, created on first start only.
    pub bootstrap_password: Option<Secret>,
    /// Pre-hashed password for the first administrator (instead of `bootstrap_password`).
    pub bootstrap_password_hash: Option<Secret>,
    /// Email of the first administrator.
    pub bootstrap_email: Option<String>,
    /// Username of the first administrator.
    pub bootstrap_username: String,
    /// An API token created for the first administrator, for automation.
    pub bootstrap_token: Option<Secret>,
    /// Dex-compatible endpoints for clients moved from Dex (off unless a path is set).
    pub dex_compat: DexCompatConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: ListenConfig::default(),
            tls: TlsConfig::default(),
            external_url: None,
            data_dir: PathBuf::from("./data"),
            secret_key: None,
            postgresql: PostgresConfig::default(),
            redis: RedisConfig::default(),
            log: LogConfig::default(),
            branding: BrandingConfig::default(),
            password_hashing: PasswordHashingConfig::default(),
            worker: WorkerConfig::default(),
            login_throttle: crate::throttle::ThrottlePolicy::default(),
            email: crate::mail::EmailConfig::default(),
            sources: SourcesConfig::default(),
            bootstrap_password: None,
            bootstrap_password_hash: None,
            bootstrap_email: None,
            bootstrap_username: "admin".into(),
            bootstrap_token: None,
            dex_compat: DexCompatConfig::default(),
        }
    }
}

/// The Dex-compatible issuer: Dex served every client from one issuer URL with its own
/// endpoint paths, so clients that hard-code them (or an API server's `--oidc-issuer-url`)
/// keep working when Gatehouse takes over Dex's host name. Installation-wide, as Dex's issuer
/// was: every OIDC application can be reached through it; tokens are bound to their client
/// by `aud`, and each application's own issuer stays as it is.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct DexCompatConfig {
    /// The path of Dex's issuer under `external_url` (`/dex` for Dex's usual
    /// `https://dex.example.com/dex`, `/` for an issuer at the root); unset: no alias.
    pub issuer_path: Option<String>,
}

/// Paths Gatehouse serves itself, which the Dex alias must not shadow.
const RESERVED_PREFIXES: &[&str] = &["/application", "/if", "/api", "/source", "/-", "/static"];

impl DexCompatConfig {
    /// The issuer path normalised (no trailing slash; `""` for the root), when the alias is on.
    pub fn path(&self) -> Option<&str> {
        self.issuer_path.as_deref().map(|p| p.trim_end_matches('/'))
    }

    fn check(&self) -> Result<(), String> {
        let Some(raw) = &self.issuer_path else {
            return Ok(());
        };
        let path = raw.trim_end_matches('/');
        if !raw.starts_with('/') {
            return Err(format!("must start with / (got {raw:?})"));
        }
        let allowed = |c: char| c.is_ascii_alphanumeric() || "-._~/".contains(c);
        if !path.chars().all(allowed) || path.contains("//") {
            return Err(format!(
                "may hold only letters, digits, -._~ and single slashes (got {raw:?})"
            ));
        }
        if let Some(prefix) = RESERVED_PREFIXES
            .iter()
            .find(|p| path == **p || path.starts_with(&format!("{p}/")))
        {
            return Err(format!(
                "{raw:?} is under {prefix}, which Gatehouse serves itself"
            ));
        }
        Ok(())
    }
}

/// Listener addresses.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct ListenConfig {
    /// HTTP: pages, API, OIDC, SAML.
    pub http: SocketAddr,
    /// Prometheus metrics; its own port so it is never exposed with the public one by mistake.
    pub metrics: Option<SocketAddr>,
    /// Optional HTTPS listener (same routes as `http`), for installations without a
    /// TLS-terminating proxy; the certificate comes from [`TlsConfig`].
    pub https: Option<SocketAddr>,
    /// Reverse proxies (CIDR blocks or addresses) whose `X-Forwarded-For` / `Forwarded`
    /// headers name the client. Empty: those headers are ignored. In the environment, a
    /// comma-separated list.
    #[serde(deserialize_with = "list_or_comma_separated")]
    pub trusted_proxy_cidrs: Vec<String>,
}

/// Reads a list from YAML (`[a, b]`) or from one comma-separated string, the natural form in an
/// environment variable.
fn list_or_comma_separated<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum ListOrString {
        List(Vec<String>),
        String(String),
    }
    Ok(match ListOrString::deserialize(deserializer)? {
        ListOrString::List(items) => items,
        ListOrString::String(text) => text
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(str::to_owned)
            .collect(),
    })
}

impl ListenConfig {
    /// The parsed [`Self::trusted_proxy_cidrs`].
    ///
    /// # Errors
    /// A message naming the first entry that is not an address or CIDR block.
    pub fn trusted_proxies(&self) -> Result<crate::client_addr::TrustedProxies, String> {
        crate::client_addr::TrustedProxies::parse(&self.trusted_proxy_cidrs)
    }
}

impl Default for ListenConfig {
    fn default() -> Self {
        Self {
            http: SocketAddr::from(([127, 0, 0, 1], 9000)),
            metrics: Some(SocketAddr::from(([127, 0, 0, 1], 9300))),
            https: None,
            trusted_proxy_cidrs: Vec::new(),
        }
    }
}

/// The HTTPS listener's certificate: PEM files, re-read when they change (cert-manager and
/// ACME clients renew them in place), so a renewal needs no restart.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct TlsConfig {
    /// Certificate chain, leaf first (PEM).
    pub certificate_file: Option<PathBuf>,
    /// Private key of the leaf certificate (PEM: PKCS#8, PKCS#1 or SEC1).
    pub private_key_file: Option<PathBuf>,
    /// How often the files are checked for a new certificate.
    pub reload_interval_secs: u64,
}

impl Default for TlsConfig {
    fn default() -> Self {
        Self {
            certificate_file: None,
            private_key_file: None,
            reload_interval_secs: 30,
        }
    }
}

/// PostgreSQL connection settings (libpq names, so operators recognise them).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct PostgresConfig {
    /// Server host; unset means "use SQLite".
    pub host: Option<String>,
    /// Server port.
    pub port: u16,
    /// Role to connect as.
    pub user: String,
    /// Password of that role.
    pub password: Option<Secret>,
    /// Database name.
    pub name: String,
    /// `disable`, `allow`, `prefer`, `require`, `verify-ca` or `verify-full`.
    pub sslmode: gatehouse_store::SslMode,
    /// CA certificate to verify the server with (`verify-ca`, `verify-full`).
    pub sslrootcert: Option<PathBuf>,
    /// Pool size.
    pub max_connections: u32,
    /// Seconds to wait for a connection.
    pub connect_timeout_secs: u64,
}

impl Default for PostgresConfig {
    fn default() -> Self {
        Self {
            host: None,
            port: 5432,
            user: "gatehouse".into(),
            password: None,
            name: "gatehouse".into(),
            sslmode: gatehouse_store::SslMode::Prefer,
            sslrootcert: None,
            max_connections: 16,
            connect_timeout_secs: 5,
        }
    }
}

/// Redis settings. Redis holds shared ephemeral state only (rate-limit counters, cache
/// invalidations, the session lookup cache, queue wake-ups); PostgreSQL stays the only
/// durable store, so losing Redis loses nothing (see `crate::redis`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct RedisConfig {
    /// `redis://` or `rediss://` (TLS) URL, optionally with the password
    /// (`redis://:password@host:6379/0`); unset means "no Redis". Masked in `check-config`
    /// because it may carry the password.
    pub url: Option<Secret>,
    /// The password, when it is not in the URL (accepts `env://` and `file://`).
    pub password: Option<Secret>,
    /// Seconds to wait for a connection.
    pub connect_timeout_secs: u64,
    /// Milliseconds a command may take before the caller falls back (rate limits to the
    /// in-process counters, the session cache to the database).
    pub command_timeout_ms: u64,
    /// Connections in the pool.
    pub pool_size: usize,
    /// Seconds a session looked up in the database is served from Redis.
    pub session_cache_secs: u64,
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self {
            url: None,
            password: None,
            connect_timeout_secs: 5,
            command_timeout_ms: 500,
            pool_size: 4,
            session_cache_secs: 30,
        }
    }
}

/// Log output.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct LogConfig {
    /// A `tracing` filter: `info`, `debug`, `gatehouse_server=debug,info`...
    pub level: String,
    /// `text` for people, `json` for log collectors.
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: "info".into(),
            format: LogFormat::Text,
        }
    }
}

/// Log line format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Branding shown on every page.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct BrandingConfig {
    /// Product name in titles and headers.
    pub title: String,
    /// URL of a logo image.
    pub logo_url: Option<String>,
}

impl Default for BrandingConfig {
    fn default() -> Self {
        Self {
            title: "Gatehouse".into(),
            logo_url: None,
        }
    }
}

/// Argon2id settings.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct PasswordHashingConfig {
    /// Memory cost in KiB.
    pub memory_kib: u32,
    /// Passes over memory.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
    /// Hashes running at once; more requests wait. 0 = number of CPUs.
    pub max_concurrent: usize,
}

impl Default for PasswordHashingConfig {
    fn default() -> Self {
        Self {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
            max_concurrent: 0,
        }
    }
}

/// Background work.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct WorkerConfig {
    /// Seconds between sweeps of expired rows (see `crate::sweep`).
    pub sweep_interval_secs: u64,
    /// Days an expired or used invitation is kept before the sweep deletes it, so its link
    /// still says "expired"/"used" rather than "not valid" for a while.
    pub invitation_grace_days: u32,
    /// Days a sent email's delivery record is kept before the sweep deletes it.
    pub sent_email_retention_days: u32,
    /// Seconds a back-channel logout POST may take before it counts as failed.
    pub backchannel_timeout_secs: u64,
    /// Back-channel logout delivery attempts before giving up (with an audit event).
    pub backchannel_max_attempts: u32,
    /// Seconds to wait after the first failed back-channel delivery; doubles after each
    /// further failure (capped at an hour).
    pub backchannel_retry_base_secs: u64,
    /// Milliseconds between checks of the back-channel logout queue.
    pub backchannel_poll_interval_ms: u64,
    /// Days a delivered or given-up back-channel logout is kept before the sweep deletes it.
    pub backchannel_retention_days: u32,
    /// Seconds between a worker's heartbeats (shown on the admin overview; a worker is
    /// stale after three missed beats).
    pub heartbeat_interval_secs: u64,
}

impl WorkerConfig {
    /// The retry policy for back-channel logout deliveries.
    pub fn backchannel_retry_policy(&self) -> gatehouse_core::RetryPolicy {
        gatehouse_core::RetryPolicy {
            max_attempts: self.backchannel_max_attempts.max(1),
            base_delay: chrono::Duration::seconds(
                i64::try_from(self.backchannel_retry_base_secs.max(1)).unwrap_or(3_600),
            ),
            max_delay: chrono::Duration::hours(1),
        }
    }
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            sweep_interval_secs: 60,
            invitation_grace_days: 30,
            sent_email_retention_days: 14,
            backchannel_timeout_secs: 5,
            backchannel_max_attempts: 8,
            backchannel_retry_base_secs: 10,
            backchannel_poll_interval_ms: 1000,
            backchannel_retention_days: 7,
            heartbeat_interval_secs: 15,
        }
    }
}

/// Outgoing requests to upstream login sources (discovery, keys, tokens, user-info, the
/// Forgejo/GitHub APIs). Bounded so a slow or hostile upstream cannot hold a sign-in page.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct SourcesConfig {
    /// Seconds to wait for a TCP/TLS connection to an upstream.
    pub connect_timeout_secs: u64,
    /// Seconds one upstream request may take in all.
    pub timeout_secs: u64,
    /// Largest upstream response body read, in bytes.
    pub max_response_bytes: usize,
    /// Whether upstream hosts may resolve to loopback addresses (127.0.0.0/8, ::1). Off by
    /// default: a name pointing at the host itself would reach its private services. Turn it
    /// on only when the upstream really runs on the same host (and in tests).
    pub allow_loopback: bool,
    /// Seconds a fetched discovery document or JWKS is reused.
    pub cache_secs: u64,
}

impl Default for SourcesConfig {
    fn default() -> Self {
        Self {
            connect_timeout_secs: 5,
            timeout_secs: 10,
            max_response_bytes: 1024 * 1024,
            allow_loopback: false,
            cache_secs: 300,
        }
    }
}

/// Why the configuration could not be loaded: one message naming the key and its source.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(String);

impl Config {
    /// Loads defaults, then `file` (or [`DEFAULT_CONFIG_PATH`] if it exists), then the
    /// environment, resolves references and checks cross-field rules.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        match file {
            Some(path) if !path.exists() => {
                return Err(ConfigError(format!(
                    "configuration file {} does not exist",
                    path.display()
                )));
            }
            Some(path) => figment = figment.merge(checked_file(path)?),
            None if Path::new(DEFAULT_CONFIG_PATH).exists() => {
                figment = figment.merge(checked_file(Path::new(DEFAULT_CONFIG_PATH))?);
            }
            None => {}
        }
        figment = figment.merge(Env::prefixed("GATEHOUSE_").split("__").ignore(&["config"]));
        let figment = resolve_references(figment)?;
        let config: Config = figment.extract().map_err(describe)?;
        config.check()?;
        Ok(config)
    }

    /// Rules spanning several keys.
    fn check(&self) -> Result<(), ConfigError> {
        if let Some(url) = &self.external_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(ConfigError(format!(
                "external_url: must start with http:// or https:// (got {url:?})"
            )));
        }
        if self.listen.https.is_some()
            && (self.tls.certificate_file.is_none() || self.tls.private_key_file.is_none())
        {
            return Err(ConfigError(
                "listen.https: needs tls.certificate_file and tls.private_key_file".to_owned(),
            ));
        }
        if self.tls.reload_interval_secs == 0 {
            return Err(ConfigError(
                "tls.reload_interval_secs: must be at least 1".to_owned(),
            ));
        }
        if let Err(problem) = self.listen.trusted_proxies() {
            return Err(ConfigError(format!(
                "listen.trusted_proxy_cidrs: {problem}"
            )));
        }
        if let Some(key) = &self.secret_key
            && key.expose().chars().count() < 32
        {
            return Err(ConfigError(
                "secret_key: must be at least 32 characters (generate one with `openssl rand -base64 48`)".into(),
            ));
        }
        if self.bootstrap_password.is_some() && self.bootstrap_password_hash.is_some() {
            return Err(ConfigError(
                "bootstrap_password and bootstrap_password_hash are both set: choose one".into(),
            ));
        }
        if self.postgresql.host.as_deref() == Some("") {
            return Err(ConfigError(
                "postgresql.host: is empty (unset it to use SQLite)".into(),
            ));
        }
        self.email.check().map_err(ConfigError)?;
        if let Some(url) = &self.redis.url {
            crate::redis::check_url(url.expose())
                .map_err(|problem| ConfigError(format!("redis.url: {problem}")))?;
        }
        if self.redis.url.is_none() && self.redis.password.is_some() {
            return Err(ConfigError(
                "redis.password: set, but redis.url is not (Redis is off)".into(),
            ));
        }
        if self.redis.pool_size == 0 || self.redis.command_timeout_ms == 0 {
            return Err(ConfigError(
                "redis.pool_size and redis.command_timeout_ms: must be at least 1".into(),
            ));
        }
        self.dex_compat
            .check()
            .map_err(|problem| ConfigError(format!("dex_compat.issuer_path: {problem}")))?;
        if self.worker.sweep_interval_secs == 0 {
            return Err(ConfigError(
                "worker.sweep_interval_secs: must be at least 1".into(),
            ));
        }
        if !(1..=86_400).contains(&self.worker.heartbeat_interval_secs) {
            return Err(ConfigError(
                "worker.heartbeat_interval_secs: must be 1 to 86400".into(),
            ));
        }
        Ok(())
    }

    /// The public base URL without a trailing slash.
    pub fn base_url(&self) -> String {
        match &self.external_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("http://{}", self.listen.http),
        }
    }

    /// Whether pages are served over HTTPS (cookies get `Secure` and the `__Host-` prefix).
    pub fn is_https(&self) -> bool {
        self.base_url().starts_with("https://")
    }

    /// The database to use: PostgreSQL when a host is set, else SQLite in the data dir.
    pub fn database(&self) -> gatehouse_store::DatabaseSettings {
        let pg = &self.postgresql;
        match &pg.host {
            Some(host) => {
                gatehouse_store::DatabaseSettings::Postgres(gatehouse_store::PostgresSettings {
                    host: host.clone(),
                    port: pg.port,
                    user: pg.user.clone(),
                    password: pg.password.as_ref().map(|p| p.expose().to_owned()),
                    database: pg.name.clone(),
                    sslmode: pg.sslmode,
                    sslrootcert: pg.sslrootcert.clone(),
                    max_connections: pg.max_connections.max(1),
                    connect_timeout: std::time::Duration::from_secs(pg.connect_timeout_secs.max(1)),
                })
            }
            None => gatehouse_store::DatabaseSettings::Sqlite {
                path: self.data_dir.join("gatehouse.db"),
            },
        }
    }

    /// The effective configuration as YAML with secrets masked, for `check-config`.
    pub fn to_masked_yaml(&self) -> String {
        serde_yaml::to_string(self).unwrap_or_else(|e| format!("# cannot render: {e}\n"))
    }
}

/// The YAML layer, refused when it names a key Gatehouse does not know: a misspelt key would
/// otherwise be ignored silently and its default used. (Environment variables are not checked
/// this way: `GATEHOUSE_*` variables also serve as `env://` reference targets.)
fn checked_file(path: &Path) -> Result<Data<Yaml>, ConfigError> {
    let file = Yaml::file_exact(path);
    let given = file.data().map_err(describe)?;
    let known = Serialized::defaults(Config::default())
        .data()
        .map_err(describe)?;
    let empty = Dict::new();
    let known = known.get(&Profile::Default).unwrap_or(&empty);
    let mut unknown = Vec::new();
    for dict in given.values() {
        unknown_keys(known, dict, "", &mut unknown);
    }
    if unknown.is_empty() {
        return Ok(file);
    }
    Err(ConfigError(
        unknown
            .iter()
            .map(|key| format!("{key}: unknown key (in {})", path.display()))
            .collect::<Vec<_>>()
            .join("\n"),
    ))
}

/// Collects the dotted paths of `given` that `known` (the defaults, which name every key)
/// does not have.
fn unknown_keys(known: &Dict, given: &Dict, prefix: &str, out: &mut Vec<String>) {
    for (key, value) in given {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match (known.get(key), value) {
            (None, _) => out.push(path),
            (Some(Value::Dict(_, known_child)), Value::Dict(_, given_child)) => {
                unknown_keys(known_child, given_child, &path, out);
            }
            _ => {}
        }
    }
}

/// Turns a figment error into one line per problem naming the key and its source.
fn describe(error: figment::Error) -> ConfigError {
    let lines: Vec<String> = error
        .into_iter()
        .map(|e| {
            let key = if e.path.is_empty() {
                "configuration".to_owned()
            } else {
                e.path.join(".")
            };
            let source = e
                .metadata
                .as_ref()
                .map(|m| match &m.source {
                    Some(source) => format!(" (from {} {source})", m.name),
                    // Name the exact variable, which figment's metadata leaves generic.
                    None if m.name.contains("environment variable") && !e.path.is_empty() => {
                        format!(
                            " (from environment variable GATEHOUSE_{})",
                            e.path.join("__").to_uppercase()
                        )
                    }
                    None => format!(" (from {})", m.name),
                })
                .unwrap_or_default();
            format!("{key}: {}{source}", e.kind)
        })
        .collect();
    ConfigError(lines.join("\n"))
}

/// Replaces every `env://` / `file://` string in the merged configuration with what it points
/// at, layering the results on top so later type errors still name their key.
fn resolve_references(figment: Figment) -> Result<Figment, ConfigError> {
    let merged: Value = figment.extract().map_err(describe)?;
    let mut found = Vec::new();
    collect_references(&merged, &mut Vec::new(), &mut found);
    let mut resolved = Dict::new();
    for (path, reference_text) in found {
        let key = path.join(".");
        let origin = figment
            .find_metadata(&key)
            .map(|m| m.name.to_string())
            .unwrap_or_else(|| "configuration".into());
        let value = reference::resolve(&reference_text)
            .map_err(|e| ConfigError(format!("{key}: {e} (from {origin})")))?
            .unwrap_or(reference_text);
        insert_path(&mut resolved, &path, Value::from(value));
    }
    if resolved.is_empty() {
        return Ok(figment);
    }
    Ok(figment.merge(ResolvedReferences(resolved)))
}

fn collect_references(value: &Value, path: &mut Vec<String>, out: &mut Vec<(Vec<String>, String)>) {
    match value {
        Value::String(_, text) if text.starts_with("env://") || text.starts_with("file://") => {
            out.push((path.clone(), text.clone()));
        }
        Value::Dict(_, dict) => {
            for (key, child) in dict {
                path.push(key.clone());
                collect_references(child, path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

fn insert_path(dict: &mut Dict, path: &[String], value: Value) {
    match path {
        [] => {}
        [last] => {
            dict.insert(last.clone(), value);
        }
        [first, rest @ ..] => {
            let entry = dict
                .entry(first.clone())
                .or_insert_with(|| Value::from(Dict::new()));
            if let Value::Dict(_, child) = entry {
                insert_path(child, rest, value);
            }
        }
    }
}

/// The resolved reference values, as a provider so errors say they came from a reference.
struct ResolvedReferences(Dict);

impl Provider for ResolvedReferences {
    fn metadata(&self) -> Metadata {
        Metadata::named("a resolved env:// or file:// reference")
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.0.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::DexCompatConfig;

    fn check(path: &str) -> Result<(), String> {
        DexCompatConfig {
            issuer_path: Some(path.to_owned()),
        }
        .check()
    }

    #[test]
    fn dex_issuer_paths_are_checked() {
        assert!(check("/dex").is_ok());
        assert!(check("/dex/").is_ok());
        assert!(check("/").is_ok());
        assert!(check("dex").is_err());
        assert!(check("/dex?x").is_err());
        assert!(check("/a//b").is_err());
        assert!(check("/application/o").is_err());
        assert!(check("/api").is_err());
        assert!(check("/apis").is_ok());
        let root = DexCompatConfig {
            issuer_path: Some("/".into()),
        };
        assert_eq!(root.path(), Some(""));
    }
}
