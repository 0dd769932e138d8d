//! `GET`/`POST /application/o/authorize/` (RFC 6749 §4.1.1, OIDC Core §3.1.2). Without a
//! session, or when `prompt=login` or `max_age` asks for a fresh sign-in, the user is sent to
//! the authentication flow and brought back here; with a fresh enough one, the
//! application's group policy decides, then the consent mode (`super::consent` shows the
//! page and brings the answer back here), and an authorization code goes back to the client.
//! Served as the Dex alias's `/auth` too: the request then speaks for the alias issuer, in
//! the RFC 9207 `iss` parameter and in the tokens its code yields.

use super::consent;
use super::responses::{audit, error_page, see_other};
use crate::oidc::grants::{self, GrantError};
use crate::oidc::issuer::{self, Via};
use crate::services::Services;
use crate::web::client::ClientIp;
use crate::web::flow::LOGIN_PATH;
use crate::web::session;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use gatehouse_core::{AuditContext, Consent, ConsentMode, StoreError};
use gatehouse_oidc::authorize::{self, AuthorizationRequest, response_location};
use gatehouse_oidc::consent::{ConsentDecision, remembered_scopes};
use gatehouse_oidc::params::Params;
use gatehouse_oidc::reauth::{self, Freshness};
use gatehouse_oidc::{AuthorizeError, AuthorizeErrorCode};

/// What the user answered on the consent page, when this run continues one.
#[derive(Clone, Debug)]
pub(super) enum ConsentAnswer {
    /// A fresh request: consent is decided by the application's mode and `prompt`.
    NotAsked,
    /// The user allowed these scopes (the ones the page showed).
    Allowed(Vec<String>),
    /// The user denied the request.
    Denied,
}

/// Parameters in the query string.
pub(super) async fn authorize_get(
    State(services): State<Services>,
    client_ip: ClientIp,
    via: Via,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let query = query.unwrap_or_default();
    run(
        &services,
        client_ip,
        &headers,
        &query,
        via,
        ConsentAnswer::NotAsked,
    )
    .await
}

/// Parameters in a form body (OIDC Core §3.1.2.1 requires POST support).
pub(super) async fn authorize_post(
    State(services): State<Services>,
    client_ip: ClientIp,
    via: Via,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Ok(text) = std::str::from_utf8(&body) else {
        return error_page(
            &services,
            StatusCode::BAD_REQUEST,
            "The request is not valid UTF-8.",
        );
    };
    let text = text.to_owned();
    run(
        &services,
        client_ip,
        &headers,
        &text,
        via,
        ConsentAnswer::NotAsked,
    )
    .await
}

/// Runs an authorization request (`query` holds its form-encoded parameters) received
/// `via` one of the issuers to its answer.
pub(super) async fn run(
    services: &Services,
    client_ip: ClientIp,
    headers: &HeaderMap,
    query: &str,
    via: Via,
    answer: ConsentAnswer,
) -> Response {
    match decide(services, client_ip, headers, query, via, answer).await {
        Ok(response) => response,
        Err(StoreError::Unavailable) => error_page(
            services,
            StatusCode::SERVICE_UNAVAILABLE,
            "Gatehouse cannot reach its database right now. Try again in a moment.",
        ),
        Err(error) => {
            tracing::error!(%error, "authorization failed");
            error_page(
                services,
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong. Try again in a moment.",
            )
        }
    }
}

