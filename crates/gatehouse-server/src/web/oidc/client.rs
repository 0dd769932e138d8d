//! Reading the form body and authenticating the client, shared by the token, introspection
//! and revocation endpoints.

use super::responses::{store_failure, token_error};
use crate::services::Services;
use axum::http::HeaderMap;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::response::Response;
use gatehouse_core::{Application, OAuth2Provider};
use gatehouse_oidc::TokenError;
use gatehouse_oidc::client_auth::{authenticate, presented_client};
use gatehouse_oidc::params::Params;

/// Parses an `application/x-www-form-urlencoded` body; anything else is `invalid_request`.
pub(super) fn form(headers: &HeaderMap, body: &[u8]) -> Result<Params, TokenError> {
    let is_form = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';').next().is_some_and(|t| {
                t.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            })
        });
    if !is_form {
        return Err(TokenError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    let text = std::str::from_utf8(body)
        .map_err(|_| TokenError::invalid_request("the body is not UTF-8"))?;
    Params::parse_form(text).map_err(|e| TokenError::invalid_request(e.to_string()))
}

/// Authenticates the client of a token-endpoint-style request.
pub(super) async fn authenticated_client(
    services: &Services,
    headers: &HeaderMap,
    params: &Params,
) -> Result<(Application, OAuth2Provider), Response> {
    let authorization = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok());
    let presented = presented_client(authorization, params).map_err(|e| token_error(&e))?;
    let app =
        match crate::oidc::cache::application_by_client_id(services, &presented.client_id).await {
            Ok(Some(app)) => app,
            Ok(None) => return Err(token_error(&TokenError::invalid_client())),
            Err(error) => return Err(store_failure(&error)),
        };
    let Some(provider) = app.oauth2.clone() else {
        return Err(token_error(&TokenError::invalid_client()));
    };
    authenticate(&presented, &provider, |secret, digest| {
        services.digester.verify(secret, digest)
    })
    .map_err(|e| {
        tracing::info!(client_id = %provider.client_id, "client authentication failed");
        token_error(&e)
    })?;
    Ok((app, provider))
}
