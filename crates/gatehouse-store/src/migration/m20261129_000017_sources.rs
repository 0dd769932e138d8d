//! Upstream login sources (issue 6) and the links between users and upstream accounts.

use sea_orm_migration::prelude::*;

/// Creates `sources` and `source_connections`.
#[derive(DeriveMigrationName)]
pub(super) struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Sources {
    Table,
    Id,
    Slug,
    Name,
    Kind,
    BaseUrl,
    Endpoints,
    Claims,
    ClientId,
    ClientSecretSealed,
    Scopes,
    UserMatching,
    EnrollmentFlow,
    GroupSyncMode,
    GroupSyncParent,
    Enabled,
    CreatedAt,
}

#[derive(DeriveIden)]
enum SourceConnections {
    Table,
    Id,
    SourceId,
    UserId,
    UpstreamId,
    UpstreamUsername,
    SyncedGroups,
    CreatedAt,
    LastLogin,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Sources::Table)
                    .col(ColumnDef::new(Sources::Id).uuid().not_null().primary_key())
                    .col(
                        ColumnDef::new(Sources::Slug)
                            .string()
                            .not_null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new(Sources::Name).string().not_null())
                    .col(ColumnDef::new(Sources::Kind).string().not_null())
                    .col(ColumnDef::new(Sources::BaseUrl).string().null())
                    .col(ColumnDef::new(Sources::Endpoints).json_binary().not_null())
                    .col(ColumnDef::new(Sources::Claims).json_binary().not_null())
                    .col(ColumnDef::new(Sources::ClientId).string().not_null())
                    .col(ColumnDef::new(Sources::ClientSecretSealed).text().null())
                    .col(ColumnDef::new(Sources::Scopes).json_binary().not_null())
                    .col(ColumnDef::new(Sources::UserMatching).string().not_null())
                    .col(ColumnDef::new(Sources::EnrollmentFlow).string().null())
                    .col(ColumnDef::new(Sources::GroupSyncMode).string().not_null())
                    .col(ColumnDef::new(Sources::GroupSyncParent).string().null())
                    .col(ColumnDef::new(Sources::Enabled).boolean().not_null())
                    .col(
                        ColumnDef::new(Sources::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SourceConnections::Table)
                    .col(
                        ColumnDef::new(SourceConnections::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(SourceConnections::SourceId)
                            .uuid()
                            .not_null(),
                    )
                    .col(ColumnDef::new(SourceConnections::UserId).uuid().not_null())
                    .col(
                        ColumnDef::new(SourceConnections::UpstreamId)
                            .string()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(SourceConnections::UpstreamUsername)
                            .string()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(SourceConnections::SyncedGroups)
                            .json_binary()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(SourceConnections::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(SourceConnections::LastLogin)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("source_connections_source_id_fkey")
                            .from(SourceConnections::Table, SourceConnections::SourceId)
                            .to(Sources::Table, Sources::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("source_connections_user_id_fkey")
                            .from(SourceConnections::Table, SourceConnections::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("source_connections_upstream_idx")
                    .table(SourceConnections::Table)
                    .col(SourceConnections::SourceId)
                    .col(SourceConnections::UpstreamId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("source_connections_user_source_idx")
                    .table(SourceConnections::Table)
                    .col(SourceConnections::UserId)
                    .col(SourceConnections::SourceId)
                    .unique()
                    .to_owned(),
            )
            .await
    }
}
