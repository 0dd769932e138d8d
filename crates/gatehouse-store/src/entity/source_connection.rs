//! The `source_connections` table: one user's link to one upstream account.

use sea_orm::entity::prelude::*;

/// One row of `source_connections`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "source_connections")]
pub(crate) struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub source_id: Uuid,
    pub user_id: Uuid,
    pub upstream_id: String,
    pub upstream_username: Option<String>,
    pub synced_groups: Json,
    pub created_at: DateTimeUtc,
    pub last_login: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub(crate) enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
