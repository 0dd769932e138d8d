//! The `invitations` table (added by the fourth migration).

use sea_orm::entity::prelude::*;

/// One row of `invitations`. `digest` is never logged.
#[derive(Clone, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "invitations")]
pub(crate) struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub digest: String,
    pub flow_slug: String,
    pub single_use: bool,
    pub fixed_data: Json,
    pub groups: Json,
    pub expires_at: Option<DateTimeUtc>,
    pub created_by: Option<Uuid>,
    pub created_by_name: String,
    pub created_at: DateTimeUtc,
    pub use_count: i64,
    pub last_used_at: Option<DateTimeUtc>,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("invitation::Model")
            .field("id", &self.id)
            .field("flow_slug", &self.flow_slug)
            .field("single_use", &self.single_use)
            .field("use_count", &self.use_count)
            .finish_non_exhaustive()
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub(crate) enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
