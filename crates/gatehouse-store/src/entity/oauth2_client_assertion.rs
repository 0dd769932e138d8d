//! The `oauth2_client_assertions` table: `jti`s of accepted `private_key_jwt` assertions,
//! kept until they expire (RFC 7523 §3 item 7).

use sea_orm::entity::prelude::*;

/// One row of `oauth2_client_assertions`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "oauth2_client_assertions")]
pub(crate) struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub client_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub jti: String,
    pub expires_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub(crate) enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
