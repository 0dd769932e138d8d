//! The admin REST API under `/api/v3/`: authentication (bearer API token or session cookie
//! with a CSRF header), the shared error body and pagination, and the OpenAPI 3 document
//! generated from the handlers (utoipa), served at `/api/v3/schema/` with a browsable UI at
//! `/api/v3/docs/`. Handlers are thin: they parse, call one [`crate::admin`] service, and
//! render. One file per resource.

mod applications;
mod events;
mod flows;
mod groups;
mod invitations;
mod keys;
mod sources;
mod tokens;
mod users;

use super::client::ClientIp;
use crate::admin::{AdminError, Caller};
use crate::services::Services;
use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use gatehouse_core::{AuditContext, ListQuery, TokenIntent};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoParams, Modify, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The header carrying the CSRF token on unsafe requests authenticated by session cookie.
pub(crate) const CSRF_HEADER: &str = "x-csrf-token";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Gatehouse admin API",
        version = "3",
        description = "Manage users, groups, applications, upstream sources, tokens, invitations, keys, flows and the audit log. See docs/api.md."
    ),
    modifiers(&SecuritySchemes),
    security(("bearer" = []), ("session" = [])),
    components(schemas(ApiErrorBody, Pagination))
)]
struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API token (`gatehouse user api-token create`)."))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "gatehouse_session",
                "The browser session; unsafe methods also need the X-CSRF-Token header.",
            ))),
        );
    }
}

/// The API routes and the OpenAPI document describing them.
fn api_parts() -> (axum::Router<Services>, utoipa::openapi::OpenApi) {
    let (routes, document) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(users::list, users::create))
        .routes(routes!(users::get, users::update, users::delete))
        .routes(routes!(users::set_password))
        .routes(routes!(users::send_recovery))
        .routes(routes!(users::groups))
        .routes(routes!(users::sessions))
        .routes(routes!(users::revoke_session))
        .routes(routes!(users::devices))
        .routes(routes!(users::remove_device))
        .routes(routes!(groups::list, groups::create))
        .routes(routes!(groups::get, groups::update, groups::delete))
        .routes(routes!(groups::members, groups::add_member))
        .routes(routes!(groups::remove_member))
        .routes(routes!(applications::list, applications::create))
        .routes(routes!(
            applications::get,
            applications::update,
            applications::delete
        ))
        .routes(routes!(applications::rotate_secret))
        .routes(routes!(tokens::list, tokens::create))
        .routes(routes!(tokens::delete))
        .routes(routes!(invitations::list, invitations::create))
        .routes(routes!(invitations::delete))
        .routes(routes!(keys::list))
        .routes(routes!(keys::rotate))
        .routes(routes!(keys::import))
        .routes(routes!(events::list))
        .routes(routes!(flows::list))
        .routes(routes!(flows::get))
        .routes(routes!(sources::list, sources::create))
        .routes(routes!(sources::get, sources::update, sources::delete))
        .routes(routes!(sources::connections))
        .routes(routes!(sources::remove_connection))
        .split_for_parts();
    (routes, with_unique_operation_ids(document))
}

/// Prefixes each operation id (the handler's name, `list`, `get`...) with its tag, so ids
/// are unique across resources as OpenAPI requires (`users_list`, `groups_list`...).
fn with_unique_operation_ids(mut document: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    for item in document.paths.paths.values_mut() {
        for operation in [
            &mut item.get,
            &mut item.post,
            &mut item.patch,
            &mut item.put,
            &mut item.delete,
        ]
        .into_iter()
        .flatten()
        {
            let tag = operation
                .tags
                .as_ref()
                .and_then(|tags| tags.first())
                .cloned()
                .unwrap_or_default();
            if let Some(id) = operation.operation_id.as_mut() {
                *id = format!("{tag}_{id}");
            }
        }
    }
    document
}

/// The OpenAPI 3 document of the admin API, as committed in `openapi.json`.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    api_parts().1
}

/// The `/api/v3/` router: resources, the schema and its browsable UI.
pub(crate) fn router() -> axum::Router<Services> {
    let (routes, document) = api_parts();
    let schema = document.clone();
    routes
        .route(
            "/api/v3/schema/",
            axum::routing::get(move || {
                let schema = schema.clone();
                async move { Json(schema) }
            }),
        )
        // Swagger UI from the `vendored` feature: its files are in the binary, nothing is
        // fetched at build or run time.
        .merge(
            utoipa_swagger_ui::SwaggerUi::new("/api/v3/docs")
                .url("/api/v3/docs/openapi.json", document),
        )
}

/// The error body of every non-2xx answer: a message and, for 400, messages per field.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ApiErrorBody {
    /// What went wrong, for people.
    detail: String,
    /// Field name to messages (empty unless the input broke field rules).
    fields: BTreeMap<String, Vec<String>>,
}

