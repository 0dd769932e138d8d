//! `/api/v3/flows/`: flows and their stages in order (read-only; change them with `apply`).

use super::{Admin, ApiErrorBody, ApiQuery, ApiResult, ListParams, Paginated, path_slug};
use crate::admin::flows as service;
use crate::services::Services;
use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use gatehouse_core::FlowDefinition;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// A flow: its slug and its definition (designation, stages in order, policies), in the
/// form `gatehouse apply` accepts (see docs/flows.md).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct FlowOut {
    slug: String,
    #[schema(value_type = Object)]
    definition: Value,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<FlowDefinition> for FlowOut {
    fn from(f: FlowDefinition) -> Self {
        Self {
            slug: f.slug,
            definition: f.definition,
            created_at: f.created_at,
            updated_at: f.updated_at,
        }
    }
}

/// Lists flows; `ordering`: `slug` or `-slug`.
#[utoipa::path(get, path = "/api/v3/flows/", tag = "flows", params(ListParams),
    responses(
        (status = 200, body = Paginated<FlowOut>),
        (status = 400, body = ApiErrorBody), (status = 401, body = ApiErrorBody),
        (status = 403, body = ApiErrorBody)))]
pub(crate) async fn list(
    State(services): State<Services>,
    Admin(caller): Admin,
    ApiQuery(params): ApiQuery<ListParams>,
) -> ApiResult<Json<Paginated<FlowOut>>> {
    let query = params.query("slug")?;
    let page = service::list(&services, &caller, &query).await?;
    Ok(Json(Paginated::of(page, &query, FlowOut::from)))
}

/// Shows a flow.
#[utoipa::path(get, path = "/api/v3/flows/{slug}/", tag = "flows",
    params(("slug" = String, Path, description = "The flow's slug")),
    responses(
        (status = 200, body = FlowOut), (status = 401, body = ApiErrorBody),
        (status = 403, body = ApiErrorBody), (status = 404, body = ApiErrorBody)))]
pub(crate) async fn get(
    State(services): State<Services>,
    Admin(caller): Admin,
    Path(slug): Path<String>,
) -> ApiResult<Json<FlowOut>> {
    Ok(Json(
        service::get(&services, &caller, path_slug(&slug, "flow")?)
            .await?
            .into(),
    ))
}
