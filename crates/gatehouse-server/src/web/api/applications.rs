//! `/api/v3/core/applications/`: applications with their OAuth2/OIDC provider. The provider
//! object is its own schema so later provider kinds (SAML, LDAP) and fields (back-channel
//! logout, scope mappings) sit next to it without changing the rest.

use super::{
    Admin, ApiErrorBody, ApiJson, ApiQuery, ApiResult, ListParams, Paginated, double_option,
    no_content, path_slug,
};
use crate::admin::AdminError;
use crate::admin::applications::{self as service, ApplicationChanges, ProviderChanges};
use crate::services::Services;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use gatehouse_core::{
    Application, ClientType, ConsentMode, KeyAlgorithm, Lifetimes, NewApplication, OAuth2Provider,
    SubjectMode, TokenEndpointAuthMethod,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// An application.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ApplicationOut {
    id: Uuid,
    slug: String,
    name: String,
    launch_url: Option<String>,
    /// Names of the groups whose members may use it; empty means everyone.
    allowed_groups: Vec<String>,
    /// Its OAuth2/OIDC provider, if it has one.
    oauth2: Option<OAuth2ProviderOut>,
    created_at: DateTime<Utc>,
}

impl From<Application> for ApplicationOut {
    fn from(app: Application) -> Self {
        Self {
            id: app.id.0,
            slug: app.slug,
            name: app.name,
            launch_url: app.launch_url,
            allowed_groups: app.allowed_groups.into_iter().map(|g| g.name).collect(),
            oauth2: app.oauth2.map(OAuth2ProviderOut::from),
            created_at: app.created_at,
        }
    }
}

/// An OAuth2/OIDC provider (never the secret or its digest).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct OAuth2ProviderOut {
    /// `confidential` or `public`.
    client_type: String,
    client_id: String,
    redirect_uris: Vec<String>,
    post_logout_redirect_uris: Vec<String>,
    scopes: Vec<String>,
    /// `RS256`, `ES256` or `EdDSA`.
    signing_alg: String,
    /// `hashed_user_id`, `user_id`, `username` or `email`.
    subject_mode: String,
    /// `implicit`, `explicit` or `remembered`.
    consent_mode: String,
    require_pkce: bool,
    /// The one client authentication method allowed, if restricted.
    token_endpoint_auth_method: Option<String>,
    /// Seconds.
    authorization_code_lifetime: i64,
    /// Seconds.
    access_token_lifetime: i64,
    /// Seconds.
    refresh_token_lifetime: i64,
}

impl From<OAuth2Provider> for OAuth2ProviderOut {
    fn from(p: OAuth2Provider) -> Self {
        Self {
            client_type: p.client_type.as_str().into(),
            client_id: p.client_id,
            redirect_uris: p.redirect_uris,
            post_logout_redirect_uris: p.post_logout_redirect_uris,
            scopes: p.scopes,
            signing_alg: p.signing_alg.as_str().into(),
            subject_mode: p.subject_mode.as_str().into(),
            consent_mode: p.consent_mode.as_str().into(),
            require_pkce: p.require_pkce,
            token_endpoint_auth_method: p.token_endpoint_auth_method.map(|m| m.as_str().into()),
            authorization_code_lifetime: p.lifetimes.authorization_code,
            access_token_lifetime: p.lifetimes.access_token,
            refresh_token_lifetime: p.lifetimes.refresh_token,
        }
    }
}

/// A new application.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct ApplicationCreate {
    slug: String,
    name: String,
    #[serde(default)]
    launch_url: Option<String>,
    /// Group names; empty means everyone may use it.
    #[serde(default)]
    allowed_groups: Vec<String>,
    #[serde(default)]
    oauth2: Option<OAuth2ProviderCreate>,
}

