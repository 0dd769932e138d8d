//! `POST /application/o/token/` (RFC 6749 §3.2).

use super::client::client_request;
use super::responses::{audit, no_store_json, store_failure, token_error};
use crate::oidc::grants::{self, GrantError};
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
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (params, app, provider) = match client_request(&services, &headers, &body, "token/").await {
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
    match grants::token(&services, &app, &provider, request, &audit).await {
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
    }
}
