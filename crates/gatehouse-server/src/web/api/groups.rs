//! `/api/v3/core/groups/`: groups, their parent and members.

use super::users::UserOut;
use super::{
    Admin, ApiErrorBody, ApiJson, ApiQuery, ApiResult, ListParams, Paginated, double_option,
    no_content, path_id,
};
use crate::admin::groups as service;
use crate::services::Services;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use gatehouse_core::{Group, GroupPatch, NewGroup};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

/// A group. `attributes.gatehouse_admin_roles` lists the admin roles its members get.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct GroupOut {
    id: Uuid,
    name: String,
    /// The parent group's id.
    parent: Option<Uuid>,
    /// Members administer Gatehouse.
    is_superuser: bool,
    #[schema(value_type = Object)]
    attributes: Map<String, Value>,
    created_at: DateTime<Utc>,
}

impl From<Group> for GroupOut {
    fn from(g: Group) -> Self {
        Self {
            id: g.id.0,
            name: g.name,
            parent: g.parent_id.map(|p| p.0),
            is_superuser: g.is_superuser,
            attributes: g.attributes,
            created_at: g.created_at,
        }
    }
}

/// A new group.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct GroupCreate {
    name: String,
    /// The parent group's name.
    #[serde(default)]
    parent: Option<String>,
    #[serde(default)]
    is_superuser: bool,
    /// Free-form; `gatehouse_admin_roles: ["auditor" | "user_manager"]` grants admin roles.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    attributes: Option<Map<String, Value>>,
}

/// Changes to a group; absent fields stay, `parent: null` makes it a root group.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct GroupUpdate {
    #[serde(default)]
    name: Option<String>,
    /// The new parent's name.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    parent: Option<Option<String>>,
    #[serde(default)]
    is_superuser: Option<bool>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    attributes: Option<Map<String, Value>>,
}

/// A user to add to a group.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct MemberAdd {
    /// The user's id.
    user: Uuid,
}

/// Lists groups; `ordering`: `name` or `-name`.
#[utoipa::path(get, path = "/api/v3/core/groups/", tag = "groups", params(ListParams),
    responses(
        (status = 200, body = Paginated<GroupOut>),
        (status = 400, body = ApiErrorBody), (status = 401, body = ApiErrorBody),
        (status = 403, body = ApiErrorBody)))]
pub(crate) async fn list(
    State(services): State<Services>,
    Admin(caller): Admin,
    ApiQuery(params): ApiQuery<ListParams>,
) -> ApiResult<Json<Paginated<GroupOut>>> {
    let query = params.query("name")?;
    let page = service::list(&services, &caller, &query).await?;
    Ok(Json(Paginated::of(page, &query, GroupOut::from)))
}

/// Creates a group.
#[utoipa::path(post, path = "/api/v3/core/groups/", tag = "groups", request_body = GroupCreate,
    responses(
        (status = 201, body = GroupOut),
        (status = 400, body = ApiErrorBody), (status = 401, body = ApiErrorBody),
        (status = 403, body = ApiErrorBody), (status = 409, body = ApiErrorBody)))]
pub(crate) async fn create(
    State(services): State<Services>,
    Admin(caller): Admin,
    ApiJson(body): ApiJson<GroupCreate>,
) -> ApiResult<Response> {
    let group = NewGroup {
        name: body.name,
        parent: body.parent,
        is_superuser: body.is_superuser,
        attributes: body.attributes.unwrap_or_default(),
    };
    let group = service::create(&services, &caller, group).await?;
    Ok((StatusCode::CREATED, Json(GroupOut::from(group))).into_response())
}

/// Shows a group.
#[utoipa::path(get, path = "/api/v3/core/groups/{id}/", tag = "groups",
    params(("id" = Uuid, Path, description = "The group's id")),
    responses(
        (status = 200, body = GroupOut), (status = 401, body = ApiErrorBody),
        (status = 403, body = ApiErrorBody), (status = 404, body = ApiErrorBody)))]
pub(crate) async fn get(
    State(services): State<Services>,
    Admin(caller): Admin,
    Path(id): Path<String>,
) -> ApiResult<Json<GroupOut>> {
    let group = service::get(&services, &caller, path_id(&id, "group")?).await?;
    Ok(Json(group.into()))
}