async fn decide(
    services: &Services,
    client_ip: ClientIp,
    headers: &HeaderMap,
    query: &str,
    via: Via,
    answer: ConsentAnswer,
) -> Result<Response, StoreError> {
    let params = match Params::parse_form(query) {
        Ok(params) => params,
        Err(error) => {
            return Ok(error_page(
                services,
                StatusCode::BAD_REQUEST,
                &format!("The request is malformed: {error}."),
            ));
        }
    };
    let client_id = match authorize::client_id(&params) {
        Ok(id) => id,
        Err(error) => return Ok(page_for(services, &error)),
    };
    let Some(app) = services.store.application_by_client_id(client_id).await? else {
        return Ok(error_page(
            services,
            StatusCode::BAD_REQUEST,
            "The application is not known to Gatehouse.",
        ));
    };
    let Some(provider) = app.oauth2.clone() else {
        return Ok(error_page(
            services,
            StatusCode::BAD_REQUEST,
            "The application is not known to Gatehouse.",
        ));
    };
    let issuer = issuer::issuer_via(services, &app, via);
    let request = match authorize::validate(&params, &provider) {
        Ok(request) => request,
        Err(error) => return Ok(answer_error(services, &error, &issuer)),
    };
    let now = chrono::Utc::now();
    let (original_query, marker) = reauth::split_marker(query);
    let signed_in_again_since = marker
        .filter(|&(issued, mac)| {
            reauth::marker_is_current(issued, now)
                && services
                    .digester
                    .verify(&reauth::marker_message(issued, original_query), mac)
        })
        .and_then(|(issued, _)| chrono::DateTime::from_timestamp(issued, 0));
    let Some((session, user)) = session::current(services, headers).await? else {
        if request.prompt.none {
            return Ok(redirect_error(
                &request,
                AuthorizeErrorCode::LoginRequired,
                "the user is not signed in",
                &issuer,
            ));
        }
        return Ok(sign_in_first(services, original_query, &request, via, now));
    };
    // OIDC Core §3.1.2.1: `prompt=login` and an exceeded `max_age` demand a fresh sign-in,
    // which the authentication flow performs even for a signed-in browser.
    match reauth::freshness(
        request.prompt,
        request.max_age,
        session.auth_time,
        now,
        signed_in_again_since,
    ) {
        Freshness::Fresh => {}
        Freshness::LoginRequired => {
            return Ok(redirect_error(
                &request,
                AuthorizeErrorCode::LoginRequired,
                "the user must sign in again",
                &issuer,
            ));
        }
        Freshness::SignInAgain => {
            return Ok(sign_in_first(services, original_query, &request, via, now));
        }
    }
    if matches!(answer, ConsentAnswer::Denied) {
        // RFC 6749 §4.1.2.1: the resource owner denied the request.
        return Ok(redirect_error(
            &request,
            AuthorizeErrorCode::AccessDenied,
            "the user denied the request",
            &issuer,
        ));
    }
    if !grants::admits_user(services, &app, &user).await? {
        tracing::info!(application = %app.slug, user = %user.username, "access denied by the application's group policy");
        return Ok(crate::web::pages::message(
            StatusCode::FORBIDDEN,
            &services.config.branding,
            "Access denied",
            &format!(
                "Your account may not use {}. Ask an administrator for access.",
                app.name
            ),
        ));
    }
    let audit = AuditContext {
        actor_id: Some(user.id),
        actor: user.username.clone(),
        ..audit(client_ip.0, headers, "")
    };
    let remembered = match provider.consent_mode {
        ConsentMode::Remembered => services.store.consent(user.id, app.id).await?,
        _ => None,
    };
    let allowed_now = match &answer {
        ConsentAnswer::Allowed(shown) => request.scopes.iter().all(|s| shown.contains(s)),
        _ => false,
    };
    if allowed_now {
        if provider.consent_mode == ConsentMode::Remembered {
            let consent = Consent {
                user_id: user.id,
                application_id: app.id,
                scopes: remembered_scopes(remembered.as_ref(), &request.scopes, now),
                granted_at: now,
                expires_at: None,
            };
            services
                .store
                .grant_consent(consent, &app.slug, &audit)
                .await?;
        }
    } else {
        match gatehouse_oidc::consent::decide(
            provider.consent_mode,
            request.prompt,
            &request.scopes,
            remembered.as_ref(),
            now,
        ) {
            ConsentDecision::Proceed => {}
            ConsentDecision::Required => {
                return Ok(redirect_error(
                    &request,
                    AuthorizeErrorCode::ConsentRequired,
                    "the user has not consented to this application",
                    &issuer,
                ));
            }
            ConsentDecision::Ask => {
                return Ok(consent::ask(
                    services,
                    headers,
                    &consent::Asking {
                        app: &app,
                        user: &user,
                        session: &session,
                        scopes: &request.scopes,
                        query,
                        via,
                        remembered: provider.consent_mode == ConsentMode::Remembered,
                        redirect_uri: &request.redirect_uri,
                    },
                ));
            }
        }
    }
    match grants::issue_code(
        services,
        &app,
        &provider,
        &request,
        &user,
        &grants::SignIn::of_session(&session),
        via,
        &audit,
    )
    .await
    {
        Ok(code) => {
            let mut pairs = vec![("code", code.as_str())];
            if let Some(state) = &request.state {
                pairs.push(("state", state.as_str()));
            }
            pairs.push(("iss", issuer.as_str()));
            Ok(see_other(&response_location(&request.redirect_uri, &pairs)))
        }
        Err(GrantError::Store(error)) => Err(error),
        Err(other) => {
            tracing::error!(error = %other, "cannot issue an authorization code");
            Ok(redirect_error(
                &request,
                AuthorizeErrorCode::ServerError,
                "internal error",
                &issuer,
            ))
        }
    }
}

/// Sends the browser to the authentication flow, which comes back to this request (a POSTed
/// request returns as a GET with the same parameters) marked with the time it left, so the
/// fresh sign-in is recognised (see [`reauth`]). `login_hint` pre-fills the username.
fn sign_in_first(
    services: &Services,
    original_query: &str,
    request: &AuthorizationRequest,
    via: Via,
    now: chrono::DateTime<chrono::Utc>,
) -> Response {
    let issued = now.timestamp();
    let mac = services
        .digester
        .digest(&reauth::marker_message(issued, original_query));
    let back = format!(
        "{}?{original_query}{}",
        super::authorization_path(services, via),
        reauth::marker_suffix(issued, &mac)
    );
    let mut target = format!("{LOGIN_PATH}?next={}", authorize::form_encode(&back));
    if let Some(hint) = &request.login_hint {
        target.push_str("&login_hint=");
        target.push_str(&authorize::form_encode(hint));
    }
    see_other(&target)
}

fn page_for(services: &Services, error: &AuthorizeError) -> Response {
    match error {
        AuthorizeError::Page(message) => {
            error_page(services, StatusCode::BAD_REQUEST, &format!("{message}."))
        }
        AuthorizeError::Redirect { .. } => {
            error_page(services, StatusCode::BAD_REQUEST, "The request is invalid.")
        }
    }
}

fn answer_error(services: &Services, error: &AuthorizeError, issuer: &str) -> Response {
    match error.location(issuer) {
        Some(location) => see_other(&location),
        None => page_for(services, error),
    }
}

fn redirect_error(
    request: &AuthorizationRequest,
    code: AuthorizeErrorCode,
    description: &str,
    issuer: &str,
) -> Response {
    let error = AuthorizeError::Redirect {
        redirect_uri: request.redirect_uri.clone(),
        code,
        description: description.to_owned(),
        state: request.state.clone(),
    };
    match error.location(issuer) {
        Some(location) => see_other(&location),
        None => see_other(&request.redirect_uri),
    }
}
