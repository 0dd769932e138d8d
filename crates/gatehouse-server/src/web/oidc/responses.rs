//! Response shapes shared by the OIDC endpoints: JSON that must not be cached (RFC 6749
//! §5.1), RFC 6749 §5.2 errors with `WWW-Authenticate` on 401, and the user-facing error
//! pages of the authorization endpoint.

use crate::services::Services;
use crate::web::pages;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION, PRAGMA, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use gatehouse_core::{AuditContext, StoreError};
use gatehouse_oidc::TokenError;
use std::net::IpAddr;

/// JSON with `Cache-Control: no-store` and `Pragma: no-cache`.
pub(super) fn no_store_json(status: StatusCode, body: &serde_json::Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// An RFC 6749 §5.2 error; `invalid_client` is a 401 with a `WWW-Authenticate` challenge.
pub(super) fn token_error(error: &TokenError) -> Response {
    let status = StatusCode::from_u16(error.code.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
    let mut response = no_store_json(status, &error.body());
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"gatehouse\", charset=\"UTF-8\""),
        );
    }
    response
}

/// A storage failure at a JSON endpoint: 503 when the database is away, else 500.
pub(super) fn store_failure(error: &StoreError) -> Response {
    let (status, code) = match error {
        StoreError::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable"),
        other => {
            tracing::error!(error = %other, "oidc endpoint failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "server_error")
        }
    };
    no_store_json(status, &serde_json::json!({ "error": code }))
}

/// The authorization endpoint's error page (never a redirect).
pub(super) fn error_page(services: &Services, status: StatusCode, message: &str) -> Response {
    let mut response = pages::message(
        status,
        &services.config.branding,
        "This sign-in request cannot be completed",
        message,
    );
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A 303 to `location` (already validated), uncached.
pub(super) fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    match HeaderValue::from_str(location) {
        Ok(value) => {
            response.headers_mut().insert(LOCATION, value);
        }
        Err(_) => return StatusCode::BAD_REQUEST.into_response(),
    }
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The audit context of an anonymous or client request.
pub(super) fn audit(
    client_ip: IpAddr,
    headers: &axum::http::HeaderMap,
    actor: &str,
) -> AuditContext {
    AuditContext {
        actor_id: None,
        actor: actor.to_owned(),
        client_ip: Some(client_ip.to_string()),
        user_agent: headers
            .get(axum::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.chars().take(256).collect()),
    }
}