/// A new OAuth2/OIDC provider; absent fields take the defaults of `gatehouse app create`.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct OAuth2ProviderCreate {
    client_id: String,
    /// `confidential` (default; a secret is generated and returned once) or `public`.
    #[serde(default)]
    client_type: Option<String>,
    #[serde(default)]
    redirect_uris: Vec<String>,
    #[serde(default)]
    post_logout_redirect_uris: Vec<String>,
    #[serde(default)]
    scopes: Option<Vec<String>>,
    #[serde(default)]
    signing_alg: Option<String>,
    #[serde(default)]
    subject_mode: Option<String>,
    #[serde(default)]
    consent_mode: Option<String>,
    #[serde(default)]
    require_pkce: Option<bool>,
    #[serde(default)]
    token_endpoint_auth_method: Option<String>,
    /// Seconds.
    #[serde(default)]
    access_token_lifetime: Option<i64>,
    /// Seconds.
    #[serde(default)]
    refresh_token_lifetime: Option<i64>,
    /// Seconds.
    #[serde(default)]
    authorization_code_lifetime: Option<i64>,
}

fn parsed<T>(
    value: Option<&str>,
    field: &str,
    parse: fn(&str) -> Option<T>,
    expected: &str,
) -> Result<Option<T>, AdminError> {
    value
        .map(|v| parse(v).ok_or_else(|| AdminError::field(field, format!("must be {expected}"))))
        .transpose()
}

fn signing_alg(value: Option<&str>) -> Result<Option<KeyAlgorithm>, AdminError> {
    parsed(
        value,
        "oauth2.signing_alg",
        KeyAlgorithm::parse,
        "RS256, ES256 or EdDSA",
    )
}

fn subject_mode(value: Option<&str>) -> Result<Option<SubjectMode>, AdminError> {
    parsed(
        value,
        "oauth2.subject_mode",
        SubjectMode::parse,
        "hashed_user_id, user_id, username or email",
    )
}

fn consent_mode(value: Option<&str>) -> Result<Option<ConsentMode>, AdminError> {
    parsed(
        value,
        "oauth2.consent_mode",
        ConsentMode::parse,
        "implicit, explicit or remembered",
    )
}

fn auth_method(value: Option<&str>) -> Result<Option<TokenEndpointAuthMethod>, AdminError> {
    parsed(
        value,
        "oauth2.token_endpoint_auth_method",
        TokenEndpointAuthMethod::parse,
        "client_secret_basic, client_secret_post, private_key_jwt or none",
    )
}

impl OAuth2ProviderCreate {
    fn into_provider(self) -> Result<OAuth2Provider, AdminError> {
        let client_type = parsed(
            self.client_type.as_deref(),
            "oauth2.client_type",
            ClientType::parse,
            "confidential or public",
        )?
        .unwrap_or(ClientType::Confidential);
        let mut provider = OAuth2Provider::new(client_type, self.client_id);
        provider.redirect_uris = self.redirect_uris;
        provider.post_logout_redirect_uris = self.post_logout_redirect_uris;
        if let Some(scopes) = self.scopes {
            provider.scopes = scopes;
        }
        if let Some(alg) = signing_alg(self.signing_alg.as_deref())? {
            provider.signing_alg = alg;
        }
        if let Some(mode) = subject_mode(self.subject_mode.as_deref())? {
            provider.subject_mode = mode;
        }
        if let Some(mode) = consent_mode(self.consent_mode.as_deref())? {
            provider.consent_mode = mode;
        }
        if let Some(pkce) = self.require_pkce {
            provider.require_pkce = pkce || client_type == ClientType::Public;
        }
        provider.token_endpoint_auth_method =
            auth_method(self.token_endpoint_auth_method.as_deref())?;
        let defaults = Lifetimes::default();
        provider.lifetimes = Lifetimes {
            authorization_code: self
                .authorization_code_lifetime
                .unwrap_or(defaults.authorization_code),
            access_token: self.access_token_lifetime.unwrap_or(defaults.access_token),
            refresh_token: self
                .refresh_token_lifetime
                .unwrap_or(defaults.refresh_token),
        };
        Ok(provider)
    }
}

/// Changes to an application; absent fields stay, `launch_url: null` removes the launch URL,
/// `allowed_groups: []` lets everyone use it. A list replaces the stored list.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct ApplicationUpdate {
    #[serde(default)]
    name: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    launch_url: Option<Option<String>>,
    /// Group names; empty means everyone may use it.
    #[serde(default)]
    allowed_groups: Option<Vec<String>>,
    /// Changes to its OAuth2/OIDC provider (409 when it has none).
    #[serde(default)]
    oauth2: Option<OAuth2ProviderUpdate>,
}

