//! Invitations (enrollment links, stored by keyed digest) and static recovery codes (one row
//! per unused code of a recovery-code device, deleted when spent).

use sea_orm_migration::prelude::*;

/// Creates `invitations` and `static_codes`.
#[derive(DeriveMigrationName)]
pub(super) struct Migration;

#[derive(DeriveIden)]
enum Devices {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Invitations {
    Table,
    Id,
    Digest,
    FlowSlug,
    SingleUse,
    FixedData,
    Groups,
    ExpiresAt,
    CreatedBy,
    CreatedByName,
    CreatedAt,
    UseCount,
    LastUsedAt,
}

#[derive(DeriveIden)]
enum StaticCodes {
    Table,
    Id,
    DeviceId,
    Digest,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Invitations::Table)
                    .col(
                        ColumnDef::new(Invitations::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(Invitations::Digest)
                            .text()
                            .not_null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new(Invitations::FlowSlug).text().not_null())
                    .col(ColumnDef::new(Invitations::SingleUse).boolean().not_null())
                    .col(
                        ColumnDef::new(Invitations::FixedData)
                            .json_binary()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Invitations::Groups).json_binary().not_null())
                    .col(
                        ColumnDef::new(Invitations::ExpiresAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    // No foreign key: an invitation outlives the administrator who made it.
                    .col(ColumnDef::new(Invitations::CreatedBy).uuid().null())
                    .col(ColumnDef::new(Invitations::CreatedByName).text().not_null())
                    .col(
                        ColumnDef::new(Invitations::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Invitations::UseCount)
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    .col(
                        ColumnDef::new(Invitations::LastUsedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(StaticCodes::Table)
                    .col(
                        ColumnDef::new(StaticCodes::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(StaticCodes::DeviceId).uuid().not_null())
                    .col(ColumnDef::new(StaticCodes::Digest).text().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("static_codes_device_id_fkey")
                            .from(StaticCodes::Table, StaticCodes::DeviceId)
                            .to(Devices::Table, Devices::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("static_codes_device_digest_idx")
                    .table(StaticCodes::Table)
                    .col(StaticCodes::DeviceId)
                    .col(StaticCodes::Digest)
                    .unique()
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