/// An [`AdminError`] as an HTTP answer.
pub(crate) struct ApiError(AdminError);

impl From<AdminError> for ApiError {
    fn from(error: AdminError) -> Self {
        Self(error)
    }
}

impl From<gatehouse_core::StoreError> for ApiError {
    fn from(error: gatehouse_core::StoreError) -> Self {
        Self(error.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, fields) = match &self.0 {
            AdminError::Unauthenticated => (StatusCode::UNAUTHORIZED, BTreeMap::new()),
            AdminError::Forbidden(_) => (StatusCode::FORBIDDEN, BTreeMap::new()),
            AdminError::Invalid(fields) => (StatusCode::BAD_REQUEST, fields.clone()),
            AdminError::NotFound(_) => (StatusCode::NOT_FOUND, BTreeMap::new()),
            AdminError::Conflict(_) => (StatusCode::CONFLICT, BTreeMap::new()),
            AdminError::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, BTreeMap::new()),
            AdminError::Internal => (StatusCode::INTERNAL_SERVER_ERROR, BTreeMap::new()),
        };
        let detail = match &self.0 {
            AdminError::Invalid(fields) => fields
                .iter()
                .map(|(field, messages)| format!("{field}: {}", messages.join("; ")))
                .collect::<Vec<_>>()
                .join(", "),
            other => other.to_string(),
        };
        let mut response = (status, Json(ApiErrorBody { detail, fields })).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"gatehouse\""),
            );
        }
        response
    }
}

/// Handler results.
pub(crate) type ApiResult<T> = Result<T, ApiError>;

/// The authenticated administrator of a request. Bearer API tokens are looked up by keyed
/// digest (an index lookup on a MAC of the secret, so timing reveals nothing about it);
/// session cookies are accepted too, with the CSRF header on unsafe methods.
pub(crate) struct Admin(pub(crate) Caller);

impl FromRequestParts<Services> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        services: &Services,
    ) -> Result<Self, Self::Rejection> {
        let client_ip = parts.extensions.get::<ClientIp>().map(|ip| ip.to_string());
        let audit = AuditContext {
            actor_id: None,
            actor: String::new(),
            client_ip,
            user_agent: parts
                .headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.chars().take(300).collect()),
        };
        let user = match bearer(&parts.headers)? {
            Some(secret) => {
                let digest = services.digester.digest(secret);
                let token = services
                    .store
                    .token_by_digest(TokenIntent::Api, &digest)
                    .await?
                    .filter(|t| t.is_valid_at(Utc::now()))
                    .ok_or(AdminError::Unauthenticated)?;
                let owner = token.user_id.ok_or(AdminError::Unauthenticated)?;
                services
                    .store
                    .user_by_id(owner)
                    .await?
                    .filter(|u| u.active)
                    .ok_or(AdminError::Unauthenticated)?
            }
            None => {
                let (_, user) = super::session::current(services, &parts.headers)
                    .await?
                    .ok_or(AdminError::Unauthenticated)?;
                if !is_safe(&parts.method) {
                    let token = parts
                        .headers
                        .get(CSRF_HEADER)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("");
                    if !super::csrf::verify(services, &parts.headers, token) {
                        return Err(AdminError::Forbidden(
                            "missing or invalid X-CSRF-Token header".into(),
                        )
                        .into());
                    }
                }
                user
            }
        };
        Ok(Self(Caller::resolve(services, user, audit).await?))
    }
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The bearer secret, if the request has an `Authorization: Bearer` header; another scheme
/// or a malformed header is a 401 (no silent fallback to the cookie).
fn bearer(headers: &HeaderMap) -> Result<Option<&str>, AdminError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| AdminError::Unauthenticated)?;
    match value.split_once(' ') {
        Some((scheme, secret))
            if scheme.eq_ignore_ascii_case("bearer")
                && !secret.trim().is_empty()
                && secret.trim().len() <= 256 =>
        {
            Ok(Some(secret.trim()))
        }
        _ => Err(AdminError::Unauthenticated),
    }
}

/// A JSON body whose rejections are 400s in the API's error shape.
pub(crate) struct ApiJson<T>(pub(crate) T);

impl<T: DeserializeOwned> FromRequest<Services> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, services: &Services) -> Result<Self, Self::Rejection> {
        // Databases refuse NUL characters in text; refuse them here, as bad input.
        let (parts, body) = request.into_parts();
        let bytes = axum::body::to_bytes(body, MAX_BODY)
            .await
            .map_err(|_| AdminError::field("body", "too large or unreadable"))?;
        if contains_nul_escape(&bytes) {
            return Err(AdminError::field("body", "must not contain NUL characters").into());
        }
        let request = Request::from_parts(parts, axum::body::Body::from(bytes));
        match Json::<T>::from_request(request, services).await {
            Ok(Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_rejection(&rejection).into()),
        }
    }
}

