//! Issue 5, admin lists at scale: user search without `LOWER()` on every row and every page
//! from an index. `users.search_text` holds username, name and email already folded to lower
//! case (by Rust, the same on both backends, see `crate::search::user_search_text`); the
//! index on `(username, search_text)` lets a search scan a narrow index in username order
//! (stopping once a page is full) instead of whole rows, and lets a deep page skip rows
//! without reading them.

use crate::search::user_search_text;
use sea_orm::{ConnectionTrait, ExprTrait};
use sea_orm_migration::prelude::*;

/// Adds and fills `users.search_text` and the `users_username_search_idx` index.
#[derive(DeriveMigrationName)]
pub(super) struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Username,
    Name,
    Email,
    SearchText,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(
                        ColumnDef::new(Users::SearchText)
                            .text()
                            .not_null()
                            .default(""),
                    )
                    .to_owned(),
            )
            .await?;
        backfill(manager).await?;
        manager
            .create_index(
                Index::create()
                    .name("users_username_search_idx")
                    .table(Users::Table)
                    .col(Users::Username)
                    .col(Users::SearchText)
                    .to_owned(),
            )
            .await
    }
}

/// Fills `search_text` for the users that exist already (one UPDATE per user: this runs once,
/// and folding in Rust keeps non-ASCII names searchable on SQLite, whose `LOWER` folds ASCII
/// only).
async fn backfill(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let conn = manager.get_connection();
    let select = Query::select()
        .columns([Users::Id, Users::Username, Users::Name, Users::Email])
        .from(Users::Table)
        .to_owned();
    let rows = conn.query_all(&select).await?;
    for row in rows {
        let id: uuid::Uuid = row.try_get("", "id")?;
        let username: String = row.try_get("", "username")?;
        let name: String = row.try_get("", "name")?;
        let email: Option<String> = row.try_get("", "email")?;
        let update = Query::update()
            .table(Users::Table)
            .value(
                Users::SearchText,
                user_search_text(&username, &name, email.as_deref()),
            )
            .and_where(Expr::col(Users::Id).eq(id))
            .to_owned();
        conn.execute(&update).await?;
    }
    Ok(())
}
