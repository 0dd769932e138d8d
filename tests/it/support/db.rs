//! Databases for tests: every test gets its own SQLite file or its own PostgreSQL database,
//! so tests never share state and can run in any order.
//!
//! PostgreSQL tests need `GATEHOUSE_TEST_PG_URL` (e.g. `postgres://postgres@127.0.0.1:PORT/postgres`,
//! a superuser on a throwaway instance such as `scripts/pg-test-instance start DIR` prints).
//! Without it they fail loudly rather than pass silently.

use gatehouse_store::{DatabaseSettings, PostgresSettings, SqlStore, SslMode};
use std::time::Duration;
use tempfile::TempDir;

/// The variable naming the throwaway PostgreSQL server.
pub(crate) const PG_URL_VAR: &str = "GATEHOUSE_TEST_PG_URL";

/// A migrated store on a new SQLite file; keep the `TempDir` alive as long as the store.
pub(crate) async fn fresh_sqlite() -> (SqlStore, TempDir) {
    let dir = tempfile::tempdir().expect("create a temporary directory");
    let settings = DatabaseSettings::Sqlite {
        path: dir.path().join("data").join("gatehouse.db"),
    };
    let store = SqlStore::connect(&settings).await.expect("open SQLite");
    store.migrate().await.expect("migrate SQLite");
    (store, dir)
}

/// A migrated store on a new, uniquely named PostgreSQL database.
pub(crate) async fn fresh_postgres() -> SqlStore {
    let settings = fresh_postgres_database().await;
    let store = SqlStore::connect(&DatabaseSettings::Postgres(settings))
        .await
        .expect("connect to PostgreSQL");
    store.migrate().await.expect("migrate PostgreSQL");
    store
}

/// Creates a new, uniquely named, empty PostgreSQL database and returns settings pointing at it
/// (for tests that start a server process against it).
pub(crate) async fn fresh_postgres_database() -> PostgresSettings {
    let name = format!("gh_test_{}", uuid::Uuid::new_v4().simple());
    gatehouse_store::create_postgres_database(&pg_admin_settings(), &name)
        .await
        .unwrap_or_else(|err| panic!("CREATE DATABASE {name} failed: {err}"));
    pg_settings_for(&name)
}

/// Settings for database `db_name` on the test server.
pub(crate) fn pg_settings_for(db_name: &str) -> PostgresSettings {
    PostgresSettings {
        database: db_name.to_owned(),
        ..pg_admin_settings()
    }
}

/// Settings for the database named in `GATEHOUSE_TEST_PG_URL` (normally `postgres`). Panics
/// with instructions when the variable is missing or malformed.
pub(crate) fn pg_admin_settings() -> PostgresSettings {
    let url = std::env::var(PG_URL_VAR).unwrap_or_else(|_| {
        panic!(
            "{PG_URL_VAR} is not set: run scripts/test, or start a throwaway server with \
             `export {PG_URL_VAR}=$(scripts/pg-test-instance start target/pg)`"
        )
    });
    parse_pg_url(&url).unwrap_or_else(|why| panic!("{PG_URL_VAR}={url:?} is not usable: {why}"))
}

/// Parses `postgres[ql]://user[:password]@host[:port][/database][?sslmode=...]`.
fn parse_pg_url(url: &str) -> Result<PostgresSettings, String> {
    let rest = url
        .strip_prefix("postgres://")
        .or_else(|| url.strip_prefix("postgresql://"))
        .ok_or("expected postgres://user@host:port/database")?;
    let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (authority, database) = rest.split_once('/').unwrap_or((rest, "postgres"));
    let (credentials, host_port) = authority
        .rsplit_once('@')
        .ok_or("missing user@ before the host")?;
    let (user, password) = match credentials.split_once(':') {
        Some((user, password)) => (user, Some(percent_decode(password)?)),
        None => (credentials, None),
    };
    let (host, port) = match host_port.rsplit_once(':') {
        Some((host, port)) => (
            host,
            port.parse().map_err(|_| format!("bad port {port:?}"))?,
        ),
        None => (host_port, 5432),
    };
    let mut sslmode = SslMode::Disable;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        if let Some(mode) = pair.strip_prefix("sslmode=") {
            sslmode = serde_json::from_value(serde_json::Value::from(mode))
                .map_err(|_| format!("unknown sslmode {mode:?}"))?;
        }
    }
    Ok(PostgresSettings {
        host: host.to_owned(),
        port,
        user: percent_decode(user)?,
        password,
        database: if database.is_empty() {
            "postgres".into()
        } else {
            percent_decode(database)?
        },
        sslmode,
        sslrootcert: None,
        max_connections: 10,
        connect_timeout: Duration::from_secs(10),
    })
}

fn percent_decode(value: &str) -> Result<String, String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = value.get(i + 1..i + 3).ok_or("truncated %-escape")?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| format!("bad %-escape %{hex}"))?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "%-escapes are not UTF-8".to_owned())
}

/// Instantiates each named `async fn name(store: SqlStore)` as `sqlite::name` and
/// `postgres::name`, each against a fresh database of its kind, so both backends keep exactly
/// the same behaviour.
#[macro_export]
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let (store, _dir) = $crate::support::db::fresh_sqlite().await;
                    assert_eq!(store.backend(), "sqlite");
                    super::$name(store).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let store = $crate::support::db::fresh_postgres().await;
                    assert_eq!(store.backend(), "postgresql");
                    super::$name(store).await;
                }
            )*
        }
    };
}
