//! OpenID Connect RP-Initiated Logout 1.0 §3: the post-logout redirect URIs each OAuth2
//! provider registers, stored like its redirect URIs (a JSON array, empty by default so
//! existing providers keep working and simply never redirect after logout).

use sea_orm_migration::prelude::*;

/// Adds `oauth2_providers.post_logout_redirect_uris`.
#[derive(DeriveMigrationName)]
pub(super) struct Migration;

#[derive(DeriveIden)]
enum Oauth2Providers {
    Table,
    PostLogoutRedirectUris,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Oauth2Providers::Table)
                    .add_column(
                        ColumnDef::new(Oauth2Providers::PostLogoutRedirectUris)
                            .json_binary()
                            .not_null()
                            .default("[]"),
                    )
                    .to_owned(),
            )
            .await
    }
}
