//! Flows: one row per flow, its definition a JSON document (the stage kinds evolve without
//! migrations). Seeded with the default flows on start; edited with `gatehouse apply`.

use sea_orm_migration::prelude::*;

/// Creates `flows`.
#[derive(DeriveMigrationName)]
pub(super) struct Migration;

#[derive(DeriveIden)]
enum Flows {
    Table,
    Slug,
    Definition,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Flows::Table)
                    .col(ColumnDef::new(Flows::Slug).text().not_null().primary_key())
                    .col(ColumnDef::new(Flows::Definition).json_binary().not_null())
                    .col(
                        ColumnDef::new(Flows::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Flows::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await
    }
}
