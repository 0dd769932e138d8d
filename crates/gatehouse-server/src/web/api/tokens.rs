//! `/api/v3/core/tokens/`: API tokens (bearer credentials acting as a user).

use super::{Admin, ApiErrorBody, ApiJson, ApiQuery, ApiResult, Paginated, no_content, path_id};
use crate::admin::tokens as service;
use crate::services::Services;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use gatehouse_core::{Token, TokenIntent, UserId};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// An API token (never its secret).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TokenOut {
    id: Uuid,
    /// The user it acts as.
    user: Option<Uuid>,
    description: String,
    expires_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
}

impl From<Token> for TokenOut {
    fn from(t: Token) -> Self {
        Self {
            id: t.id.0,
            user: t.user_id.map(|u| u.0),
            description: t.description,
            expires_at: t.expires_at,
            created_at: t.created_at,
        }
    }
}

/// A new API token.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct TokenCreate {
    /// The user it acts as.
    user: Uuid,
    /// What it is for.
    description: String,
    /// When it stops working; never when absent.
    #[serde(default)]
    expires_at: Option<DateTime<Utc>>,
}

/// A created token and its secret, shown only now: send it as `Authorization: Bearer KEY`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TokenCreated {
    token: TokenOut,
    key: String,
}

/// List filters and paging for tokens.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct TokenParams {
    /// Only this user's tokens.
    user: Option<Uuid>,
    /// Page number, from 1.
    #[param(minimum = 1)]
    page: Option<u64>,
    /// Rows per page (1 to 500, default 50).
    #[param(minimum = 1, maximum = 500)]
    page_size: Option<u64>,
    /// Text to look for in descriptions.
    search: Option<String>,
    /// `created_at` (default) or `-created_at`.
    ordering: Option<String>,
}

/// Lists API tokens; `ordering`: `created_at` or `-created_at`; `search` matches descriptions.
#[utoipa::path(get, path = "/api/v3/core/tokens/", tag = "tokens", params(TokenParams),
    responses(
        (status = 200, body = Paginated<TokenOut>),
        (status = 400, body = ApiErrorBody), (status = 401, body = ApiErrorBody),
        (status = 403, body = ApiErrorBody)))]
pub(crate) async fn list(
    State(services): State<Services>,
    Admin(caller): Admin,
    ApiQuery(params): ApiQuery<TokenParams>,
) -> ApiResult<Json<Paginated<TokenOut>>> {
    let query = super::ListParams {
        page: params.page,
        page_size: params.page_size,
        search: params.search,
        ordering: params.ordering,
    }
    .query("created_at")?;
    let page = service::list(
        &services,
        &caller,
        params.user.map(UserId),
        &[TokenIntent::Api],
        &query,
    )
    .await?;
    Ok(Json(Paginated::of(page, &query, TokenOut::from)))
}

/// Creates an API token for a user; the secret is in the answer only.
#[utoipa::path(post, path = "/api/v3/core/tokens/", tag = "tokens", request_body = TokenCreate,
    responses(
        (status = 201, body = TokenCreated),
        (status = 400, body = ApiErrorBody), (status = 401, body = ApiErrorBody),
        (status = 403, body = ApiErrorBody)))]
pub(crate) async fn create(
    State(services): State<Services>,
    Admin(caller): Admin,
    ApiJson(body): ApiJson<TokenCreate>,
) -> ApiResult<Response> {
    let (token, key) = service::create(
        &services,
        &caller,
        UserId(body.user),
        TokenIntent::Api,
        body.description,
        super::plausible_time(body.expires_at, "expires_at")?,
    )
    .await?;
    let created = TokenCreated {
        token: token.into(),
        key,
    };
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

/// Deletes an API token; it stops working at once.
#[utoipa::path(delete, path = "/api/v3/core/tokens/{id}/", tag = "tokens",
    params(("id" = Uuid, Path, description = "The token's id")),
    responses(
        (status = 204), (status = 401, body = ApiErrorBody), (status = 403, body = ApiErrorBody),
        (status = 404, body = ApiErrorBody)))]
pub(crate) async fn delete(
    State(services): State<Services>,
    Admin(caller): Admin,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    service::delete(
        &services,
        &caller,
        path_id(&id, "token")?,
        &[TokenIntent::Api],
    )
    .await?;
    Ok(no_content())
}
