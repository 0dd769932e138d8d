//! Worker heartbeats: one row per running worker process with the time of its latest beat,
//! read by the admin overview to tell whether background work is happening.

use sea_orm_migration::prelude::*;

/// Creates `worker_heartbeats`.
#[derive(DeriveMigrationName)]
pub(super) struct Migration;

#[derive(DeriveIden)]
enum WorkerHeartbeats {
    Table,
    WorkerId,
    Description,
    StartedAt,
    LastSeen,
    IntervalSecs,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(WorkerHeartbeats::Table)
                    .col(
                        ColumnDef::new(WorkerHeartbeats::WorkerId)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(WorkerHeartbeats::Description)
                            .string()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(WorkerHeartbeats::StartedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(WorkerHeartbeats::LastSeen)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(WorkerHeartbeats::IntervalSecs)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await
    }
}
