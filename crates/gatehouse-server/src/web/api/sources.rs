//! `/api/v3/sources/oauth/`: upstream login sources (Forgejo, Gitea, GitHub, OpenID Connect,
//! OAuth2), and `/api/v3/core/users/{id}/connections/`: a user's linked upstream accounts.
//! The client secret is write-only: answers say whether one is set (`has_client_secret`).

use super::{
    Admin, ApiErrorBody, ApiJson, ApiQuery, ApiResult, ListParams, Paginated, double_option,
    no_content, path_id, path_slug,
};
use crate::admin::sources::{self as service, ClaimChanges, SourceChanges};
use crate::services::Services;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use gatehouse_core::{
    ClaimPaths, GroupSync, GroupSyncMode, NewSource, Source, SourceConnection, SourceKind,
    UserMatching,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// An API enum mirroring a core one (same snake_case names), so the document lists the
/// values while the core crate stays free of OpenAPI.
macro_rules! api_enum {
    ($(#[$doc:meta])* $name:ident mirrors $core:ident { $($(#[$vdoc:meta])* $variant:ident),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub(crate) enum $name { $($(#[$vdoc])* $variant),+ }

        impl From<$core> for $name {
            fn from(value: $core) -> Self {
                match value { $($core::$variant => Self::$variant),+ }
            }
        }

        impl From<$name> for $core {
            fn from(value: $name) -> Self {
                match value { $($name::$variant => Self::$variant),+ }
            }
        }
    };
}

api_enum! {
    /// The upstream software: the preset for default endpoints and how groups are read.
    SourceType mirrors SourceKind {
        /// Forgejo (`base_url`).
        Forgejo,
        /// Gitea (`base_url`).
        Gitea,
        /// GitHub, or GitHub Enterprise with `base_url`.
        Github,
        /// Any OpenID Connect provider.
        Oidc,
        /// A plain OAuth2 server with claim paths.
        Oauth2,
    }
}

api_enum! {
    /// What happens to an upstream account with no link yet.
    SourceUserMatching mirrors UserMatching {
        /// Enrol a new user.
        Identifier,
        /// Link to the user with the same email if verified upstream, else enrol.
        EmailLink,
        /// Link to the user with the same username, else enrol.
        UsernameLink,
        /// Refuse.
        Deny,
    }
}

api_enum! {
    /// How upstream groups become Gatehouse groups.
    SourceGroupSyncMode mirrors GroupSyncMode {
        /// Memberships are not touched.
        Off,
        /// Missing groups are created (under the parent, if set).
        Create,
        /// Only groups that exist are joined.
        Existing,
    }
}

/// Where the user-info document (or ID token) keeps each fact: top-level member names.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SourceClaims {
    subject: String,
    username: String,
    email: String,
    email_verified: String,
    name: String,
    groups: String,
}

/// The group-sync rule.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SourceGroupSync {
    mode: SourceGroupSyncMode,
    /// Synced groups live under this group.
    parent: Option<String>,
}

/// An upstream login source (never its client secret).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SourceOut {
    id: Uuid,
    slug: String,
    /// Shown on the "Sign in with …" button.
    name: String,
    #[serde(rename = "type")]
    kind: SourceType,
    /// Whether the button shows and the login endpoints answer.
    enabled: bool,
    base_url: Option<String>,
    discovery_url: Option<String>,
    issuer: Option<String>,
    authorize_url: Option<String>,
    token_url: Option<String>,
    userinfo_url: Option<String>,
    jwks_url: Option<String>,
    claims: SourceClaims,
    /// Our client id at the upstream.
    client_id: String,
    /// Whether a client secret is stored (it is never shown).
    has_client_secret: bool,
    /// Scopes asked for; empty means the preset's defaults.
    scopes: Vec<String>,
    user_matching: SourceUserMatching,
    /// Slug of the enrollment flow new users go through.
    enrollment_flow: Option<String>,
    group_sync: SourceGroupSync,
    /// The redirect URI to register at the upstream.
    callback_url: String,
    created_at: DateTime<Utc>,
}

