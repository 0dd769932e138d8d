//! Issue 5, the admin overview and events pages at scale: the audit log grows without bound,
//! and its readers filter by time. `(action, created_at)` serves the overview's per-day
//! counts of sign-ins and failures (one range per action) and the events page filtered by
//! action; `(created_at)` serves the unfiltered events page, newest first. The first replaces
//! the index on `action` alone, which it covers.

use sea_orm_migration::prelude::*;

/// Replaces `events_action_idx` with `events_action_time_idx` and adds `events_time_idx`.
#[derive(DeriveMigrationName)]
pub(super) struct Migration;

#[derive(DeriveIden)]
enum Events {
    Table,
    Action,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("events_action_time_idx")
                    .table(Events::Table)
                    .col(Events::Action)
                    .col(Events::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("events_time_idx")
                    .table(Events::Table)
                    .col(Events::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("events_action_idx")
                    .table(Events::Table)
                    .to_owned(),
            )
            .await
    }
}
