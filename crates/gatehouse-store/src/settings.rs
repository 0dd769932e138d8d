//! Where the database is and how to reach it: the part of the configuration `gatehouse-store`
//! owns. The server's config loader deserialises these types; nothing here touches the network.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// Which database to use and how to reach it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DatabaseSettings {
    /// A SQLite file; created (with its parent directory) when missing.
    Sqlite {
        /// Path of the database file.
        path: PathBuf,
    },
    /// A PostgreSQL server.
    Postgres(PostgresSettings),
}

impl DatabaseSettings {
    /// The backend name these settings select (`sqlite` or `postgresql`).
    pub fn backend(&self) -> &'static str {
        match self {
            Self::Sqlite { .. } => "sqlite",
            Self::Postgres(_) => "postgresql",
        }
    }
}

/// How to reach a PostgreSQL server. `Debug` masks the password.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PostgresSettings {
    /// Host name or address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Role to log in as.
    pub user: String,
    /// Password; any characters are fine (it is never put into a URL).
    pub password: Option<String>,
    /// Database name.
    pub database: String,
    /// TLS requirement, named as libpq's `sslmode`.
    pub sslmode: SslMode,
    /// PEM file with the CA certificate(s) to trust (`verify-ca`/`verify-full`), e.g. the CA a
    /// CloudNativePG cluster publishes in its `<cluster>-ca` secret.
    pub sslrootcert: Option<PathBuf>,
    /// Pool size.
    pub max_connections: u32,
    /// How long to wait for a connection (connect or pool checkout) before answering
    /// `Unavailable`.
    #[serde(with = "duration_secs")]
    pub connect_timeout: Duration,
}

impl Default for PostgresSettings {
    fn default() -> Self {
        Self {
            host: "localhost".into(),
            port: 5432,
            user: "gatehouse".into(),
            password: None,
            database: "gatehouse".into(),
            sslmode: SslMode::Prefer,
            sslrootcert: None,
            max_connections: 10,
            connect_timeout: Duration::from_secs(10),
        }
    }
}

impl fmt::Debug for PostgresSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "********"))
            .field("database", &self.database)
            .field("sslmode", &self.sslmode)
            .field("sslrootcert", &self.sslrootcert)
            .field("max_connections", &self.max_connections)
            .field("connect_timeout", &self.connect_timeout)
            .finish()
    }
}

/// libpq's `sslmode` values, with libpq's names.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SslMode {
    /// Never use TLS.
    Disable,
    /// Try without TLS first, then with.
    Allow,
    /// Try TLS first, then without (libpq's default).
    #[default]
    Prefer,
    /// TLS without checking the certificate.
    Require,
    /// TLS, and the certificate must chain to `sslrootcert`.
    VerifyCa,
    /// Like `verify-ca`, and the certificate must name `host`.
    VerifyFull,
}

impl SslMode {
    /// libpq's name for the mode.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Disable => "disable",
            Self::Allow => "allow",
            Self::Prefer => "prefer",
            Self::Require => "require",
            Self::VerifyCa => "verify-ca",
            Self::VerifyFull => "verify-full",
        }
    }
}

impl fmt::Display for SslMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Durations in configuration files are whole seconds.
mod duration_secs {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub(super) fn serialize<S: Serializer>(value: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(value.as_secs())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sslmode_uses_libpq_names() {
        for mode in [
            SslMode::Disable,
            SslMode::Allow,
            SslMode::Prefer,
            SslMode::Require,
            SslMode::VerifyCa,
            SslMode::VerifyFull,
        ] {
            let json = serde_json::to_string(&mode).expect("serialise");
            assert_eq!(json, format!("\"{}\"", mode.as_str()));
            let back: SslMode = serde_json::from_str(&json).expect("parse");
            assert_eq!(back, mode);
        }
    }

    #[test]
    fn debug_masks_the_password() {
        let settings = PostgresSettings {
            password: Some("s3cr3t:@/".into()),
            ..PostgresSettings::default()
        };
        assert!(!format!("{settings:?}").contains("s3cr3t"));
    }
}
