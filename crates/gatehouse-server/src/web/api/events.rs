//! `/api/v3/events/`: the audit log, filtered by action, actor, client address and time.

use super::{Admin, ApiErrorBody, ApiQuery, ApiResult, Paginated};
use crate::admin::{AdminError, events as service};
use crate::services::Services;
use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use gatehouse_core::{Event, EventAction, EventQuery, UserId};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// An audit event.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct EventOut {
    id: Uuid,
    /// `login`, `login_failed`, `model_created`, ...
    action: String,
    /// The acting user's id.
    actor_id: Option<Uuid>,
    /// The acting user's name, or a label such as `cli:root` or `system`.
    actor: String,
    client_ip: Option<String>,
    user_agent: Option<String>,
    /// Details (model, pk, name, changed fields); never secrets.
    #[schema(value_type = Object)]
    context: Map<String, Value>,
    created_at: DateTime<Utc>,
}

impl From<Event> for EventOut {
    fn from(e: Event) -> Self {
        Self {
            id: e.id.0,
            action: e.action.as_str().into(),
            actor_id: e.actor_id.map(|u| u.0),
            actor: e.actor,
            client_ip: e.client_ip,
            user_agent: e.user_agent,
            context: e.context,
            created_at: e.created_at,
        }
    }
}

/// Event filters and paging.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct EventParams {
    /// Only this action (`login`, `login_failed`, `model_created`, ...).
    action: Option<String>,
    /// Only events by this user (the actor's id).
    user: Option<Uuid>,
    /// Only events from this client address.
    client_ip: Option<String>,
    /// Only events at or after this time (RFC 3339).
    since: Option<DateTime<Utc>>,
    /// Only events before this time (RFC 3339).
    until: Option<DateTime<Utc>>,
    /// Page number, from 1.
    #[param(minimum = 1)]
    page: Option<u64>,
    /// Rows per page (1 to 500, default 50).
    #[param(minimum = 1, maximum = 500)]
    page_size: Option<u64>,
    /// `-created_at` (default, newest first) or `created_at`.
    ordering: Option<String>,
}

/// Lists audit events, newest first.
#[utoipa::path(get, path = "/api/v3/events/", tag = "events", params(EventParams),
    responses(
        (status = 200, body = Paginated<EventOut>),
        (status = 400, body = ApiErrorBody), (status = 401, body = ApiErrorBody),
        (status = 403, body = ApiErrorBody)))]
pub(crate) async fn list(
    State(services): State<Services>,
    Admin(caller): Admin,
    ApiQuery(params): ApiQuery<EventParams>,
) -> ApiResult<Json<Paginated<EventOut>>> {
    let paging = super::ListParams {
        page: params.page,
        page_size: params.page_size,
        search: None,
        ordering: params.ordering.clone(),
    }
    .ordered("created_at", true)?;
    let action = params
        .action
        .as_deref()
        .map(|name| {
            EventAction::parse(name)
                .ok_or_else(|| AdminError::field("action", format!("unknown action {name:?}")))
        })
        .transpose()?;
    let query = EventQuery {
        action,
        actor_id: params.user.map(UserId),
        client_ip: params.client_ip.filter(|ip| !ip.is_empty()),
        since: super::plausible_time(params.since, "since")?,
        until: super::plausible_time(params.until, "until")?,
        limit: paging.limit,
        offset: paging.offset,
        oldest_first: paging.descending,
    };
    let page = service::list(&services, &caller, &query).await?;
    Ok(Json(Paginated::of(page, &paging, EventOut::from)))
}
