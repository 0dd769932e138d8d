//! Creating a PostgreSQL database, for development tooling and the test suite, which give
//! every test its own database on a throwaway server.

use crate::connect::pg_connect_options;
use crate::settings::PostgresSettings;
use gatehouse_core::{StoreError, ValidationError};
use sqlx::{Connection, Executor, PgConnection};

/// Creates database `name` on the server `admin` points at (connecting to `admin.database`,
/// typically `postgres`, as a role allowed to create databases). `name` must be 1-63
/// lowercase ASCII letters, digits and underscores, starting with a letter.
pub async fn create_postgres_database(
    admin: &PostgresSettings,
    name: &str,
) -> Result<(), StoreError> {
    let valid = (1..=63).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !valid {
        return Err(ValidationError::new(
            "database",
            "must be 1-63 lowercase letters, digits and underscores, starting with a letter",
        )
        .into());
    }
    let options = pg_connect_options(admin);
    let connect = PgConnection::connect_with(&options);
    let mut conn = tokio::time::timeout(admin.connect_timeout, connect)
        .await
        .map_err(|_| {
            tracing::error!(host = %admin.host, port = admin.port, "timed out connecting to PostgreSQL");
            StoreError::Unavailable
        })?
        .map_err(|err| {
            tracing::error!(host = %admin.host, port = admin.port, error = %err, "cannot connect to PostgreSQL");
            StoreError::Unavailable
        })?;
    let statement = format!("CREATE DATABASE \"{name}\"");
    let result = conn.execute(sqlx::AssertSqlSafe(statement)).await;
    let _ = conn.close().await;
    result.map(|_| ()).map_err(|err| {
        let duplicate = err
            .as_database_error()
            .and_then(|e| e.code())
            .is_some_and(|code| code == "42P04");
        if duplicate {
            StoreError::Conflict(format!("database {name:?} already exists"))
        } else {
            tracing::error!(database = name, error = %err, "CREATE DATABASE failed");
            StoreError::Internal
        }
    })
}
