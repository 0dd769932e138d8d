//! The `sources` table: upstream login sources (added by the `000017_sources` migration).

use sea_orm::entity::prelude::*;

/// One row of `sources`; the client secret is stored sealed, as the caller sealed it.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "sources")]
pub(crate) struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub slug: String,
    pub name: String,
    pub kind: String,
    pub base_url: Option<String>,
    pub endpoints: Json,
    pub claims: Json,
    pub client_id: String,
    pub client_secret_sealed: Option<String>,
    pub scopes: Json,
    pub user_matching: String,
    pub enrollment_flow: Option<String>,
    pub group_sync_mode: String,
    pub group_sync_parent: Option<String>,
    pub enabled: bool,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub(crate) enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