/// The largest request body the API reads.
const MAX_BODY: usize = 1024 * 1024;

/// Whether a JSON text holds an escaped NUL (`\u0000`; a raw one is invalid JSON anyway).
fn contains_nul_escape(bytes: &[u8]) -> bool {
    bytes
        .windows(6)
        .any(|w| w[0] == b'\\' && w[1] == b'u' && &w[2..] == b"0000")
}

fn json_rejection(rejection: &JsonRejection) -> AdminError {
    let text = rejection.body_text();
    if let JsonRejection::JsonDataError(_) = rejection {
        // "Failed to deserialize the JSON body into the target type: FIELD: message"
        if let Some((_, rest)) = text.split_once("target type: ")
            && let Some((field, message)) = rest.split_once(": ")
            && !field.contains(' ')
        {
            return AdminError::field(field, message);
        }
    }
    AdminError::field("body", text)
}

/// Query parameters whose rejections are 400s in the API's error shape.
pub(crate) struct ApiQuery<T>(pub(crate) T);

impl<T: DeserializeOwned + Send> FromRequestParts<Services> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        services: &Services,
    ) -> Result<Self, Self::Rejection> {
        let raw = parts.uri.query().unwrap_or("");
        if raw.contains("%00") || raw.contains('\0') {
            return Err(AdminError::field("query", "must not contain NUL characters").into());
        }
        match axum::extract::Query::<T>::from_request_parts(parts, services).await {
            Ok(axum::extract::Query(value)) => Ok(Self(value)),
            Err(rejection) => Err(query_rejection(&rejection).into()),
        }
    }
}

fn query_rejection(rejection: &QueryRejection) -> AdminError {
    let text = rejection.body_text();
    let message = text
        .split_once("Failed to deserialize query string: ")
        .map_or(text.as_str(), |(_, rest)| rest);
    AdminError::field("query", message)
}

/// `page`, `page_size`, `search` and `ordering`, accepted by every list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListParams {
    /// Page number, from 1.
    #[param(minimum = 1)]
    page: Option<u64>,
    /// Rows per page (1 to 500, default 50).
    #[param(minimum = 1, maximum = 500)]
    page_size: Option<u64>,
    /// Case-insensitive text to look for (names, and emails for users).
    search: Option<String>,
    /// The list's sort field, `-` in front for descending (each list names its fields).
    ordering: Option<String>,
}

impl ListParams {
    /// The store query for a list naturally in ascending `field` order.
    fn query(&self, field: &str) -> Result<ListQuery, AdminError> {
        self.ordered(field, false)
    }

    /// The store query, checking the page bounds and that `ordering` is `field` or `-field`;
    /// `natural_descending` says the store lists by descending `field` (newest first).
    fn ordered(&self, field: &str, natural_descending: bool) -> Result<ListQuery, AdminError> {
        let page = self.page.unwrap_or(1);
        if page == 0 || page > 1_000_000 {
            return Err(AdminError::field("page", "must be between 1 and 1000000"));
        }
        let page_size = self.page_size.unwrap_or(gatehouse_core::list::DEFAULT_PAGE);
        if !(1..=gatehouse_core::list::MAX_PAGE).contains(&page_size) {
            return Err(AdminError::field("page_size", "must be between 1 and 500"));
        }
        let descending = match self.ordering.as_deref() {
            None => natural_descending,
            Some(value) if value == field => false,
            Some(value) if value.strip_prefix('-') == Some(field) => true,
            Some(_) => {
                return Err(AdminError::field(
                    "ordering",
                    format!("must be {field} or -{field}"),
                ));
            }
        };
        let search = self
            .search
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| s.chars().take(150).collect());
        Ok(ListQuery {
            search,
            limit: page_size,
            offset: (page - 1) * page_size,
            descending: descending != natural_descending,
        })
    }
}

/// Where a page sits in the whole list.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Pagination {
    /// Rows matching in all.
    count: u64,
    /// This page's number, from 1.
    page: u64,
    /// Rows per page.
    page_size: u64,
    /// How many pages there are (0 when nothing matches).
    total_pages: u64,
    /// The next page's number, if any.
    next: Option<u64>,
    /// The previous page's number, if any.
    previous: Option<u64>,
}

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Paginated<T> {
    /// Where this page sits.
    pagination: Pagination,
    /// The rows.
    results: Vec<T>,
}