impl SourceOut {
    fn of(services: &Services, source: Source) -> Self {
        let callback_url = service::callback_url(services, &source);
        let s = source.settings;
        let (e, c) = (s.endpoints, s.claims);
        Self {
            id: source.id.0,
            slug: s.slug,
            name: s.name,
            kind: s.kind.into(),
            enabled: s.enabled,
            base_url: s.base_url,
            discovery_url: e.discovery_url,
            issuer: e.issuer,
            authorize_url: e.authorize_url,
            token_url: e.token_url,
            userinfo_url: e.userinfo_url,
            jwks_url: e.jwks_url,
            claims: SourceClaims {
                subject: c.subject,
                username: c.username,
                email: c.email,
                email_verified: c.email_verified,
                name: c.name,
                groups: c.groups,
            },
            client_id: s.client_id,
            has_client_secret: s.client_secret_sealed.is_some(),
            scopes: s.scopes,
            user_matching: s.user_matching.into(),
            enrollment_flow: s.enrollment_flow,
            group_sync: SourceGroupSync {
                mode: s.group_sync.mode.into(),
                parent: s.group_sync.parent,
            },
            callback_url,
            created_at: source.created_at,
        }
    }
}

/// Claim names to set; absent ones keep their value (on creation: OpenID Connect's names).
#[derive(Debug, Default, Deserialize, ToSchema)]
pub(crate) struct SourceClaimsIn {
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    email_verified: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    groups: Option<String>,
}

impl From<SourceClaimsIn> for ClaimChanges {
    fn from(c: SourceClaimsIn) -> Self {
        Self {
            subject: c.subject,
            username: c.username,
            email: c.email,
            email_verified: c.email_verified,
            name: c.name,
            groups: c.groups,
        }
    }
}

/// A group-sync rule for a new source.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub(crate) struct SourceGroupSyncIn {
    /// Default `off`.
    #[serde(default)]
    mode: Option<SourceGroupSyncMode>,
    /// Name of an existing group.
    #[serde(default)]
    parent: Option<String>,
}

/// A new source. Which endpoints are needed depends on `type` (docs/sources.md).
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct SourceCreate {
    /// Part of the callback URL; cannot change later.
    slug: String,
    /// Default: the slug.
    #[serde(default)]
    name: Option<String>,
    #[serde(rename = "type")]
    kind: SourceType,
    #[serde(default)]
    base_url: Option<String>,
    #[serde(default)]
    discovery_url: Option<String>,
    #[serde(default)]
    issuer: Option<String>,
    #[serde(default)]
    authorize_url: Option<String>,
    #[serde(default)]
    token_url: Option<String>,
    #[serde(default)]
    userinfo_url: Option<String>,
    #[serde(default)]
    jwks_url: Option<String>,
    #[serde(default)]
    claims: Option<SourceClaimsIn>,
    client_id: String,
    /// Stored sealed, never shown again; absent for a public client.
    #[serde(default)]
    client_secret: Option<String>,
    #[serde(default)]
    scopes: Vec<String>,
    /// Default `identifier`.
    #[serde(default)]
    user_matching: Option<SourceUserMatching>,
    #[serde(default)]
    enrollment_flow: Option<String>,
    #[serde(default)]
    group_sync: Option<SourceGroupSyncIn>,
    /// Default true.
    #[serde(default)]
    enabled: Option<bool>,
}

impl SourceCreate {
    fn into_settings(self) -> (NewSource, Option<String>) {
        let name = self.name.unwrap_or_else(|| self.slug.clone());
        let mut new = NewSource::new(self.slug, name, self.kind.into(), self.client_id);
        new.base_url = self.base_url;
        let e = &mut new.endpoints;
        e.discovery_url = self.discovery_url;
        e.issuer = self.issuer;
        e.authorize_url = self.authorize_url;
        e.token_url = self.token_url;
        e.userinfo_url = self.userinfo_url;
        e.jwks_url = self.jwks_url;
        let mut claims = ClaimPaths::default();
        ClaimChanges::from(self.claims.unwrap_or_default()).apply_to(&mut claims);
        new.claims = claims;
        new.scopes = self.scopes;
        if let Some(mode) = self.user_matching {
            new.user_matching = mode.into();
        }
        new.enrollment_flow = self.enrollment_flow;
        let group_sync = self.group_sync.unwrap_or_default();
        new.group_sync = GroupSync {
            mode: group_sync.mode.map(Into::into).unwrap_or_default(),
            parent: group_sync.parent,
        };
        new.enabled = self.enabled.unwrap_or(true);
        (new, self.client_secret)
    }
}

