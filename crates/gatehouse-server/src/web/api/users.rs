//! `/api/v3/core/users/`: users, their password, recovery link, groups, sessions and MFA
//! devices.

use super::groups::GroupOut;
use super::{
    Admin, ApiErrorBody, ApiJson, ApiQuery, ApiResult, ListParams, Paginated, double_option,
    no_content, path_id,
};
use crate::admin::users::{self as service, UserDraft};
use crate::services::Services;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use gatehouse_core::{Device, Session, User, UserPatch, UserType};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

/// Person or service account.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum UserTypeOut {
    /// A person with a local account.
    Internal,
    /// A person known through an upstream source.
    External,
    /// A non-human principal.
    ServiceAccount,
}

impl From<UserType> for UserTypeOut {
    fn from(value: UserType) -> Self {
        match value {
            UserType::Internal => Self::Internal,
            UserType::External => Self::External,
            UserType::ServiceAccount => Self::ServiceAccount,
        }
    }
}

impl From<UserTypeOut> for UserType {
    fn from(value: UserTypeOut) -> Self {
        match value {
            UserTypeOut::Internal => Self::Internal,
            UserTypeOut::External => Self::External,
            UserTypeOut::ServiceAccount => Self::ServiceAccount,
        }
    }
}

/// A user (never its password hash).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct UserOut {
    id: Uuid,
    username: String,
    name: String,
    email: Option<String>,
    email_verified: bool,
    active: bool,
    #[serde(rename = "type")]
    user_type: UserTypeOut,
    /// Whether a password is set.
    has_password: bool,
    #[schema(value_type = Object)]
    attributes: Map<String, Value>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    last_login: Option<DateTime<Utc>>,
    /// Names of the user's direct groups; in list answers only.
    #[serde(skip_serializing_if = "Option::is_none")]
    groups: Option<Vec<String>>,
}

impl UserOut {
    /// A list entry: the user with its direct groups' names.
    fn listed((user, groups): (User, Vec<String>)) -> Self {
        Self {
            groups: Some(groups),
            ..Self::from(user)
        }
    }
}

impl From<User> for UserOut {
    fn from(user: User) -> Self {
        Self {
            id: user.id.0,
            has_password: user.password_hash.is_some(),
            username: user.username,
            name: user.name,
            email: user.email,
            email_verified: user.email_verified,
            active: user.active,
            user_type: user.user_type.into(),
            attributes: user.attributes,
            created_at: user.created_at,
            updated_at: user.updated_at,
            last_login: user.last_login,
            groups: None,
        }
    }
}

/// A new user.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct UserCreate {
    username: String,
    /// Display name; the username when absent.
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    email_verified: bool,
    /// Default true.
    #[serde(default)]
    active: Option<bool>,
    #[serde(rename = "type", default)]
    user_type: Option<UserTypeOut>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    attributes: Option<Map<String, Value>>,
    /// Direct groups, by name.
    #[serde(default)]
    groups: Vec<String>,
    /// An initial password (checked against the password policy).
    #[serde(default)]
    password: Option<String>,
}

/// Changes to a user; absent fields stay as they are, `email: null` clears the address.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub(crate) struct UserUpdate {
    #[serde(default)]
    name: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    email: Option<Option<String>>,
    #[serde(default)]
    email_verified: Option<bool>,
    /// `false` deactivates the user: it can no longer sign in or obtain tokens.
    #[serde(default)]
    active: Option<bool>,
    #[serde(rename = "type", default)]
    user_type: Option<UserTypeOut>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    attributes: Option<Map<String, Value>>,
}

/// A new password.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct PasswordSet {
    password: String,
}

/// A signed-in browser session.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SessionOut {
    id: Uuid,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    client_ip: Option<String>,
    user_agent: Option<String>,
    auth_time: DateTime<Utc>,
    /// How the user signed in (`pwd`, `otp`, `hwk`, ...).
    auth_methods: Vec<String>,
}

impl From<Session> for SessionOut {
    fn from(s: Session) -> Self {
        Self {
            id: s.id.0,
            created_at: s.created_at,
            expires_at: s.expires_at,
            client_ip: s.client_ip,
            user_agent: s.user_agent,
            auth_time: s.auth_time,
            auth_methods: s
                .auth_methods
                .iter()
                .map(|m| m.as_str().to_owned())
                .collect(),
        }
    }
}

/// An MFA device (never its secret).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DeviceOut {
    id: Uuid,
    /// `totp`, `webauthn`, ...
    kind: String,
    name: String,
    created_at: DateTime<Utc>,
    last_used_at: Option<DateTime<Utc>>,
}

