//! The `flows` table (flow definitions as JSON; see `gatehouse_core::FlowDefinition`).

use sea_orm::entity::prelude::*;

/// One row of `flows`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "flows")]
pub(crate) struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub slug: String,
    pub definition: Json,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub(crate) enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