/// Changes to a group-sync rule; `parent: null` removes the parent.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct SourceGroupSyncUpdate {
    #[serde(default)]
    mode: Option<SourceGroupSyncMode>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    parent: Option<Option<String>>,
}

/// Changes to a source; absent fields stay, `null` clears an optional one (`client_secret:
/// null` makes it a public client). The slug cannot change.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct SourceUpdate {
    #[serde(default)]
    name: Option<String>,
    #[serde(default, rename = "type")]
    kind: Option<SourceType>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    base_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    discovery_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    issuer: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    authorize_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    token_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    userinfo_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    jwks_url: Option<Option<String>>,
    #[serde(default)]
    claims: Option<SourceClaimsIn>,
    #[serde(default)]
    client_id: Option<String>,
    /// A new secret (stored sealed, never shown), or `null` to remove it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    client_secret: Option<Option<String>>,
    /// Replaces the list; empty means the preset's defaults.
    #[serde(default)]
    scopes: Option<Vec<String>>,
    #[serde(default)]
    user_matching: Option<SourceUserMatching>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    enrollment_flow: Option<Option<String>>,
    #[serde(default)]
    group_sync: Option<SourceGroupSyncUpdate>,
    #[serde(default)]
    enabled: Option<bool>,
}

impl From<SourceUpdate> for SourceChanges {
    fn from(u: SourceUpdate) -> Self {
        let (group_sync_mode, group_sync_parent) = u
            .group_sync
            .map_or((None, None), |g| (g.mode.map(Into::into), g.parent));
        Self {
            name: u.name,
            kind: u.kind.map(Into::into),
            base_url: u.base_url,
            discovery_url: u.discovery_url,
            issuer: u.issuer,
            authorize_url: u.authorize_url,
            token_url: u.token_url,
            userinfo_url: u.userinfo_url,
            jwks_url: u.jwks_url,
            claims: u.claims.map(Into::into).unwrap_or_default(),
            client_id: u.client_id,
            client_secret: u.client_secret,
            scopes: u.scopes,
            user_matching: u.user_matching.map(Into::into),
            enrollment_flow: u.enrollment_flow,
            group_sync_mode,
            group_sync_parent,
            enabled: u.enabled,
        }
    }
}

/// A user's link to an upstream account.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SourceConnectionOut {
    id: Uuid,
    /// The source's slug.
    source: String,
    /// The upstream's stable identifier of the account.
    upstream_id: String,
    /// The upstream username when last seen (display only).
    upstream_username: Option<String>,
    /// Groups this source put the user in at the last sign-in.
    synced_groups: Vec<String>,
    created_at: DateTime<Utc>,
    last_login: Option<DateTime<Utc>>,
}

impl From<SourceConnection> for SourceConnectionOut {
    fn from(c: SourceConnection) -> Self {
        Self {
            id: c.id.0,
            source: c.source_slug,
            upstream_id: c.upstream_id,
            upstream_username: c.upstream_username,
            synced_groups: c.synced_groups,
            created_at: c.created_at,
            last_login: c.last_login,
        }
    }
}

/// Lists sources; `ordering`: `slug` or `-slug`; `search` matches slug, name, type, client
/// id and base URL.
#[utoipa::path(get, path = "/api/v3/sources/oauth/", tag = "sources",
    params(ListParams),
    responses(
        (status = 200, body = Paginated<SourceOut>),
        (status = 400, body = ApiErrorBody), (status = 401, body = ApiErrorBody),
        (status = 403, body = ApiErrorBody)))]
pub(crate) async fn list(
    State(services): State<Services>,
    Admin(caller): Admin,
    ApiQuery(params): ApiQuery<ListParams>,
) -> ApiResult<Json<Paginated<SourceOut>>> {
    let query = params.query("slug")?;
    let page = service::list(&services, &caller, &query).await?;
    Ok(Json(Paginated::of(page, &query, |s| {
        SourceOut::of(&services, s)
    })))
}

/// Creates a source.
#[utoipa::path(post, path = "/api/v3/sources/oauth/", tag = "sources",
    request_body = SourceCreate,
    responses(
        (status = 201, body = SourceOut),
        (status = 400, body = ApiErrorBody), (status = 401, body = ApiErrorBody),
        (status = 403, body = ApiErrorBody), (status = 409, body = ApiErrorBody)))]