impl From<Device> for DeviceOut {
    fn from(d: Device) -> Self {
        Self {
            id: d.id.0,
            kind: d.kind.as_str().to_owned(),
            name: d.name,
            created_at: d.created_at,
            last_used_at: d.last_used_at,
        }
    }
}

/// Lists users; `ordering`: `username` or `-username`.
#[utoipa::path(get, path = "/api/v3/core/users/", tag = "users", params(ListParams),
    responses(
        (status = 200, body = Paginated<UserOut>),
        (status = 400, body = ApiErrorBody), (status = 401, body = ApiErrorBody),
        (status = 403, body = ApiErrorBody)))]
pub(crate) async fn list(
    State(services): State<Services>,
    Admin(caller): Admin,
    ApiQuery(params): ApiQuery<ListParams>,
) -> ApiResult<Json<Paginated<UserOut>>> {
    let query = params.query("username")?;
    let page = service::list_with_groups(&services, &caller, &query).await?;
    Ok(Json(Paginated::of(page, &query, UserOut::listed)))
}

/// Creates a user.
#[utoipa::path(post, path = "/api/v3/core/users/", tag = "users", request_body = UserCreate,
    responses(
        (status = 201, body = UserOut),
        (status = 400, body = ApiErrorBody), (status = 401, body = ApiErrorBody),
        (status = 403, body = ApiErrorBody), (status = 409, body = ApiErrorBody)))]
pub(crate) async fn create(
    State(services): State<Services>,
    Admin(caller): Admin,
    ApiJson(body): ApiJson<UserCreate>,
) -> ApiResult<Response> {
    let draft = UserDraft {
        username: body.username,
        name: body.name.unwrap_or_default(),
        email: body.email,
        email_verified: body.email_verified,
        active: body.active.unwrap_or(true),
        user_type: body.user_type.map_or(UserType::Internal, Into::into),
        attributes: body.attributes.unwrap_or_default(),
        groups: body.groups,
        password: body.password,
    };
    let user = service::create(&services, &caller, draft).await?;
    Ok((StatusCode::CREATED, Json(UserOut::from(user))).into_response())
}

/// Shows a user.
#[utoipa::path(get, path = "/api/v3/core/users/{id}/", tag = "users",
    params(("id" = Uuid, Path, description = "The user's id")),
    responses(
        (status = 200, body = UserOut), (status = 401, body = ApiErrorBody),
        (status = 403, body = ApiErrorBody), (status = 404, body = ApiErrorBody)))]
pub(crate) async fn get(
    State(services): State<Services>,
    Admin(caller): Admin,
    Path(id): Path<String>,
) -> ApiResult<Json<UserOut>> {
    let user = service::get(&services, &caller, path_id(&id, "user")?).await?;
    Ok(Json(user.into()))
}

/// Changes a user (`active: false` deactivates it).
#[utoipa::path(patch, path = "/api/v3/core/users/{id}/", tag = "users", request_body = UserUpdate,
    params(("id" = Uuid, Path, description = "The user's id")),
    responses(
        (status = 200, body = UserOut), (status = 400, body = ApiErrorBody),
        (status = 401, body = ApiErrorBody), (status = 403, body = ApiErrorBody),
        (status = 404, body = ApiErrorBody)))]
pub(crate) async fn update(
    State(services): State<Services>,
    Admin(caller): Admin,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UserUpdate>,
) -> ApiResult<Json<UserOut>> {
    let id = path_id(&id, "user")?;
    let patch = UserPatch {
        name: body.name,
        email: body.email,
        email_verified: body.email_verified,
        active: body.active,
        user_type: body.user_type.map(Into::into),
        attributes: body.attributes,
    };
    let user = service::update(&services, &caller, id, patch).await?;
    Ok(Json(user.into()))
}

/// Deletes a user with its memberships, tokens and sessions.
#[utoipa::path(delete, path = "/api/v3/core/users/{id}/", tag = "users",
    params(("id" = Uuid, Path, description = "The user's id")),
    responses(
        (status = 204), (status = 401, body = ApiErrorBody), (status = 403, body = ApiErrorBody),
        (status = 404, body = ApiErrorBody), (status = 409, body = ApiErrorBody)))]
pub(crate) async fn delete(
    State(services): State<Services>,
    Admin(caller): Admin,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    service::delete(&services, &caller, path_id(&id, "user")?).await?;
    Ok(no_content())
}

/// Sets a user's password.
#[utoipa::path(post, path = "/api/v3/core/users/{id}/set_password/", tag = "users",
    request_body = PasswordSet,
    params(("id" = Uuid, Path, description = "The user's id")),
    responses(
        (status = 204), (status = 400, body = ApiErrorBody), (status = 401, body = ApiErrorBody),
        (status = 403, body = ApiErrorBody), (status = 404, body = ApiErrorBody)))]
