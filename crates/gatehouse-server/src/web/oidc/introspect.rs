//! `POST /application/o/introspect/` (RFC 7662) and `POST /application/o/revoke/`
//! (RFC 7009). Both authenticate the client and only ever act on its own tokens. The Dex
//! alias serves introspection as `<issuer path>/token/introspect`.

use super::client::client_request;
use super::responses::{audit, no_store_json, store_failure, token_error};
use crate::oidc::grants;
use crate::oidc::issuer::Via;
use crate::services::Services;
use crate::web::client::ClientIp;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use gatehouse_core::ClientType;
use gatehouse_oidc::TokenError;

/// RFC 7662 §2: confidential clients only (a public client cannot be authenticated).
pub(super) async fn introspect(
    State(services): State<Services>,
    via: Via,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (params, app, provider) =
        match client_request(&services, &headers, &body, "introspect/", via).await {
            Ok(found) => found,
            Err(response) => return response,
        };
    if provider.client_type != ClientType::Confidential {
        return token_error(&TokenError::invalid_client());
    }
    let Some(token) = params.get("token") else {
        return token_error(&TokenError::invalid_request("token is required"));
    };
    match grants::introspect(&services, &app, token).await {
        Ok(body) => no_store_json(StatusCode::OK, &body),
        Err(error) => store_failure(&error),
    }
}

/// RFC 7009 §2.2: 200 whether or not the token was known.
pub(super) async fn revoke(
    State(services): State<Services>,
    client_ip: ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (params, app, provider) =
        match client_request(&services, &headers, &body, "revoke/", Via::Application).await {
            Ok(found) => found,
            Err(response) => return response,
        };
    let Some(token) = params.get("token") else {
        return token_error(&TokenError::invalid_request("token is required"));
    };
    let audit = audit(
        client_ip.0,
        &headers,
        &format!("client:{}", provider.client_id),
    );
    match grants::revoke(&services, &app, token, &audit).await {
        Ok(()) => no_store_json(StatusCode::OK, &serde_json::json!({})),
        Err(error) => store_failure(&error),
    }
}
