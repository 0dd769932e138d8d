//! Connection setup: the one place where SQLite and PostgreSQL differ. Everything after this
//! file talks to a sea-orm `DatabaseConnection` and does not know which backend it has.

use crate::settings::{DatabaseSettings, PostgresSettings, SslMode};
use crate::sql_store::SqlStore;
use gatehouse_core::{StoreError, ValidationError};
use sea_orm::{DatabaseConnection, SqlxPostgresConnector, SqlxSqliteConnector};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgSslMode};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::path::Path;
use std::time::Duration;

/// SQLite serialises writers; a few connections let reads proceed beside the writer.
const SQLITE_MAX_CONNECTIONS: u32 = 4;
/// How long a SQLite writer waits for the lock before giving up with `Unavailable`.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a caller waits for a pooled SQLite connection.
const SQLITE_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);

/// Connection-pool figures for the metrics endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolStats {
    /// Open connections (idle and in use).
    pub size: u32,
    /// Open connections not in use.
    pub idle: u32,
    /// The most connections the pool will open.
    pub max: u32,
}

/// The underlying sqlx pool, kept only to read its statistics.
#[derive(Clone, Debug)]
pub(crate) enum PoolHandle {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl PoolHandle {
    fn stats(&self) -> PoolStats {
        let (size, idle, max) = match self {
            Self::Sqlite(pool) => (
                pool.size(),
                pool.num_idle(),
                pool.options().get_max_connections(),
            ),
            Self::Postgres(pool) => (
                pool.size(),
                pool.num_idle(),
                pool.options().get_max_connections(),
            ),
        };
        PoolStats {
            size,
            idle: u32::try_from(idle).unwrap_or(u32::MAX),
            max,
        }
    }
}

impl SqlStore {
    /// Opens a store. SQLite files (and their directory) are created when missing. PostgreSQL
    /// pools connect lazily, so this succeeds while the server is down and the store recovers
    /// by itself when it comes back; until then calls fail with `Unavailable`.
    pub async fn connect(settings: &DatabaseSettings) -> Result<SqlStore, StoreError> {
        let (db, pool) = match settings {
            DatabaseSettings::Sqlite { path } => connect_sqlite(path).await?,
            DatabaseSettings::Postgres(pg) => connect_postgres(pg)?,
        };
        Ok(SqlStore::new(db, pool))
    }

    /// Connection-pool figures for metrics.
    pub fn pool_stats(&self) -> PoolStats {
        self.pool.stats()
    }

    /// `sqlite` or `postgresql`.
    pub fn backend(&self) -> &'static str {
        match self.pool {
            PoolHandle::Sqlite(_) => "sqlite",
            PoolHandle::Postgres(_) => "postgresql",
        }
    }
}

async fn connect_sqlite(path: &Path) -> Result<(DatabaseConnection, PoolHandle), StoreError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        tokio::fs::create_dir_all(dir).await.map_err(|err| {
            tracing::error!(path = %dir.display(), error = %err, "cannot create the database directory");
            ValidationError::new(
                "database.path",
                format!("cannot create directory {}: {err}", dir.display()),
            )
        })?;
    }
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(SQLITE_BUSY_TIMEOUT);
    let pool = SqlitePoolOptions::new()
        .max_connections(SQLITE_MAX_CONNECTIONS)
        .acquire_timeout(SQLITE_ACQUIRE_TIMEOUT)
        .connect_with(options)
        .await
        .map_err(|err| {
            tracing::error!(path = %path.display(), error = %err, "cannot open the SQLite database");
            StoreError::Unavailable
        })?;
    tracing::info!(path = %path.display(), "opened SQLite database");
    let db = SqlxSqliteConnector::from_sqlx_sqlite_pool(pool.clone());
    Ok((db, PoolHandle::Sqlite(pool)))
}

fn connect_postgres(
    settings: &PostgresSettings,
) -> Result<(DatabaseConnection, PoolHandle), StoreError> {
    if let Some(ca) = &settings.sslrootcert
        && let Err(err) = std::fs::metadata(ca)
    {
        tracing::error!(path = %ca.display(), error = %err, "cannot read sslrootcert");
        return Err(ValidationError::new(
            "postgresql.sslrootcert",
            format!("cannot read {}: {err}", ca.display()),
        )
        .into());
    }
    let options = pg_connect_options(settings);
    let pool = PgPoolOptions::new()
        .max_connections(settings.max_connections.max(1))
        .acquire_timeout(settings.connect_timeout)
        .connect_lazy_with(options);
    tracing::info!(
        host = %settings.host,
        port = settings.port,
        user = %settings.user,
        database = %settings.database,
        sslmode = %settings.sslmode,
        max_connections = settings.max_connections,
        "PostgreSQL pool ready (connections open on first use)"
    );
    let db = SqlxPostgresConnector::from_sqlx_postgres_pool(pool.clone());
    Ok((db, PoolHandle::Postgres(pool)))
}

/// Connection options built field by field, so passwords need no URL escaping.
pub(crate) fn pg_connect_options(settings: &PostgresSettings) -> PgConnectOptions {
    let mut options = PgConnectOptions::new_without_pgpass()
        .host(&settings.host)
        .port(settings.port)
        .username(&settings.user)
        .database(&settings.database)
        .ssl_mode(pg_ssl_mode(settings.sslmode))
        .application_name("gatehouse");
    if let Some(password) = &settings.password {
        options = options.password(password);
    }
    if let Some(ca) = &settings.sslrootcert {
        options = options.ssl_root_cert(ca);
    }
    options
}

fn pg_ssl_mode(mode: SslMode) -> PgSslMode {
    match mode {
        SslMode::Disable => PgSslMode::Disable,
        SslMode::Allow => PgSslMode::Allow,
        SslMode::Prefer => PgSslMode::Prefer,
        SslMode::Require => PgSslMode::Require,
        SslMode::VerifyCa => PgSslMode::VerifyCa,
        SslMode::VerifyFull => PgSslMode::VerifyFull,
    }
}
