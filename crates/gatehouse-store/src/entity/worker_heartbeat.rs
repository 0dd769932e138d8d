//! The `worker_heartbeats` table: the latest beat of each running worker process.

use sea_orm::entity::prelude::*;

/// One row of `worker_heartbeats`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "worker_heartbeats")]
pub(crate) struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub worker_id: String,
    pub description: String,
    pub started_at: DateTimeUtc,
    pub last_seen: DateTimeUtc,
    pub interval_secs: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub(crate) enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
