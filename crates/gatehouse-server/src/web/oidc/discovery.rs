//! `GET /application/o/<slug>/.well-known/openid-configuration` and `.../jwks/`, served from
//! bytes serialised once and cached briefly (`oidc::cache`): clients fetch both often; and
//! the same two documents for the Dex-compatible alias (`<issuer path>/keys`).

use super::responses::store_failure;
use crate::oidc::cache::{self, PublishedApplication};
use crate::services::Services;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::header::{ACCESS_CONTROL_ALLOW_ORIGIN, CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// The provider metadata of one application.
pub(super) async fn configuration(
    State(services): State<Services>,
    Path(slug): Path<String>,
) -> Response {
    match oidc_app(&services, &slug).await {
        Ok(published) => public_json(published.discovery.clone()),
        Err(response) => response,
    }
}

/// The application's JWKS: every key, so tokens signed before a rotation still verify.
pub(super) async fn jwks(State(services): State<Services>, Path(slug): Path<String>) -> Response {
    if let Err(response) = oidc_app(&services, &slug).await {
        return response;
    }
    match cache::published_keys(&services).await {
        Ok(published) => public_json(published.jwks.clone()),
        Err(error) => store_failure(&error),
    }
}

/// The Dex-compatible alias's metadata (`dex_compat.issuer_path`).
pub(super) async fn dex_alias_configuration(State(services): State<Services>) -> Response {
    match crate::oidc::issuer::dex_alias_issuer(&services) {
        Some(issuer) => {
            let document = crate::oidc::issuer::dex_alias_document(&services, &issuer);
            public_json(Bytes::from(document.to_string()))
        }
        None => not_found(),
    }
}

/// The alias's JWKS: the same keys as every application's.
pub(super) async fn dex_alias_jwks(State(services): State<Services>) -> Response {
    match cache::published_keys(&services).await {
        Ok(published) => public_json(published.jwks.clone()),
        Err(error) => store_failure(&error),
    }
}

async fn oidc_app(services: &Services, slug: &str) -> Result<Arc<PublishedApplication>, Response> {
    match cache::oidc_application_by_slug(services, slug).await {
        Ok(Some(published)) => Ok(published),
        Ok(None) => Err(not_found()),
        Err(error) => Err(store_failure(&error)),
    }
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "no such OIDC application\n").into_response()
}

/// Public metadata: cacheable for a few minutes and readable from browsers (SPAs fetch it).
fn public_json(body: Bytes) -> Response {
    let mut response = Response::new(Body::from(body));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    response
}
