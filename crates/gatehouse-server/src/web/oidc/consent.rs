//! The consent page of the authorization endpoint (OIDC Core §3.1.2.4) and its answer,
//! `POST /application/o/authorize/consent/`. The pending authorization request travels in
//! the form sealed with AES-256-GCM under the instance secret key, bound to the browser's
//! session (the session id is the associated data) and expiring after ten minutes, so a
//! hidden field can be neither forged, altered, replayed into another session, nor kept. It
//! carries a random nonce that the store records when the form is answered, so the form is
//! single-use: a second Allow (or Deny) within the ten minutes is refused. The
//! answer re-runs the whole request through `super::authorize` (client, redirect URI, session
//! and group policy are checked again), with the user's choice. The page is served here, not
//! through the flow engine's Consent stage: no flow needs to be bound to the application.

use super::authorize::{self, ConsentAnswer};
use super::responses::error_page;
use crate::config::BrandingConfig;
use crate::oidc::issuer::Via;
use crate::services::Services;
use crate::web::client::ClientIp;
use crate::web::{cookies, csrf, pages, session};
use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::http::header::CACHE_CONTROL;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Duration, Utc};
use gatehouse_core::{Application, Session, User};
use serde::{Deserialize, Serialize};

/// Where the consent form posts.
pub(super) const CONSENT_PATH: &str = "/application/o/authorize/consent/";

/// How long the user has to answer, in seconds.
const PENDING_LIFETIME_SECS: i64 = 600;

/// The sealed state of an authorization waiting for the user's answer.
#[derive(Serialize, Deserialize)]
struct Pending {
    /// The authorization request's form-encoded parameters.
    query: String,
    /// The issuer the request came through.
    #[serde(default)]
    via: Via,
    /// The scopes the page showed.
    scopes: Vec<String>,
    /// Unix time after which the answer is refused.
    expires: i64,
    /// Makes the form single-use (recorded by the store when answered).
    nonce: String,
}

/// What the page is about.
pub(super) struct Asking<'a> {
    /// The application asking.
    pub(super) app: &'a Application,
    /// The signed-in user.
    pub(super) user: &'a User,
    /// Their session, which the pending request is bound to.
    pub(super) session: &'a Session,
    /// The scopes it would receive.
    pub(super) scopes: &'a [String],
    /// The authorization request's parameters.
    pub(super) query: &'a str,
    /// The issuer the request came through.
    pub(super) via: Via,
    /// Whether the answer will be remembered.
    pub(super) remembered: bool,
    /// The validated redirect URI the answer sends the browser to.
    pub(super) redirect_uri: &'a str,
}

struct ScopeLine {
    name: String,
    text: String,
}

#[derive(Template)]
#[template(path = "consent.html")]
struct ConsentPage<'a> {
    brand: &'a BrandingConfig,
    app_name: &'a str,
    username: &'a str,
    scopes: Vec<ScopeLine>,
    remembered: bool,
    action: &'static str,
    csrf: String,
    pending: String,
}

fn seal_context(session: &Session) -> String {
    format!("oidc.consent.v1:{}", session.id)
}

/// Renders the consent page for a request that needs it.
pub(super) fn ask(services: &Services, headers: &HeaderMap, asking: &Asking<'_>) -> Response {
    let pending = Pending {
        query: asking.query.to_owned(),
        via: asking.via,
        scopes: asking.scopes.to_vec(),
        expires: Utc::now().timestamp() + PENDING_LIFETIME_SECS,
        nonce: gatehouse_crypto::generate_token(""),
    };
    let Ok(plain) = serde_json::to_vec(&pending) else {
        return error_page(
            services,
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong. Try again in a moment.",
        );
    };
    let sealed = services
        .secret_box
        .seal(&plain, &seal_context(asking.session));
    let (csrf, csrf_cookie) = csrf::form_token(services, headers);
    let page = ConsentPage {
        brand: &services.config.branding,
        app_name: &asking.app.name,
        username: &asking.user.username,
        scopes: asking
            .scopes
            .iter()
            .map(|s| ScopeLine {
                name: s.clone(),
                text: gatehouse_oidc::consent::describe(s),
            })
            .collect(),
        remembered: asking.remembered,
        action: CONSENT_PATH,
        csrf,
        pending: sealed,
    };
    let mut response = pages::render(StatusCode::OK, &page);
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(policy) = super::csp_for_form_target(asking.redirect_uri) {
        response
            .headers_mut()
            .insert(axum::http::header::CONTENT_SECURITY_POLICY, policy);
    }
    if let Some(cookie) = csrf_cookie {
        cookies::append(&mut response, &cookie);
    }
    response
}