pub(crate) async fn set_password(
    State(services): State<Services>,
    Admin(caller): Admin,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PasswordSet>,
) -> ApiResult<Response> {
    let id = path_id(&id, "user")?;
    service::set_password(&services, &caller, id, body.password).await?;
    Ok(no_content())
}

/// Emails the user a password recovery link (needs `email.host`).
#[utoipa::path(post, path = "/api/v3/core/users/{id}/recovery_email/", tag = "users",
    params(("id" = Uuid, Path, description = "The user's id")),
    responses(
        (status = 202), (status = 401, body = ApiErrorBody), (status = 403, body = ApiErrorBody),
        (status = 404, body = ApiErrorBody), (status = 409, body = ApiErrorBody)))]
pub(crate) async fn send_recovery(
    State(services): State<Services>,
    Admin(caller): Admin,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    service::send_recovery(&services, &caller, path_id(&id, "user")?).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

/// A user's direct groups.
#[utoipa::path(get, path = "/api/v3/core/users/{id}/groups/", tag = "users",
    params(("id" = Uuid, Path, description = "The user's id")),
    responses(
        (status = 200, body = Vec<GroupOut>), (status = 401, body = ApiErrorBody),
        (status = 403, body = ApiErrorBody), (status = 404, body = ApiErrorBody)))]
pub(crate) async fn groups(
    State(services): State<Services>,
    Admin(caller): Admin,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<GroupOut>>> {
    let groups = service::groups(&services, &caller, path_id(&id, "user")?).await?;
    Ok(Json(groups.into_iter().map(GroupOut::from).collect()))
}

/// A user's live sessions.
#[utoipa::path(get, path = "/api/v3/core/users/{id}/sessions/", tag = "users",
    params(("id" = Uuid, Path, description = "The user's id")),
    responses(
        (status = 200, body = Vec<SessionOut>), (status = 401, body = ApiErrorBody),
        (status = 403, body = ApiErrorBody), (status = 404, body = ApiErrorBody)))]
pub(crate) async fn sessions(
    State(services): State<Services>,
    Admin(caller): Admin,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<SessionOut>>> {
    let sessions = service::sessions(&services, &caller, path_id(&id, "user")?).await?;
    Ok(Json(sessions.into_iter().map(SessionOut::from).collect()))
}

/// Ends one of a user's sessions.
#[utoipa::path(delete, path = "/api/v3/core/users/{id}/sessions/{session_id}/", tag = "users",
    params(("id" = Uuid, Path, description = "The user's id"),
        ("session_id" = Uuid, Path, description = "The session's id")),
    responses(
        (status = 204), (status = 401, body = ApiErrorBody), (status = 403, body = ApiErrorBody),
        (status = 404, body = ApiErrorBody)))]
pub(crate) async fn revoke_session(
    State(services): State<Services>,
    Admin(caller): Admin,
    Path((id, session)): Path<(String, String)>,
) -> ApiResult<Response> {
    let id = path_id(&id, "user")?;
    let session = path_id(&session, "session")?;
    service::revoke_session(&services, &caller, id, session).await?;
    Ok(no_content())
}

/// A user's MFA devices.
#[utoipa::path(get, path = "/api/v3/core/users/{id}/devices/", tag = "users",
    params(("id" = Uuid, Path, description = "The user's id")),
    responses(
        (status = 200, body = Vec<DeviceOut>), (status = 401, body = ApiErrorBody),
        (status = 403, body = ApiErrorBody), (status = 404, body = ApiErrorBody)))]
pub(crate) async fn devices(
    State(services): State<Services>,
    Admin(caller): Admin,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<DeviceOut>>> {
    let devices = service::devices(&services, &caller, path_id(&id, "user")?).await?;
    Ok(Json(devices.into_iter().map(DeviceOut::from).collect()))
}

/// Removes one of a user's MFA devices.
#[utoipa::path(delete, path = "/api/v3/core/users/{id}/devices/{device_id}/", tag = "users",
    params(("id" = Uuid, Path, description = "The user's id"),
        ("device_id" = Uuid, Path, description = "The device's id")),
    responses(
        (status = 204), (status = 401, body = ApiErrorBody), (status = 403, body = ApiErrorBody),
        (status = 404, body = ApiErrorBody)))]
pub(crate) async fn remove_device(
    State(services): State<Services>,
    Admin(caller): Admin,
    Path((id, device)): Path<(String, String)>,
) -> ApiResult<Response> {
    let id = path_id(&id, "user")?;
    let device = path_id(&device, "device")?;
    service::remove_device(&services, &caller, id, device).await?;
    Ok(no_content())
}