pub(crate) async fn create(
    State(services): State<Services>,
    Admin(caller): Admin,
    ApiJson(body): ApiJson<SourceCreate>,
) -> ApiResult<Response> {
    let (settings, secret) = body.into_settings();
    let source = service::create(&services, &caller, settings, secret).await?;
    Ok((StatusCode::CREATED, Json(SourceOut::of(&services, source))).into_response())
}

/// Shows a source.
#[utoipa::path(get, path = "/api/v3/sources/oauth/{slug}/", tag = "sources",
    params(("slug" = String, Path, description = "The source's slug")),
    responses(
        (status = 200, body = SourceOut), (status = 401, body = ApiErrorBody),
        (status = 403, body = ApiErrorBody), (status = 404, body = ApiErrorBody)))]
pub(crate) async fn get(
    State(services): State<Services>,
    Admin(caller): Admin,
    Path(slug): Path<String>,
) -> ApiResult<Json<SourceOut>> {
    let source = service::get(&services, &caller, path_slug(&slug, "source")?).await?;
    Ok(Json(SourceOut::of(&services, source)))
}

/// Changes a source; answers the source as stored.
#[utoipa::path(patch, path = "/api/v3/sources/oauth/{slug}/", tag = "sources",
    request_body = SourceUpdate,
    params(("slug" = String, Path, description = "The source's slug")),
    responses(
        (status = 200, body = SourceOut),
        (status = 400, body = ApiErrorBody), (status = 401, body = ApiErrorBody),
        (status = 403, body = ApiErrorBody), (status = 404, body = ApiErrorBody),
        (status = 409, body = ApiErrorBody)))]
pub(crate) async fn update(
    State(services): State<Services>,
    Admin(caller): Admin,
    Path(slug): Path<String>,
    ApiJson(body): ApiJson<SourceUpdate>,
) -> ApiResult<Json<SourceOut>> {
    let slug = path_slug(&slug, "source")?;
    let source = service::update(&services, &caller, slug, body.into()).await?;
    Ok(Json(SourceOut::of(&services, source)))
}

/// Deletes a source with every connection to it.
#[utoipa::path(delete, path = "/api/v3/sources/oauth/{slug}/", tag = "sources",
    params(("slug" = String, Path, description = "The source's slug")),
    responses(
        (status = 204), (status = 401, body = ApiErrorBody), (status = 403, body = ApiErrorBody),
        (status = 404, body = ApiErrorBody)))]
pub(crate) async fn delete(
    State(services): State<Services>,
    Admin(caller): Admin,
    Path(slug): Path<String>,
) -> ApiResult<Response> {
    service::delete(&services, &caller, path_slug(&slug, "source")?).await?;
    Ok(no_content())
}

/// A user's linked upstream accounts, by source slug.
#[utoipa::path(get, path = "/api/v3/core/users/{id}/connections/", tag = "users",
    params(("id" = Uuid, Path, description = "The user's id")),
    responses(
        (status = 200, body = Vec<SourceConnectionOut>), (status = 401, body = ApiErrorBody),
        (status = 403, body = ApiErrorBody), (status = 404, body = ApiErrorBody)))]
pub(crate) async fn connections(
    State(services): State<Services>,
    Admin(caller): Admin,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<SourceConnectionOut>>> {
    let found = service::connections(&services, &caller, path_id(&id, "user")?).await?;
    Ok(Json(found.into_iter().map(Into::into).collect()))
}

/// Removes a user's link at a source; 409 when it is the user's last way to sign in.
#[utoipa::path(delete, path = "/api/v3/core/users/{id}/connections/{source_slug}/",
    tag = "users",
    params(("id" = Uuid, Path, description = "The user's id"),
        ("source_slug" = String, Path, description = "The source's slug")),
    responses(
        (status = 204), (status = 401, body = ApiErrorBody), (status = 403, body = ApiErrorBody),
        (status = 404, body = ApiErrorBody), (status = 409, body = ApiErrorBody)))]
pub(crate) async fn remove_connection(
    State(services): State<Services>,
    Admin(caller): Admin,
    Path((id, slug)): Path<(String, String)>,
) -> ApiResult<Response> {
    let id = path_id(&id, "user")?;
    let slug = path_slug(&slug, "connection")?;
    service::remove_connection(&services, &caller, id, slug).await?;
    Ok(no_content())
}