/// Changes to an OAuth2/OIDC provider; absent fields stay. The client id and type cannot
/// change (that is a new client); the secret changes with `rotate_secret`.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct OAuth2ProviderUpdate {
    #[serde(default)]
    redirect_uris: Option<Vec<String>>,
    #[serde(default)]
    post_logout_redirect_uris: Option<Vec<String>>,
    /// Allowed scopes (mapped scopes stay allowed).
    #[serde(default)]
    scopes: Option<Vec<String>>,
    /// `RS256`, `ES256` or `EdDSA`.
    #[serde(default)]
    signing_alg: Option<String>,
    /// `hashed_user_id`, `user_id`, `username` or `email`.
    #[serde(default)]
    subject_mode: Option<String>,
    /// `implicit`, `explicit` or `remembered`.
    #[serde(default)]
    consent_mode: Option<String>,
    #[serde(default)]
    require_pkce: Option<bool>,
    /// `null` allows any method the client type permits.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    token_endpoint_auth_method: Option<Option<String>>,
    /// Seconds.
    #[serde(default)]
    access_token_lifetime: Option<i64>,
    /// Seconds.
    #[serde(default)]
    refresh_token_lifetime: Option<i64>,
    /// Seconds.
    #[serde(default)]
    authorization_code_lifetime: Option<i64>,
}

impl OAuth2ProviderUpdate {
    fn into_changes(self) -> Result<ProviderChanges, AdminError> {
        Ok(ProviderChanges {
            redirect_uris: self.redirect_uris,
            post_logout_redirect_uris: self.post_logout_redirect_uris,
            scopes: self.scopes,
            signing_alg: signing_alg(self.signing_alg.as_deref())?,
            subject_mode: subject_mode(self.subject_mode.as_deref())?,
            consent_mode: consent_mode(self.consent_mode.as_deref())?,
            require_pkce: self.require_pkce,
            token_endpoint_auth_method: self
                .token_endpoint_auth_method
                .map(|method| auth_method(method.as_deref()))
                .transpose()?,
            authorization_code_lifetime: self.authorization_code_lifetime,
            access_token_lifetime: self.access_token_lifetime,
            refresh_token_lifetime: self.refresh_token_lifetime,
        })
    }
}

/// A created application and, for a confidential client, its secret (shown only now).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ApplicationCreated {
    application: ApplicationOut,
    client_secret: Option<String>,
}

/// A newly generated client secret (shown only now).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ClientSecret {
    client_secret: String,
}

/// Lists applications; `ordering`: `slug` or `-slug`; `search` matches slug, name, client id.
#[utoipa::path(get, path = "/api/v3/core/applications/", tag = "applications",
    params(ListParams),
    responses(
        (status = 200, body = Paginated<ApplicationOut>),
        (status = 400, body = ApiErrorBody), (status = 401, body = ApiErrorBody),
        (status = 403, body = ApiErrorBody)))]
pub(crate) async fn list(
    State(services): State<Services>,
    Admin(caller): Admin,
    ApiQuery(params): ApiQuery<ListParams>,
) -> ApiResult<Json<Paginated<ApplicationOut>>> {
    let query = params.query("slug")?;
    let page = service::list(&services, &caller, &query).await?;
    Ok(Json(Paginated::of(page, &query, ApplicationOut::from)))
}

/// Creates an application, with an OAuth2/OIDC provider when `oauth2` is given.
#[utoipa::path(post, path = "/api/v3/core/applications/", tag = "applications",
    request_body = ApplicationCreate,
    responses(
        (status = 201, body = ApplicationCreated),
        (status = 400, body = ApiErrorBody), (status = 401, body = ApiErrorBody),
        (status = 403, body = ApiErrorBody), (status = 404, body = ApiErrorBody),
        (status = 409, body = ApiErrorBody)))]
