//! OpenID Connect Back-Channel Logout 1.0 §2.2: each OAuth2 provider may register a
//! `backchannel_logout_uri` and whether it needs `sid` in logout tokens. The URI is nullable
//! and the flag defaults to false, so existing providers keep working as before.

use sea_orm_migration::prelude::*;

/// Adds `oauth2_providers.backchannel_logout_uri` and
/// `oauth2_providers.backchannel_logout_session_required`.
#[derive(DeriveMigrationName)]
pub(super) struct Migration;

#[derive(DeriveIden)]
enum Oauth2Providers {
    Table,
    BackchannelLogoutUri,
    BackchannelLogoutSessionRequired,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        manager
            .alter_table(
                Table::alter()
                    .table(Oauth2Providers::Table)
                    .add_column(
                        ColumnDef::new(Oauth2Providers::BackchannelLogoutUri)
                            .string()
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Oauth2Providers::Table)
                    .add_column(
                        ColumnDef::new(Oauth2Providers::BackchannelLogoutSessionRequired)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .to_owned(),
            )
            .await
    }
}
