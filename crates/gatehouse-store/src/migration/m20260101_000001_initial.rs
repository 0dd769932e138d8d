//! The first schema: users, groups and memberships, the audit log, tokens, sessions, signing
//! keys and settings.

use sea_orm_migration::prelude::*;

/// Creates every table of the first release.
#[derive(DeriveMigrationName)]
pub(super) struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Username,
    Name,
    Email,
    EmailVerified,
    Active,
    UserType,
    PasswordHash,
    Attributes,
    CreatedAt,
    UpdatedAt,
    LastLogin,
}

#[derive(DeriveIden)]
enum Groups {
    Table,
    Id,
    Name,
    ParentId,
    IsSuperuser,
    Attributes,
    CreatedAt,
}

#[derive(DeriveIden)]
enum GroupMembers {
    Table,
    GroupId,
    UserId,
}

#[derive(DeriveIden)]
enum Events {
    Table,
    Id,
    Action,
    ActorId,
    Actor,
    ClientIp,
    UserAgent,
    Context,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Tokens {
    Table,
    Id,
    Intent,
    UserId,
    Description,
    Digest,
    ExpiresAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    UserId,
    Digest,
    CreatedAt,
    ExpiresAt,
    ClientIp,
    UserAgent,
}

#[derive(DeriveIden)]
enum SigningKeys {
    Table,
    Id,
    Name,
    Algorithm,
    PrivateKeySealed,
    PublicKeyDer,
    CreatedAt,
    RetiredAt,
}

#[derive(DeriveIden)]
enum Settings {
    Table,
    Name,
    Value,
}

/// Usernames differing only in case would be indistinguishable to people and to many
/// applications; this index makes the store refuse them even under concurrent creates.
/// `LOWER` folds ASCII on SQLite and full Unicode on PostgreSQL.
const USERNAME_LOWER_INDEX: &str =
    "CREATE UNIQUE INDEX users_username_lower_key ON users (LOWER(username))";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(ColumnDef::new(Users::Id).uuid().not_null().primary_key())
                    .col(
                        ColumnDef::new(Users::Username)
                            .text()
                            .not_null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new(Users::Name).text().not_null())
                    .col(ColumnDef::new(Users::Email).text().null())
                    .col(ColumnDef::new(Users::EmailVerified).boolean().not_null())
                    .col(ColumnDef::new(Users::Active).boolean().not_null())
                    .col(ColumnDef::new(Users::UserType).text().not_null())
                    .col(ColumnDef::new(Users::PasswordHash).text().null())
                    .col(ColumnDef::new(Users::Attributes).json_binary().not_null())
                    .col(timestamp(Users::CreatedAt))
                    .col(timestamp(Users::UpdatedAt))
                    .col(nullable_timestamp(Users::LastLogin))
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(USERNAME_LOWER_INDEX)
            .await?;
        create_index(manager, "users_email_idx", Users::Table, Users::Email).await?;

