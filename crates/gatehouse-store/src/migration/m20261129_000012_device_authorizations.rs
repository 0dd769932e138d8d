//! RFC 8628 device authorizations: digests of the device code and the user code, the
//! requested scopes, the user's answer and the polling state. Rows go with their application
//! and with the user who answered.

use sea_orm_migration::prelude::*;

/// Creates `device_authorizations`.
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
enum DeviceAuthorizations {
    Table,
    Id,
    ApplicationId,
    DeviceCodeDigest,
    UserCodeDigest,
    Scopes,
    Status,
    UserId,
    Data,
    IntervalSecs,
    LastPolledAt,
    ExpiresAt,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use DeviceAuthorizations as D;
        manager
            .create_table(
                Table::create()
                    .table(D::Table)
                    .col(ColumnDef::new(D::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(D::ApplicationId).uuid().not_null())
                    .col(
                        ColumnDef::new(D::DeviceCodeDigest)
                            .string()
                            .not_null()
                            .unique_key(),
                    )
                    .col(
                        ColumnDef::new(D::UserCodeDigest)
                            .string()
                            .not_null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new(D::Scopes).json_binary().not_null())
                    .col(ColumnDef::new(D::Status).string().not_null())
                    .col(ColumnDef::new(D::UserId).uuid().null())
                    .col(ColumnDef::new(D::Data).json_binary().not_null())
                    .col(ColumnDef::new(D::IntervalSecs).big_integer().not_null())
                    .col(
                        ColumnDef::new(D::LastPolledAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(D::ExpiresAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(D::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("device_authorizations_application_id_fkey")
                            .from(D::Table, D::ApplicationId)
                            .to(Applications::Table, Applications::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("device_authorizations_user_id_fkey")
                            .from(D::Table, D::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("device_authorizations_expires_at_idx")
                    .table(D::Table)
                    .col(D::ExpiresAt)
                    .to_owned(),
            )
            .await
    }
}
