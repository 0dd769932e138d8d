//! OIDC Core §2 and §3.1.2.1: a session records when and how its user authenticated, so ID
//! tokens carry `auth_time`, `amr` and `acr` and `max_age` can be honoured. Both columns are
//! added with defaults that old rows can live with: no `auth_time` means "when the session
//! was created", no methods means "unknown".

use sea_orm_migration::prelude::*;

/// Adds `sessions.auth_time` and `sessions.auth_methods`.
#[derive(DeriveMigrationName)]
pub(super) struct Migration;

#[derive(DeriveIden)]
enum Sessions {
    Table,
    AuthTime,
    AuthMethods,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite alters one column per statement.
        manager
            .alter_table(
                Table::alter()
                    .table(Sessions::Table)
                    .add_column(
                        ColumnDef::new(Sessions::AuthTime)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Sessions::Table)
                    .add_column(
                        ColumnDef::new(Sessions::AuthMethods)
                            .json_binary()
                            .not_null()
                            .default("[]"),
                    )
                    .to_owned(),
            )
            .await
    }
}
