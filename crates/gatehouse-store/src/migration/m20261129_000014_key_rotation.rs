//! Signing-key rotation with overlap: a retired key stays published in JWKS until
//! `verify_until`, the moment the last token it could have signed expires; then the worker
//! deletes it. Null for active keys (and for keys retired before this column existed, which
//! stay published as before).

use sea_orm_migration::prelude::*;

/// Adds `signing_keys.verify_until`.
#[derive(DeriveMigrationName)]
pub(super) struct Migration;

#[derive(DeriveIden)]
enum SigningKeys {
    Table,
    VerifyUntil,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(SigningKeys::Table)
                    .add_column(
                        ColumnDef::new(SigningKeys::VerifyUntil)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .to_owned(),
            )
            .await
    }
}
