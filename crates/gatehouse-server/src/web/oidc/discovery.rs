//! `GET /application/o/<slug>/.well-known/openid-configuration` and `.../jwks/`.

use super::responses::store_failure;
use crate::oidc::keys;
use crate::services::Services;
use axum::extract::{Path, State};
use axum::http::header::{ACCESS_CONTROL_ALLOW_ORIGIN, CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use gatehouse_core::Application;

/// The provider metadata of one application.
pub(super) async fn configuration(
    State(services): State<Services>,
    Path(slug): Path<String>,
) -> Response {
    let app = match oidc_app(&services, &slug).await {
        Ok(app) => app,
        Err(response) => return response,
    };
    let Some(provider) = &app.oauth2 else {
        return not_found();
    };
    let document = gatehouse_oidc::discovery::document(
        &services.config.base_url(),
        &app.slug,
        provider.signing_alg,
        &provider.scopes,
    );
    public_json(&document)
}

/// The application's JWKS: every key, so tokens signed before a rotation still verify.
pub(super) async fn jwks(State(services): State<Services>, Path(slug): Path<String>) -> Response {
    if let Err(response) = oidc_app(&services, &slug).await {
        return response;
    }
    match keys::published_keys(&services).await {
        Ok((_, jwks)) => public_json(&serde_json::json!({ "keys": jwks })),
        Err(error) => store_failure(&error),
    }
}

async fn oidc_app(services: &Services, slug: &str) -> Result<Application, Response> {
    match services.store.application_by_slug(slug).await {
        Ok(Some(app)) if app.oauth2.is_some() => Ok(app),
        Ok(_) => Err(not_found()),
        Err(error) => Err(store_failure(&error)),
    }
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "no such OIDC application\n").into_response()
}

/// Public metadata: cacheable for a few minutes and readable from browsers (SPAs fetch it).
fn public_json(body: &serde_json::Value) -> Response {
    let mut response = body.to_string().into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    response
}
