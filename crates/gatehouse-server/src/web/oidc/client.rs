//! Reading the form body and authenticating the client (or, for a service account's
//! client_credentials request, only identifying it), shared by the token, introspection
//! and revocation endpoints; for `private_key_jwt`, recording the assertion's `jti` so it
//! is good for one request only.

use super::responses::{store_failure, token_error};
use crate::oidc::issuer::Via;
use crate::services::Services;
use axum::http::HeaderMap;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::response::Response;
use chrono::Utc;
use gatehouse_core::{Application, OAuth2Provider};
use gatehouse_oidc::TokenError;
use gatehouse_oidc::client_auth::{authenticate, presented_client, service_account_names_client};
use gatehouse_oidc::discovery;
use gatehouse_oidc::params::Params;

/// Parses an `application/x-www-form-urlencoded` body; anything else is `invalid_request`.
fn form(headers: &HeaderMap, body: &[u8]) -> Result<Params, TokenError> {
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

/// A form request from an authenticated client: its parameters, application and provider.
pub(super) type ClientRequest = (Params, Application, OAuth2Provider);

/// Reads the form body of a request received at `endpoint` (through `via`'s issuer) and
/// authenticates its client; every failure is already the RFC 6749 §5.2 response.
pub(super) async fn client_request(
    services: &Services,
    headers: &HeaderMap,
    body: &[u8],
    endpoint: &str,
    via: Via,
) -> Result<ClientRequest, Response> {
    let params = form(headers, body).map_err(|e| token_error(&e))?;
    let (app, provider) = authenticated_client(services, headers, &params, endpoint, via).await?;
    Ok((params, app, provider))
}

/// Authenticates the client of a token-endpoint-style request received at `endpoint` (the
/// path under `/application/o/`, e.g. `token/`), which a client assertion's `aud` may name;
/// through the Dex alias, its issuer and endpoints may be named too.
async fn authenticated_client(
    services: &Services,
    headers: &HeaderMap,
    params: &Params,
    endpoint: &str,
    via: Via,
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
    if service_account_names_client(&presented, params, &provider) {
        // A public client: the service account's app password authenticates this request
        // (checked by the grant); the client id only names the application.
        return Ok((app, provider));
    }
    let base = services.config.base_url();
    let base = base.trim_end_matches('/');
    let token_endpoint = format!("{base}/application/o/token/");
    let this_endpoint = format!("{base}/application/o/{endpoint}");
    let issuer = discovery::issuer(base, &app.slug);
    let mut audiences = vec![token_endpoint, issuer, this_endpoint];
    if via == Via::DexAlias
        && let Some(alias) = crate::oidc::issuer::dex_alias_issuer(services)
    {
        use gatehouse_oidc::dex::{INTROSPECT_PATH, TOKEN_PATH};
        audiences.push(format!("{alias}{TOKEN_PATH}"));
        audiences.push(format!("{alias}{INTROSPECT_PATH}"));
        audiences.push(alias);
    }
    let audiences: Vec<&str> = audiences.iter().map(String::as_str).collect();
    let refuse = |reason: &str| {
        tracing::info!(client_id = %provider.client_id, method = presented.method.as_str(), reason, "client authentication failed");
        token_error(&TokenError::invalid_client())
    };
    let accepted = authenticate(
        &presented,
        &provider,
        |secret, digest| services.digester.verify(secret, digest),
        &audiences,
        Utc::now(),
    )
    .map_err(|e| refuse(&e.description))?;
    if let Some(assertion) = accepted {
        let first_use = services
            .store
            .record_client_assertion(&provider.client_id, &assertion.jti, assertion.expires_at)
            .await
            .map_err(|e| store_failure(&e))?;
        if !first_use {
            return Err(refuse("the client assertion's jti was already used"));
        }
    }
    Ok((app, provider))
}
