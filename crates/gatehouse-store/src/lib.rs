//! The storage ports of `gatehouse-core`, implemented once with sea-orm for SQLite and
//! PostgreSQL. Only connection setup ([`SqlStore::connect`]) and the migration lock know which
//! backend is in use; every query is the same code on both.
//!
//! ```no_run
//! # async fn demo() -> Result<(), gatehouse_core::StoreError> {
//! use gatehouse_store::{DatabaseSettings, SqlStore};
//! let store = SqlStore::connect(&DatabaseSettings::Sqlite { path: "data/gatehouse.db".into() }).await?;
//! store.migrate().await?;
//! # Ok(()) }
//! ```

mod assertion_store;
mod backchannel_store;
mod connect;
mod consent_store;
mod device_authorization_store;
mod enrollment_store;
mod entity;
mod error;
mod migrate;
mod migration;
mod ops;
mod provision;
mod search;
mod settings;
mod source_store;
mod sql_store;
mod timestamp;
mod worker_store;

pub use connect::PoolStats;
pub use provision::create_postgres_database;
pub use settings::{DatabaseSettings, PostgresSettings, SslMode};
pub use sql_store::SqlStore;