/// Changes a group.
#[utoipa::path(patch, path = "/api/v3/core/groups/{id}/", tag = "groups",
    request_body = GroupUpdate,
    params(("id" = Uuid, Path, description = "The group's id")),
    responses(
        (status = 200, body = GroupOut), (status = 400, body = ApiErrorBody),
        (status = 401, body = ApiErrorBody), (status = 403, body = ApiErrorBody),
        (status = 404, body = ApiErrorBody), (status = 409, body = ApiErrorBody)))]
pub(crate) async fn update(
    State(services): State<Services>,
    Admin(caller): Admin,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<GroupUpdate>,
) -> ApiResult<Json<GroupOut>> {
    let id = path_id(&id, "group")?;
    let patch = GroupPatch {
        name: body.name,
        parent: body.parent,
        is_superuser: body.is_superuser,
        attributes: body.attributes,
    };
    let group = service::update(&services, &caller, id, patch).await?;
    Ok(Json(group.into()))
}

/// Deletes a group; its children move up to its parent.
#[utoipa::path(delete, path = "/api/v3/core/groups/{id}/", tag = "groups",
    params(("id" = Uuid, Path, description = "The group's id")),
    responses(
        (status = 204), (status = 401, body = ApiErrorBody), (status = 403, body = ApiErrorBody),
        (status = 404, body = ApiErrorBody), (status = 409, body = ApiErrorBody)))]
pub(crate) async fn delete(
    State(services): State<Services>,
    Admin(caller): Admin,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    service::delete(&services, &caller, path_id(&id, "group")?).await?;
    Ok(no_content())
}

/// A page of a group's direct members; `search` and `ordering` (`username` or `-username`)
/// as on the users list.
#[utoipa::path(get, path = "/api/v3/core/groups/{id}/members/", tag = "groups",
    params(("id" = Uuid, Path, description = "The group's id"), ListParams),
    responses(
        (status = 200, body = Paginated<UserOut>),
        (status = 400, body = ApiErrorBody), (status = 401, body = ApiErrorBody),
        (status = 403, body = ApiErrorBody), (status = 404, body = ApiErrorBody)))]
pub(crate) async fn members(
    State(services): State<Services>,
    Admin(caller): Admin,
    Path(id): Path<String>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> ApiResult<Json<Paginated<UserOut>>> {
    let query = params.query("username")?;
    let page = service::members(&services, &caller, path_id(&id, "group")?, &query).await?;
    Ok(Json(Paginated::of(page, &query, UserOut::from)))
}

/// Adds a direct member (no change if it is one already).
#[utoipa::path(post, path = "/api/v3/core/groups/{id}/members/", tag = "groups",
    request_body = MemberAdd,
    params(("id" = Uuid, Path, description = "The group's id")),
    responses(
        (status = 204), (status = 400, body = ApiErrorBody), (status = 401, body = ApiErrorBody),
        (status = 403, body = ApiErrorBody), (status = 404, body = ApiErrorBody)))]
pub(crate) async fn add_member(
    State(services): State<Services>,
    Admin(caller): Admin,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<MemberAdd>,
) -> ApiResult<Response> {
    let id = path_id(&id, "group")?;
    service::add_member(&services, &caller, id, gatehouse_core::UserId(body.user)).await?;
    Ok(no_content())
}

/// Removes a direct member (no change if it is not one).
#[utoipa::path(delete, path = "/api/v3/core/groups/{id}/members/{user_id}/", tag = "groups",
    params(("id" = Uuid, Path, description = "The group's id"),
        ("user_id" = Uuid, Path, description = "The user's id")),
    responses(
        (status = 204), (status = 401, body = ApiErrorBody), (status = 403, body = ApiErrorBody),
        (status = 404, body = ApiErrorBody)))]
pub(crate) async fn remove_member(
    State(services): State<Services>,
    Admin(caller): Admin,
    Path((id, user)): Path<(String, String)>,
) -> ApiResult<Response> {
    let id = path_id(&id, "group")?;
    let user = path_id(&user, "user")?;
    service::remove_member(&services, &caller, id, user).await?;
    Ok(no_content())
}
