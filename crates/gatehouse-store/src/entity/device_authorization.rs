//! The `device_authorizations` table: RFC 8628 device codes (added by migration 21).

use sea_orm::entity::prelude::*;

/// One row of `device_authorizations`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "device_authorizations")]
pub(crate) struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub application_id: Uuid,
    #[sea_orm(unique)]
    pub device_code_digest: String,
    #[sea_orm(unique)]
    pub user_code_digest: String,
    pub scopes: Json,
    pub status: String,
    pub user_id: Option<Uuid>,
    pub data: Json,
    pub interval_secs: i64,
    pub last_polled_at: Option<DateTimeUtc>,
    pub expires_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub(crate) enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