        manager
            .create_table(
                Table::create()
                    .table(Groups::Table)
                    .col(ColumnDef::new(Groups::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Groups::Name).text().not_null().unique_key())
                    .col(ColumnDef::new(Groups::ParentId).uuid().null())
                    .col(ColumnDef::new(Groups::IsSuperuser).boolean().not_null())
                    .col(ColumnDef::new(Groups::Attributes).json_binary().not_null())
                    .col(timestamp(Groups::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("groups_parent_id_fkey")
                            .from(Groups::Table, Groups::ParentId)
                            .to(Groups::Table, Groups::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        create_index(
            manager,
            "groups_parent_id_idx",
            Groups::Table,
            Groups::ParentId,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(GroupMembers::Table)
                    .col(ColumnDef::new(GroupMembers::GroupId).uuid().not_null())
                    .col(ColumnDef::new(GroupMembers::UserId).uuid().not_null())
                    .primary_key(
                        Index::create()
                            .col(GroupMembers::GroupId)
                            .col(GroupMembers::UserId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("group_members_group_id_fkey")
                            .from(GroupMembers::Table, GroupMembers::GroupId)
                            .to(Groups::Table, Groups::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("group_members_user_id_fkey")
                            .from(GroupMembers::Table, GroupMembers::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        create_index(
            manager,
            "group_members_user_id_idx",
            GroupMembers::Table,
            GroupMembers::UserId,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Events::Table)
                    .col(ColumnDef::new(Events::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Events::Action).text().not_null())
                    .col(ColumnDef::new(Events::ActorId).uuid().null())
                    .col(ColumnDef::new(Events::Actor).text().not_null())
                    .col(ColumnDef::new(Events::ClientIp).text().null())
                    .col(ColumnDef::new(Events::UserAgent).text().null())
                    .col(ColumnDef::new(Events::Context).json_binary().not_null())
                    .col(timestamp(Events::CreatedAt))
                    .to_owned(),
            )
            .await?;
        create_index(manager, "events_action_idx", Events::Table, Events::Action).await?;
        create_index(
            manager,
            "events_created_at_idx",
            Events::Table,
            Events::CreatedAt,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Tokens::Table)
                    .col(ColumnDef::new(Tokens::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Tokens::Intent).text().not_null())
                    .col(ColumnDef::new(Tokens::UserId).uuid().null())
                    .col(ColumnDef::new(Tokens::Description).text().not_null())
                    .col(
                        ColumnDef::new(Tokens::Digest)
                            .text()
                            .not_null()
                            .unique_key(),
                    )
                    .col(nullable_timestamp(Tokens::ExpiresAt))
                    .col(timestamp(Tokens::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("tokens_user_id_fkey")
                            .from(Tokens::Table, Tokens::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        create_index(
            manager,
            "tokens_expires_at_idx",
            Tokens::Table,
            Tokens::ExpiresAt,
        )
        .await?;
        create_index(manager, "tokens_user_id_idx", Tokens::Table, Tokens::UserId).await?;

        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    .col(ColumnDef::new(Sessions::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Sessions::UserId).uuid().not_null())
                    .col(
                        ColumnDef::new(Sessions::Digest)
                            .text()
                            .not_null()
                            .unique_key(),
                    )
                    .col(timestamp(Sessions::CreatedAt))
                    .col(timestamp(Sessions::ExpiresAt))
                    .col(ColumnDef::new(Sessions::ClientIp).text().null())
                    .col(ColumnDef::new(Sessions::UserAgent).text().null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("sessions_user_id_fkey")
                            .from(Sessions::Table, Sessions::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        create_index(
            manager,
            "sessions_expires_at_idx",
            Sessions::Table,
            Sessions::ExpiresAt,
        )
        .await?;
        create_index(
            manager,
            "sessions_user_id_idx",
            Sessions::Table,
            Sessions::UserId,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(SigningKeys::Table)
                    .col(
                        ColumnDef::new(SigningKeys::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(SigningKeys::Name)
                            .text()
                            .not_null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new(SigningKeys::Algorithm).text().not_null())
                    .col(
                        ColumnDef::new(SigningKeys::PrivateKeySealed)
                            .text()
                            .not_null(),
                    )
                    .col(ColumnDef::new(SigningKeys::PublicKeyDer).text().not_null())
                    .col(timestamp(SigningKeys::CreatedAt))
                    .col(nullable_timestamp(SigningKeys::RetiredAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Settings::Table)
                    .col(
                        ColumnDef::new(Settings::Name)
                            .text()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Settings::Value).text().not_null())
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}

/// A required UTC timestamp column (`timestamptz` on PostgreSQL, RFC 3339 text on SQLite).
fn timestamp(column: impl IntoIden) -> ColumnDef {
    ColumnDef::new(column)
        .timestamp_with_time_zone()
        .not_null()
        .to_owned()
}

/// An optional UTC timestamp column.
fn nullable_timestamp(column: impl IntoIden) -> ColumnDef {
    ColumnDef::new(column)
        .timestamp_with_time_zone()
        .null()
        .to_owned()
}

/// A plain (non-unique) index on one column.
async fn create_index(
    manager: &SchemaManager<'_>,
    name: &str,
    table: impl IntoIden,
    column: impl IntoIden,
) -> Result<(), DbErr> {
    manager
        .create_index(
            Index::create()
                .name(name)
                .table(table)
                .col(column)
                .to_owned(),
        )
        .await
}