impl<T> Paginated<T> {
    /// Renders a store page for `query`.
    fn of<S>(page: gatehouse_core::Page<S>, query: &ListQuery, render: impl Fn(S) -> T) -> Self {
        let page_size = query.clamped_limit();
        let number = query.offset / page_size + 1;
        let total_pages = page.total.div_ceil(page_size);
        Self {
            pagination: Pagination {
                count: page.total,
                page: number,
                page_size,
                total_pages,
                next: (number < total_pages).then_some(number + 1),
                previous: (number > 1).then_some(number - 1),
            },
            results: page.items.into_iter().map(render).collect(),
        }
    }
}

/// Parses a path id; a malformed one is as unknown as a missing one (404).
pub(crate) fn path_id<T: std::str::FromStr>(value: &str, kind: &str) -> Result<T, ApiError> {
    value
        .parse()
        .map_err(|_| ApiError(AdminError::not_found(kind)))
}

/// Checks a slug from the path; one that no object could have is unknown (404), so it never
/// reaches the database.
pub(crate) fn path_slug<'a>(value: &'a str, kind: &str) -> Result<&'a str, ApiError> {
    let plausible = !value.is_empty()
        && value.len() <= 150
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if plausible {
        Ok(value)
    } else {
        Err(ApiError(AdminError::not_found(kind)))
    }
}

/// Checks a timestamp a caller sent for `field`: within years 1970 to 9999, which every
/// backend stores.
pub(crate) fn plausible_time(
    value: Option<DateTime<Utc>>,
    field: &str,
) -> Result<Option<DateTime<Utc>>, AdminError> {
    use chrono::Datelike;
    match value {
        Some(at) if !(1970..=9999).contains(&at.year()) => Err(AdminError::field(
            field,
            "must be between the years 1970 and 9999",
        )),
        other => Ok(other),
    }
}

/// Deserialises a field that may be absent (leave alone), `null` (clear) or a value.
pub(crate) fn double_option<'de, T, D>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// `204 No Content`, for deletions and actions with nothing to return.
pub(crate) fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_params_check_bounds_and_ordering() {
        let params = ListParams {
            page: Some(3),
            page_size: Some(10),
            search: Some("  al ".into()),
            ordering: Some("-username".into()),
        };
        let query = params.query("username").expect("valid");
        assert_eq!(
            (query.offset, query.limit, query.descending),
            (20, 10, true)
        );
        assert_eq!(query.search.as_deref(), Some("al"));
        for bad in [
            ListParams {
                page: Some(0),
                ..ListParams::default()
            },
            ListParams {
                page_size: Some(501),
                ..ListParams::default()
            },
            ListParams {
                ordering: Some("email".into()),
                ..ListParams::default()
            },
        ] {
            assert!(matches!(bad.query("username"), Err(AdminError::Invalid(_))));
        }
    }

    #[test]
    fn pagination_counts_pages() {
        let query = ListQuery {
            limit: 2,
            offset: 2,
            ..ListQuery::default()
        };
        let page = gatehouse_core::Page {
            items: vec![1, 2],
            total: 5,
        };
        let rendered = Paginated::<u64>::of(page, &query, |n| n);
        assert_eq!(rendered.pagination.total_pages, 3);
        assert_eq!(rendered.pagination.page, 2);
        assert_eq!(rendered.pagination.next, Some(3));
        assert_eq!(rendered.pagination.previous, Some(1));
    }

    /// The drift check: `openapi.json` at the repository root is what the code generates.
    /// `GATEHOUSE_UPDATE_OPENAPI=1` rewrites it (same as `gatehouse openapi > openapi.json`).
    #[test]
    fn committed_openapi_json_matches_the_code() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../openapi.json");
        let current = format!(
            "{}\n",
            openapi_document().to_pretty_json().expect("serialise")
        );
        if std::env::var_os("GATEHOUSE_UPDATE_OPENAPI").is_some() {
            std::fs::write(path, &current).expect("write openapi.json");
        }
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == current,
            "openapi.json is out of date: run `gatehouse openapi > openapi.json` \
             (or this test with GATEHOUSE_UPDATE_OPENAPI=1) and commit it"
        );
    }

    #[test]
    fn nul_characters_are_spotted_and_slugs_checked() {
        assert!(contains_nul_escape(br#"{"name": "a\u0000b"}"#));
        assert!(!contains_nul_escape(br#"{"name": "ab"}"#));
        assert!(path_slug("wiki-2", "application").is_ok());
        assert!(path_slug("a\0b", "application").is_err());
        assert!(path_slug("", "application").is_err());
    }

    #[test]
    fn only_bearer_authorization_is_accepted() {
        let mut headers = HeaderMap::new();
        assert_eq!(bearer(&headers), Ok(None));
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer abc"),
        );
        assert_eq!(bearer(&headers), Ok(Some("abc")));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer(&headers), Err(AdminError::Unauthenticated));
    }
}
