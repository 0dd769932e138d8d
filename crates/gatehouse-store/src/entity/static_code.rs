//! The `static_codes` table: one row per unused recovery code (added by the fourth migration).

use sea_orm::entity::prelude::*;

/// One row of `static_codes`; `digest` is a keyed digest of the code, never logged.
#[derive(Clone, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "static_codes")]
pub(crate) struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub device_id: Uuid,
    pub digest: String,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("static_code::Model")
            .field("id", &self.id)
            .field("device_id", &self.device_id)
            .finish_non_exhaustive()
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub(crate) enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
