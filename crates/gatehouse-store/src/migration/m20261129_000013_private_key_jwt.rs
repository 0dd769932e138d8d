//! RFC 7523 §2.2 / OIDC Core §9 `private_key_jwt`: each OAuth2 provider may register its
//! public keys (a JWKS document) and the one token-endpoint authentication method it must use;
//! the `oauth2_client_assertions` table remembers the `jti` of every accepted client
//! assertion until it expires, so an assertion is good for one request only (RFC 7523 §3
//! item 7). Both new provider columns are nullable: existing providers keep working as before.

use sea_orm_migration::prelude::*;

/// Adds `oauth2_providers.jwks`, `oauth2_providers.token_endpoint_auth_method` and creates
/// `oauth2_client_assertions`.
#[derive(DeriveMigrationName)]
pub(super) struct Migration;

#[derive(DeriveIden)]
enum Oauth2Providers {
    Table,
    Jwks,
    TokenEndpointAuthMethod,
}

#[derive(DeriveIden)]
enum Oauth2ClientAssertions {
    Table,
    ClientId,
    Jti,
    ExpiresAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        manager
            .alter_table(
                Table::alter()
                    .table(Oauth2Providers::Table)
                    .add_column(ColumnDef::new(Oauth2Providers::Jwks).json_binary().null())
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Oauth2Providers::Table)
                    .add_column(
                        ColumnDef::new(Oauth2Providers::TokenEndpointAuthMethod)
                            .string()
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Oauth2ClientAssertions::Table)
                    .col(
                        ColumnDef::new(Oauth2ClientAssertions::ClientId)
                            .string()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Oauth2ClientAssertions::Jti)
                            .string()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Oauth2ClientAssertions::ExpiresAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(Oauth2ClientAssertions::ClientId)
                            .col(Oauth2ClientAssertions::Jti),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("oauth2_client_assertions_expires_at_idx")
                    .table(Oauth2ClientAssertions::Table)
                    .col(Oauth2ClientAssertions::ExpiresAt)
                    .to_owned(),
            )
            .await
    }
}
