//! The `sessions` table.

use sea_orm::entity::prelude::*;

/// One row of `sessions`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "sessions")]
pub(crate) struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: Uuid,
    #[sea_orm(unique)]
    pub digest: String,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    pub auth_time: Option<DateTimeUtc>,
    pub auth_methods: Json,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub(crate) enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
