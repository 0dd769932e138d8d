//! `GET` and `POST /application/o/userinfo/` (OIDC Core §5.3) with a bearer access token in
//! the `Authorization` header or, for POST, the form body (RFC 6750 §2.1, §2.2). Failures
//! are 401 with an RFC 6750 §3 `WWW-Authenticate` challenge.

use super::responses::{no_store_json, store_failure};
use crate::oidc::grants;
use crate::services::Services;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use gatehouse_oidc::params::Params;

/// Bearer token from the header.
pub(super) async fn userinfo_get(State(services): State<Services>, headers: HeaderMap) -> Response {
    let token = bearer(&headers);
    answer(&services, token.as_deref()).await
}

/// Bearer token from the header or the form body.
pub(super) async fn userinfo_post(
    State(services): State<Services>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let from_body = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
        .then(|| std::str::from_utf8(&body).ok())
        .flatten()
        .and_then(|text| Params::parse_form(text).ok())
        .and_then(|p| p.get("access_token").map(str::to_owned));
    let header = bearer(&headers);
    if from_body.is_some() && header.is_some() {
        return challenge(Some("invalid_request"));
    }
    answer(&services, header.or(from_body).as_deref()).await
}

async fn answer(services: &Services, token: Option<&str>) -> Response {
    let Some(token) = token else {
        return challenge(None);
    };
    match grants::userinfo(services, token).await {
        Ok(Some(body)) => no_store_json(StatusCode::OK, &body),
        Ok(None) => challenge(Some("invalid_token")),
        Err(error) => store_failure(&error),
    }
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
        .filter(|t| !t.is_empty())
}

fn challenge(error: Option<&str>) -> Response {
    let mut response = no_store_json(
        StatusCode::UNAUTHORIZED,
        &serde_json::json!({ "error": error.unwrap_or("invalid_request") }),
    );
    let value = match error {
        Some(code) => format!("Bearer realm=\"gatehouse\", error=\"{code}\""),
        None => "Bearer realm=\"gatehouse\"".to_owned(),
    };
    if let Ok(value) = HeaderValue::from_str(&value) {
        response.headers_mut().insert(WWW_AUTHENTICATE, value);
    }
    response
}
