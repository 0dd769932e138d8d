//! Remembered OAuth2 consents: one row per user and application with the scopes allowed.

use sea_orm_migration::prelude::*;

/// Creates `consents`.
#[derive(DeriveMigrationName)]
pub(super) struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Applications {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Consents {
    Table,
    Id,
    UserId,
    ApplicationId,
    Scopes,
    GrantedAt,
    ExpiresAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Consents::Table)
                    .col(ColumnDef::new(Consents::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Consents::UserId).uuid().not_null())
                    .col(ColumnDef::new(Consents::ApplicationId).uuid().not_null())
                    .col(ColumnDef::new(Consents::Scopes).json_binary().not_null())
                    .col(
                        ColumnDef::new(Consents::GrantedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Consents::ExpiresAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("consents_user_id_fkey")
                            .from(Consents::Table, Consents::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("consents_application_id_fkey")
                            .from(Consents::Table, Consents::ApplicationId)
                            .to(Applications::Table, Applications::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("consents_user_application_idx")
                    .table(Consents::Table)
                    .col(Consents::UserId)
                    .col(Consents::ApplicationId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("consents_application_id_idx")
                    .table(Consents::Table)
                    .col(Consents::ApplicationId)
                    .to_owned(),
            )
            .await
    }
}
