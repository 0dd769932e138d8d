//! Turns sea-orm/sqlx failures into [`StoreError`], the only error the rest of Gatehouse sees.
//! Details (SQL, driver messages) go to the log here and nowhere else.

use gatehouse_core::StoreError;
use sea_orm::{DbErr, RuntimeErr, SqlErr};

/// Maps an error with no expected constraint violation: connection trouble becomes
/// `Unavailable`, everything else is logged and becomes `Internal`.
pub(crate) fn db_err(err: DbErr) -> StoreError {
    if is_unavailable(&err) {
        tracing::warn!(error = %err, "database unavailable");
        return StoreError::Unavailable;
    }
    tracing::error!(error = %err, "database error");
    StoreError::Internal
}

/// Like [`db_err`], but a unique-constraint violation becomes `Conflict(message())`.
pub(crate) fn conflict_or_db_err(err: DbErr, message: impl FnOnce() -> String) -> StoreError {
    if matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) {
        tracing::debug!(error = %err, "unique constraint violated");
        return StoreError::Conflict(message());
    }
    db_err(err)
}

/// For inserts that reference a user: a unique violation becomes `Conflict(conflict())`, a
/// foreign-key violation becomes `missing()`, anything else goes through [`db_err`].
pub(crate) fn insert_err(
    err: DbErr,
    conflict: impl FnOnce() -> String,
    missing: impl FnOnce() -> StoreError,
) -> StoreError {
    if matches!(
        err.sql_err(),
        Some(SqlErr::ForeignKeyConstraintViolation(_))
    ) {
        tracing::debug!(error = %err, "foreign key constraint violated");
        return missing();
    }
    conflict_or_db_err(err, conflict)
}

/// Whether the error means "the database cannot be reached", as opposed to "the query failed".
fn is_unavailable(err: &DbErr) -> bool {
    match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            match &**e {
                sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed => true,
                sqlx::Error::Database(db) => {
                    db.code().is_some_and(|code| is_unavailable_code(&code))
                }
                _ => false,
            }
        }
        _ => false,
    }
}

/// Error codes that mean "try again later": PostgreSQL SQLSTATE class 08 (connection
/// exception) and 57P01-57P03 (server shutting down or starting), and SQLite's BUSY family
/// (the busy timeout ran out while another writer held the lock).
fn is_unavailable_code(code: &str) -> bool {
    code.starts_with("08")
        || matches!(code, "57P01" | "57P02" | "57P03")
        || matches!(code, "5" | "261" | "517")
}
