//! Single-use forms: the nonce of each answered form (the OAuth2 consent page's Allow/Deny)
//! is recorded until the form would have expired anyway, so a second submission is refused.

use sea_orm_migration::prelude::*;

/// Creates `spent_nonces`.
#[derive(DeriveMigrationName)]
pub(super) struct Migration;

#[derive(DeriveIden)]
enum SpentNonces {
    Table,
    Nonce,
    ExpiresAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SpentNonces::Table)
                    .col(
                        ColumnDef::new(SpentNonces::Nonce)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(SpentNonces::ExpiresAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("spent_nonces_expires_at_idx")
                    .table(SpentNonces::Table)
                    .col(SpentNonces::ExpiresAt)
                    .to_owned(),
            )
            .await
    }
}
