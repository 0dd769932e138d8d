//! `POST /application/o/token/` (RFC 6749 §3.2), also served as the Dex alias's `/token`.

use super::client::client_request;
use super::responses::{audit, no_store_json, store_failure, token_error};
use crate::oidc::grants::{self, GrantError};
use crate::oidc::issuer::Via;
use crate::services::Services;
use crate::web::client::ClientIp;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

/// Issues tokens for an authenticated client.
pub(super) async fn token(
    State(services): State<Services>,
    client_ip: ClientIp,
    via: Via,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (params, app, provider) =
        match client_request(&services, &headers, &body, "token/", via).await {
            Ok(found) => found,
            Err(response) => return response,
        };
    let request = match gatehouse_oidc::token_request::parse(&params) {
        Ok(request) => request,
        Err(error) => return token_error(&error),
    };
    let audit = audit(
        client_ip.0,
        &headers,
        &format!("client:{}", provider.client_id),
    );
    let grant_type = request.grant_type();
    match grants::token(&services, &app, &provider, request, via, &audit).await {
        Ok(response) => {
            metrics::counter!("gatehouse_tokens_issued_total", "grant" => grant_type).increment(1);
            no_store_json(StatusCode::OK, &response.body())
        }
        Err(GrantError::Protocol(error)) => token_error(&error),
        Err(GrantError::Store(error)) => store_failure(&error),
        Err(GrantError::Key(error)) => {
            tracing::error!(%error, "cannot sign tokens");
            store_failure(&gatehouse_core::StoreError::Internal)
        }
        Err(GrantError::Throttled(wait)) => throttled(wait),
    }
}

/// A throttled attempt (too many failed service-account credentials for this account or
/// address): HTTP 429 with `Retry-After` in whole seconds and the RFC 6749 §5.2 body
/// `invalid_request`, since §5.2 has no code for "slow down" at the token endpoint.
fn throttled(wait: std::time::Duration) -> Response {
    let error =
        gatehouse_oidc::TokenError::invalid_request("too many failed attempts; try again later");
    let mut response = no_store_json(StatusCode::TOO_MANY_REQUESTS, &error.body());
    response.headers_mut().insert(
        axum::http::header::RETRY_AFTER,
        axum::http::HeaderValue::from(crate::throttle::retry_after_secs(wait)),
    );
    response
}
