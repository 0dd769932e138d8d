//! Applications, their OAuth2/OIDC providers and the OAuth2 grant artefacts (authorization
//! codes, refresh tokens, access-token ids) issued to them.

use sea_orm_migration::prelude::*;

/// Creates `applications`, `oauth2_providers` and `oauth2_tokens`.
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
    Slug,
    Name,
    LaunchUrl,
    AllowedGroups,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Oauth2Providers {
    Table,
    ApplicationId,
    ClientType,
    ClientId,
    ClientSecretDigest,
    RedirectUris,
    Scopes,
    SigningAlg,
    AuthorizationCodeLifetime,
    AccessTokenLifetime,
    RefreshTokenLifetime,
    SubjectMode,
    ConsentMode,
    RequirePkce,
}

#[derive(DeriveIden)]
enum Oauth2Tokens {
    Table,
    Id,
    Kind,
    ApplicationId,
    UserId,
    Family,
    Digest,
    Scopes,
    Data,
    ExpiresAt,
    UsedAt,
    RevokedAt,
    CreatedAt,
}

fn timestamp(column: impl IntoIden, null: bool) -> ColumnDef {
    let mut def = ColumnDef::new(column);
    def.timestamp_with_time_zone();
    if null {
        def.null();
    } else {
        def.not_null();
    }
    def
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Applications::Table)
                    .col(
                        ColumnDef::new(Applications::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(Applications::Slug)
                            .text()
                            .not_null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new(Applications::Name).text().not_null())
                    .col(ColumnDef::new(Applications::LaunchUrl).text().null())
                    .col(
                        ColumnDef::new(Applications::AllowedGroups)
                            .json_binary()
                            .not_null(),
                    )
                    .col(timestamp(Applications::CreatedAt, false))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Oauth2Providers::Table)
                    .col(
                        ColumnDef::new(Oauth2Providers::ApplicationId)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(Oauth2Providers::ClientType)
                            .text()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Oauth2Providers::ClientId)
                            .text()
                            .not_null()
                            .unique_key(),
                    )
                    .col(
                        ColumnDef::new(Oauth2Providers::ClientSecretDigest)
                            .text()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(Oauth2Providers::RedirectUris)
                            .json_binary()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Oauth2Providers::Scopes)
                            .json_binary()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Oauth2Providers::SigningAlg)
                            .text()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Oauth2Providers::AuthorizationCodeLifetime)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Oauth2Providers::AccessTokenLifetime)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Oauth2Providers::RefreshTokenLifetime)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Oauth2Providers::SubjectMode)
                            .text()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Oauth2Providers::ConsentMode)
                            .text()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Oauth2Providers::RequirePkce)
                            .boolean()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("oauth2_providers_application_id_fkey")
                            .from(Oauth2Providers::Table, Oauth2Providers::ApplicationId)
                            .to(Applications::Table, Applications::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Oauth2Tokens::Table)
                    .col(
                        ColumnDef::new(Oauth2Tokens::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Oauth2Tokens::Kind).text().not_null())
                    .col(
                        ColumnDef::new(Oauth2Tokens::ApplicationId)
                            .uuid()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Oauth2Tokens::UserId).uuid().null())
                    .col(ColumnDef::new(Oauth2Tokens::Family).uuid().not_null())
                    .col(
                        ColumnDef::new(Oauth2Tokens::Digest)
                            .text()
                            .not_null()
                            .unique_key(),
                    )
                    .col(
                        ColumnDef::new(Oauth2Tokens::Scopes)
                            .json_binary()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Oauth2Tokens::Data).json_binary().not_null())
                    .col(timestamp(Oauth2Tokens::ExpiresAt, false))
                    .col(timestamp(Oauth2Tokens::UsedAt, true))
                    .col(timestamp(Oauth2Tokens::RevokedAt, true))
                    .col(timestamp(Oauth2Tokens::CreatedAt, false))
                    .foreign_key(
                        ForeignKey::create()
                            .name("oauth2_tokens_application_id_fkey")
                            .from(Oauth2Tokens::Table, Oauth2Tokens::ApplicationId)
                            .to(Applications::Table, Applications::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("oauth2_tokens_user_id_fkey")
                            .from(Oauth2Tokens::Table, Oauth2Tokens::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("oauth2_tokens_family_idx", Oauth2Tokens::Family),
            ("oauth2_tokens_expires_at_idx", Oauth2Tokens::ExpiresAt),
            (
                "oauth2_tokens_application_id_idx",
                Oauth2Tokens::ApplicationId,
            ),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(Oauth2Tokens::Table)
                        .col(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