/// The consent form.
#[derive(Deserialize)]
pub(super) struct ConsentForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    request: String,
    #[serde(default)]
    decision: String,
}

/// `POST /application/o/authorize/consent/`: Allow continues the authorization, Deny
/// answers the client with `access_denied`.
pub(super) async fn answer(
    State(services): State<Services>,
    client_ip: ClientIp,
    headers: HeaderMap,
    Form(form): Form<ConsentForm>,
) -> Response {
    if !csrf::verify(&services, &headers, &form.csrf) {
        return error_page(
            &services,
            StatusCode::FORBIDDEN,
            "The form expired or was not sent by this browser. Go back to the application and sign in again.",
        );
    }
    let choice = match form.decision.as_str() {
        "allow" => true,
        "deny" => false,
        _ => {
            return error_page(&services, StatusCode::BAD_REQUEST, "Choose Allow or Deny.");
        }
    };
    let current = match session::current(&services, &headers).await {
        Ok(current) => current,
        Err(error) => {
            tracing::warn!(%error, "consent answer: session lookup failed");
            return error_page(
                &services,
                StatusCode::SERVICE_UNAVAILABLE,
                "Gatehouse cannot reach its database right now. Try again in a moment.",
            );
        }
    };
    let Some((session, _)) = current else {
        return error_page(
            &services,
            StatusCode::BAD_REQUEST,
            "Your sign-in ended before you answered. Go back to the application and sign in again.",
        );
    };
    let pending = services
        .secret_box
        .open(&form.request, &seal_context(&session))
        .ok()
        .and_then(|plain| serde_json::from_slice::<Pending>(&plain).ok());
    let Some(pending) = pending else {
        tracing::info!("consent answer with an invalid pending request refused");
        return error_page(
            &services,
            StatusCode::BAD_REQUEST,
            "This consent request is not valid. Go back to the application and sign in again.",
        );
    };
    if pending.expires < Utc::now().timestamp() {
        return error_page(
            &services,
            StatusCode::BAD_REQUEST,
            "This consent request expired. Go back to the application and sign in again.",
        );
    }
    let keep_until = DateTime::from_timestamp(pending.expires, 0)
        .unwrap_or_else(|| Utc::now() + Duration::seconds(PENDING_LIFETIME_SECS));
    let nonce = format!("oidc-consent:{}", pending.nonce);
    match services.store.spend_form_nonce(&nonce, keep_until).await {
        Ok(true) => {}
        Ok(false) => {
            tracing::info!("consent form answered twice; the second answer is refused");
            return error_page(
                &services,
                StatusCode::BAD_REQUEST,
                "This consent form was already answered. Go back to the application and sign in again.",
            );
        }
        Err(error) => {
            tracing::warn!(%error, "consent answer: nonce could not be recorded");
            return error_page(
                &services,
                StatusCode::SERVICE_UNAVAILABLE,
                "Gatehouse cannot reach its database right now. Try again in a moment.",
            );
        }
    }
    let answer = if choice {
        ConsentAnswer::Allowed(pending.scopes)
    } else {
        ConsentAnswer::Denied
    };
    authorize::run(
        &services,
        client_ip,
        &headers,
        &pending.query,
        pending.via,
        answer,
    )
    .await
}
