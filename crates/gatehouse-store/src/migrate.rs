//! Bringing the schema up to date at start-up, safely when several replicas start at once.

use crate::error::db_err;
use crate::migration::Migrator;
use crate::sql_store::SqlStore;
use gatehouse_core::StoreError;
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, DbErr};
use sea_orm_migration::MigratorTrait;

/// Arbitrary constant naming Gatehouse's migration lock among PostgreSQL advisory locks.
const MIGRATION_LOCK_KEY: i64 = 0x6761_7465_686f_7573; // "gatehous"

impl SqlStore {
    /// Applies pending migrations in one transaction. On PostgreSQL a transaction-scoped
    /// advisory lock makes concurrent replicas wait for each other instead of racing.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let txn = self.begin_write().await?;
        lock_out_other_migrators(&txn).await.map_err(db_err)?;
        Migrator::up(&txn, None).await.map_err(|err| {
            tracing::error!(error = %err, "database migration failed");
            db_err(err)
        })?;
        txn.commit().await.map_err(db_err)?;
        tracing::info!(backend = self.backend(), "database schema is up to date");
        Ok(())
    }
}

/// The one dialect-specific statement: SQLite needs nothing (its write transaction already
/// excludes other writers); PostgreSQL takes an advisory lock released at commit.
async fn lock_out_other_migrators(txn: &DatabaseTransaction) -> Result<(), DbErr> {
    if txn.get_database_backend() == DbBackend::Postgres {
        txn.execute_unprepared(&format!(
            "SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})"
        ))
        .await?;
    }
    Ok(())
}