pub(crate) async fn create(
    State(services): State<Services>,
    Admin(caller): Admin,
    ApiJson(body): ApiJson<ApplicationCreate>,
) -> ApiResult<Response> {
    let app = NewApplication {
        slug: body.slug,
        name: body.name,
        launch_url: body.launch_url,
        allowed_groups: body.allowed_groups,
        oauth2: body
            .oauth2
            .map(OAuth2ProviderCreate::into_provider)
            .transpose()?,
    };
    let (app, client_secret) = service::create(&services, &caller, app).await?;
    let created = ApplicationCreated {
        application: app.into(),
        client_secret,
    };
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

/// Shows an application.
#[utoipa::path(get, path = "/api/v3/core/applications/{slug}/", tag = "applications",
    params(("slug" = String, Path, description = "The application's slug")),
    responses(
        (status = 200, body = ApplicationOut), (status = 401, body = ApiErrorBody),
        (status = 403, body = ApiErrorBody), (status = 404, body = ApiErrorBody)))]
pub(crate) async fn get(
    State(services): State<Services>,
    Admin(caller): Admin,
    Path(slug): Path<String>,
) -> ApiResult<Json<ApplicationOut>> {
    Ok(Json(
        service::get(&services, &caller, path_slug(&slug, "application")?)
            .await?
            .into(),
    ))
}

/// Changes an application and its OAuth2/OIDC provider; answers the application as stored.
#[utoipa::path(patch, path = "/api/v3/core/applications/{slug}/", tag = "applications",
    request_body = ApplicationUpdate,
    params(("slug" = String, Path, description = "The application's slug")),
    responses(
        (status = 200, body = ApplicationOut),
        (status = 400, body = ApiErrorBody), (status = 401, body = ApiErrorBody),
        (status = 403, body = ApiErrorBody), (status = 404, body = ApiErrorBody),
        (status = 409, body = ApiErrorBody)))]
pub(crate) async fn update(
    State(services): State<Services>,
    Admin(caller): Admin,
    Path(slug): Path<String>,
    ApiJson(body): ApiJson<ApplicationUpdate>,
) -> ApiResult<Json<ApplicationOut>> {
    let slug = path_slug(&slug, "application")?;
    let changes = ApplicationChanges {
        name: body.name,
        launch_url: body.launch_url,
        allowed_groups: body.allowed_groups,
        oauth2: body
            .oauth2
            .map(OAuth2ProviderUpdate::into_changes)
            .transpose()?,
    };
    Ok(Json(
        service::update(&services, &caller, slug, changes)
            .await?
            .into(),
    ))
}

/// Deletes an application with its provider and every token issued to it.
#[utoipa::path(delete, path = "/api/v3/core/applications/{slug}/", tag = "applications",
    params(("slug" = String, Path, description = "The application's slug")),
    responses(
        (status = 204), (status = 401, body = ApiErrorBody), (status = 403, body = ApiErrorBody),
        (status = 404, body = ApiErrorBody)))]
pub(crate) async fn delete(
    State(services): State<Services>,
    Admin(caller): Admin,
    Path(slug): Path<String>,
) -> ApiResult<Response> {
    service::delete(&services, &caller, path_slug(&slug, "application")?).await?;
    Ok(no_content())
}

/// Replaces a confidential client's secret with a generated one, returned only now.
#[utoipa::path(post, path = "/api/v3/core/applications/{slug}/rotate_secret/",
    tag = "applications",
    params(("slug" = String, Path, description = "The application's slug")),
    responses(
        (status = 200, body = ClientSecret), (status = 401, body = ApiErrorBody),
        (status = 403, body = ApiErrorBody), (status = 404, body = ApiErrorBody),
        (status = 409, body = ApiErrorBody)))]
pub(crate) async fn rotate_secret(
    State(services): State<Services>,
    Admin(caller): Admin,
    Path(slug): Path<String>,
) -> ApiResult<Json<ClientSecret>> {
    let client_secret =
        service::rotate_secret(&services, &caller, path_slug(&slug, "application")?).await?;
    Ok(Json(ClientSecret { client_secret }))
}
