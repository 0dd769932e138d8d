//! Email-verification links resume the flow that sent them from any browser: the flow's
//! sealed execution is stored with the link's token (and deleted with it when spent).

use sea_orm_migration::prelude::*;

/// Adds `tokens.state`.
#[derive(DeriveMigrationName)]
pub(super) struct Migration;

#[derive(DeriveIden)]
enum Tokens {
    Table,
    State,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Tokens::Table)
                    .add_column(ColumnDef::new(Tokens::State).text().null())
                    .to_owned(),
            )
            .await
    }
}
