//! `/api/v3/core/invitations/`: enrollment invitations.

use super::{
    Admin, ApiErrorBody, ApiJson, ApiQuery, ApiResult, ListParams, Paginated, no_content, path_id,
};
use crate::admin::invitations as service;
use crate::invitations::InvitationRequest;
use crate::services::Services;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use gatehouse_core::Invitation;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// An invitation (never its link, which is shown once at creation).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct InvitationOut {
    id: Uuid,
    /// The enrollment flow it opens.
    flow: String,
    single_use: bool,
    /// The fixed email address of the new account, if any.
    email: Option<String>,
    /// Groups the new account joins.
    groups: Vec<String>,
    expires_at: Option<DateTime<Utc>>,
    created_by: Option<Uuid>,
    created_by_name: String,
    created_at: DateTime<Utc>,
    /// Accounts created with it so far.
    use_count: i64,
    last_used_at: Option<DateTime<Utc>>,
}

impl From<Invitation> for InvitationOut {
    fn from(i: Invitation) -> Self {
        Self {
            id: i.id.0,
            email: i
                .fixed_data
                .get("email")
                .and_then(|v| v.as_str())
                .map(str::to_owned),
            flow: i.flow_slug,
            single_use: i.single_use,
            groups: i.groups,
            expires_at: i.expires_at,
            created_by: i.created_by.map(|u| u.0),
            created_by_name: i.created_by_name,
            created_at: i.created_at,
            use_count: i.use_count,
            last_used_at: i.last_used_at,
        }
    }
}

/// A new invitation.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct InvitationCreate {
    /// The enrollment flow (default `default-enrollment-flow`).
    #[serde(default)]
    flow: Option<String>,
    /// The new account's email address, fixed on the form.
    #[serde(default)]
    email: Option<String>,
    /// Groups the new account joins.
    #[serde(default)]
    groups: Vec<String>,
    /// When the link stops working; never when absent.
    #[serde(default)]
    expires_at: Option<DateTime<Utc>>,
    /// Let several people enroll with the link.
    #[serde(default)]
    multi_use: bool,
}

/// A created invitation and its link (shown only now).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct InvitationCreated {
    invitation: InvitationOut,
    link: String,
}

/// Lists invitations; `ordering`: `created_at` or `-created_at`.
#[utoipa::path(get, path = "/api/v3/core/invitations/", tag = "invitations", params(ListParams),
    responses(
        (status = 200, body = Paginated<InvitationOut>),
        (status = 400, body = ApiErrorBody), (status = 401, body = ApiErrorBody),
        (status = 403, body = ApiErrorBody)))]
pub(crate) async fn list(
    State(services): State<Services>,
    Admin(caller): Admin,
    ApiQuery(params): ApiQuery<ListParams>,
) -> ApiResult<Json<Paginated<InvitationOut>>> {
    let query = params.query("created_at")?;
    let page = service::list(&services, &caller, &query).await?;
    Ok(Json(Paginated::of(page, &query, InvitationOut::from)))
}

/// Creates an invitation.
#[utoipa::path(post, path = "/api/v3/core/invitations/", tag = "invitations",
    request_body = InvitationCreate,
    responses(
        (status = 201, body = InvitationCreated),
        (status = 400, body = ApiErrorBody), (status = 401, body = ApiErrorBody),
        (status = 403, body = ApiErrorBody)))]
pub(crate) async fn create(
    State(services): State<Services>,
    Admin(caller): Admin,
    ApiJson(body): ApiJson<InvitationCreate>,
) -> ApiResult<Response> {
    let request = InvitationRequest {
        flow: body.flow,
        email: body.email,
        groups: body.groups,
        expires_at: super::plausible_time(body.expires_at, "expires_at")?,
        multi_use: body.multi_use,
        created_by: None,
    };
    let issued = service::create(&services, &caller, request).await?;
    let created = InvitationCreated {
        invitation: issued.invitation.into(),
        link: issued.link,
    };
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

/// Deletes an invitation; its link stops working.
#[utoipa::path(delete, path = "/api/v3/core/invitations/{id}/", tag = "invitations",
    params(("id" = Uuid, Path, description = "The invitation's id")),
    responses(
        (status = 204), (status = 401, body = ApiErrorBody), (status = 403, body = ApiErrorBody),
        (status = 404, body = ApiErrorBody)))]
pub(crate) async fn delete(
    State(services): State<Services>,
    Admin(caller): Admin,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    service::delete(&services, &caller, path_id(&id, "invitation")?).await?;
    Ok(no_content())
}
