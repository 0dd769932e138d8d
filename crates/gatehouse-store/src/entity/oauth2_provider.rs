//! The `oauth2_providers` table: one row per application that speaks OAuth2/OIDC.

use sea_orm::entity::prelude::*;

/// One row of `oauth2_providers`. The secret digest is never logged.
#[derive(Clone, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "oauth2_providers")]
pub(crate) struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub application_id: Uuid,
    pub client_type: String,
    #[sea_orm(unique)]
    pub client_id: String,
    pub client_secret_digest: Option<String>,
    pub redirect_uris: Json,
    pub scopes: Json,
    pub signing_alg: String,
    pub authorization_code_lifetime: i64,
    pub access_token_lifetime: i64,
    pub refresh_token_lifetime: i64,
    pub subject_mode: String,
    pub consent_mode: String,
    pub require_pkce: bool,
    pub post_logout_redirect_uris: Json,
    pub jwks: Option<Json>,
    pub token_endpoint_auth_method: Option<String>,
    pub backchannel_logout_uri: Option<String>,
    pub backchannel_logout_session_required: bool,
    pub scope_mappings: Json,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("oauth2_provider::Model")
            .field("application_id", &self.application_id)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub(crate) enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
