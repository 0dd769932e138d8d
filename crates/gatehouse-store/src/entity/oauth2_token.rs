//! The `oauth2_tokens` table: authorization codes, refresh tokens and access-token ids.

use sea_orm::entity::prelude::*;

/// One row of `oauth2_tokens`. The digest is never logged.
#[derive(Clone, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "oauth2_tokens")]
pub(crate) struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub kind: String,
    pub application_id: Uuid,
    pub user_id: Option<Uuid>,
    pub family: Uuid,
    pub session_id: Option<Uuid>,
    #[sea_orm(unique)]
    pub digest: String,
    pub scopes: Json,
    pub data: Json,
    pub expires_at: DateTimeUtc,
    pub used_at: Option<DateTimeUtc>,
    pub revoked_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("oauth2_token::Model")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("family", &self.family)
            .finish_non_exhaustive()
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub(crate) enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
