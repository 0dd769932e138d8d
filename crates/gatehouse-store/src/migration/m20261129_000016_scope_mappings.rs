//! Custom scope mappings (`gatehouse_core::scope_mapping`): each OAuth2 provider's own scopes
//! and the claims they grant, as one JSON object `{scope: {claim: source}}`, empty by default
//! so existing providers mint exactly the claims they did before.

use sea_orm_migration::prelude::*;

/// Adds `oauth2_providers.scope_mappings`.
#[derive(DeriveMigrationName)]
pub(super) struct Migration;

#[derive(DeriveIden)]
enum Oauth2Providers {
    Table,
    ScopeMappings,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Oauth2Providers::Table)
                    .add_column(
                        ColumnDef::new(Oauth2Providers::ScopeMappings)
                            .json_binary()
                            .not_null()
                            .default("{}"),
                    )
                    .to_owned(),
            )
            .await
    }
}
