//! Upstream login endpoints (DESIGN.md URL layout): `/source/oauth/login/<slug>/` sends the
//! browser to the upstream with PKCE, `state` and `nonce`, which wait in a cookie sealed with
//! the instance key and bound to the source; `/source/oauth/callback/<slug>/` checks the
//! answer, spends the state (single use on every replica), signs the upstream account in
//! through `crate::sources::login` and resumes the authentication flow after its
//! identification stage, so the flow's MFA stages still apply (a new user of a source with an
//! enrollment flow first goes through that flow). Every refusal is an audit event
//! and a page saying what to do; an unreachable upstream gets a "try again" link.

use super::client::ClientIp;
use super::{cookies, flow, pages};
use crate::services::Services;
use crate::sources::login::{self, Failure, Matched};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::header::{LOCATION, USER_AGENT};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use gatehouse_core::AuditContext;
use gatehouse_flows::SourceEnrollment;
use gatehouse_sources::identity::UpstreamIdentity;
use gatehouse_sources::request::{CallbackParams, LoginPurpose, PendingLogin};
use serde::Deserialize;

const PENDING_COOKIE: &str = "gatehouse_source";
/// How long the browser keeps the pending-login cookie (the login itself expires after
/// `gatehouse_sources::request::PENDING_LIFETIME_MINUTES`).
const PENDING_COOKIE_SECS: i64 = 15 * 60;

/// The routes of this module.
pub(crate) fn routes() -> axum::Router<Services> {
    axum::Router::new()
        .route(
            "/source/oauth/login/{slug}/",
            axum::routing::get(start).post(start_link),
        )
        .route(
            "/source/oauth/callback/{slug}/",
            axum::routing::get(callback),
        )
}

/// Query of the login URL (the identification page's buttons link here).
#[derive(Deserialize)]
pub(crate) struct StartQuery {
    /// A local path to return to afterwards (checked with `safe_next`).
    next: Option<String>,
    /// The flow to resume after the callback.
    flow: Option<String>,
}

fn seal_context(slug: &str) -> String {
    format!("source-login:{slug}")
}

fn cookie_name(services: &Services) -> String {
    cookies::name(PENDING_COOKIE, services.config.is_https())
}

/// The login URL of source `slug` for a page of `flow`, returning to `next`.
pub(crate) fn login_url(slug: &str, flow: &str, next: Option<&str>) -> String {
    use gatehouse_oidc::authorize::form_encode;
    let mut url = format!("/source/oauth/login/{slug}/?flow={}", form_encode(flow));
    if let Some(next) = next {
        url.push_str("&next=");
        url.push_str(&form_encode(next));
    }
    url
}

/// `GET /source/oauth/login/<slug>/`: redirects to the upstream's authorization endpoint.
pub(crate) async fn start(
    State(services): State<Services>,
    ClientIp(peer): ClientIp,
    Path(slug): Path<String>,
    Query(query): Query<StartQuery>,
    headers: HeaderMap,
) -> Response {
    let next = query.next.as_deref().and_then(gatehouse_flows::safe_next);
    let retry = login_url(
        &slug,
        query.flow.as_deref().unwrap_or(DEFAULT_FLOW),
        next.as_deref(),
    );
    let ready = match login::ready(&services, &slug).await {
        Ok(ready) => ready,
        Err(failure) => {
            let audit = audit_context(peer, &headers);
            return failure_page(&services, &slug, None, failure, &retry, &audit).await;
        }
    };
    let flow = query
        .flow
        .filter(|f| gatehouse_core::application::slug(f).is_ok());
    let request = login::begin(&services, &ready, LoginPurpose::SignIn, next, flow);
    to_upstream(&services, &slug, &request)
}

/// The portal's "Link …" form.
#[derive(Deserialize)]
pub(crate) struct LinkForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /source/oauth/login/<slug>/` (the portal's "Link …" button): starts a login that
/// links the upstream account to the signed-in user, then returns to the portal.
pub(crate) async fn start_link(
    State(services): State<Services>,
    ClientIp(peer): ClientIp,
    Path(slug): Path<String>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<LinkForm>,
) -> Response {
    if !super::csrf::verify(&services, &headers, &form.csrf) {
        return pages::message(
            StatusCode::FORBIDDEN,
            &services.config.branding,
            "Form expired",
            "Go back, reload the page and try again.",
        );
    }
    let user = match super::session::current(&services, &headers).await {
        Ok(Some((_, user))) => user,
        Ok(None) => return see_other(&format!("{}?next={PORTAL}", flow::LOGIN_PATH)),
        Err(error) => return flow::store_error_page(&services, error),
    };
    let ready = match login::ready(&services, &slug).await {
        Ok(ready) => ready,
        Err(failure) => {
            let audit = audit_context(peer, &headers);
            return failure_page(&services, &slug, None, failure, PORTAL, &audit).await;
        }
    };
    let purpose = LoginPurpose::Link { user: user.id };
    let request = login::begin(&services, &ready, purpose, Some(PORTAL.into()), None);
    // The pages' CSP limits where a form submission may lead (`form-action 'self'`), redirects
    // included: this answer is a page that moves on to the upstream by itself.
    let page = ContinuePage {
        brand: &services.config.branding,
        name: &ready.source.settings.name,
        target: &request.url,
    };
    let mut response = pages::render(StatusCode::OK, &page);
    if let Some(cookie) = pending_cookie(&services, &slug, &request) {
        cookies::append(&mut response, &cookie);
    }
    response
}

/// A page that moves on to `target` (a meta refresh, with a link for browsers that do not).
#[derive(Template)]
#[template(path = "continue.html")]
struct ContinuePage<'a> {
    brand: &'a crate::config::BrandingConfig,
    name: &'a str,
    target: &'a str,
}

const PORTAL: &str = "/if/user/";

/// Remembers the pending login in its sealed cookie and sends the browser upstream.
fn to_upstream(
    services: &Services,
    slug: &str,
    request: &gatehouse_sources::request::AuthorizationRequest,
) -> Response {
    let Some(cookie) = pending_cookie(services, slug, request) else {
        return flow::store_error_page(services, gatehouse_core::StoreError::Internal);
    };
    let mut response = see_other(&request.url);
    cookies::append(&mut response, &cookie);
    response
}

/// The `Set-Cookie` value keeping `request`'s pending login, sealed and bound to the source.
fn pending_cookie(
    services: &Services,
    slug: &str,
    request: &gatehouse_sources::request::AuthorizationRequest,
) -> Option<String> {
    let json = serde_json::to_vec(&request.pending).ok()?;
    let sealed = services.secret_box.seal(&json, &seal_context(slug));
    let https = services.config.is_https();
    Some(format!(
        "{}; Max-Age={PENDING_COOKIE_SECS}",
        cookies::set_lax(&cookie_name(services), &sealed, https)
    ))
}

fn see_other(target: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(location) = HeaderValue::from_str(target) {
        response.headers_mut().insert(LOCATION, location);
    }
    response
}

const DEFAULT_FLOW: &str = "default-authentication-flow";

/// `GET /source/oauth/callback/<slug>/`: finishes the login started in this browser.
pub(crate) async fn callback(
    State(services): State<Services>,
    ClientIp(peer): ClientIp,
    Path(slug): Path<String>,
    Query(params): Query<CallbackParams>,
    headers: HeaderMap,
) -> Response {
    let audit = audit_context(peer, &headers);
    let pending = read_pending(&services, &headers, &slug);
    let flow_slug = pending
        .as_ref()
        .and_then(|p| p.flow.clone())
        .unwrap_or_else(|| DEFAULT_FLOW.to_owned());
    let retry = login_url(
        &slug,
        &flow_slug,
        pending.as_ref().and_then(|p| p.next.as_deref()),
    );
    let clear = cookies::clear(&cookie_name(&services), services.config.is_https());
    let mut response = match finish(
        &services,
        &slug,
        &params,
        pending.as_ref(),
        (&headers, &audit),
    )
    .await
    {
        Ok((Matched::SignedIn(signed_in), pending, _)) => match pending.purpose {
            LoginPurpose::SignIn => {
                flow::continue_after_source(
                    &services,
                    peer,
                    &headers,
                    &flow_slug,
                    pending.next.clone(),
                    signed_in.user.id,
                    &slug,
                )
                .await
            }
            LoginPurpose::Link { .. } => see_other(PORTAL),
        },
        Ok((
            Matched::Enroll {
                flow: enrollment_flow,
                username_taken,
            },
            pending,
            identity,
        )) => {
            let taken = match (&identity.username, username_taken) {
                (Some(name), false) => match super::enrollment::is_taken(&services, name).await {
                    Ok(taken) => taken,
                    Err(error) => return flow::store_error_page(&services, error),
                },
                _ => true,
            };
            let seed = gatehouse_sources::enrollment::seed(&identity, taken);
            let enrollment = SourceEnrollment {
                source: slug.clone(),
                upstream_id: identity.subject,
                upstream_username: identity.username,
                unusable_username: seed.unusable_username,
                verified_email: seed.verified_email,
                groups: identity.groups,
                authentication_flow: flow_slug,
            };
            flow::start_source_enrollment(
                &services,
                peer,
                &headers,
                &enrollment_flow,
                pending.next,
                (seed.prompt_data, enrollment),
            )
            .await
        }
        Err((failure, username)) => {
            failure_page(&services, &slug, username, failure, &retry, &audit).await
        }
    };
    cookies::append(&mut response, &clear);
    response
}

/// The callback's work: what the upstream account leads to, the pending login and the
/// account; a failure carries the upstream username when it was already known.
async fn finish(
    services: &Services,
    slug: &str,
    params: &CallbackParams,
    pending: Option<&PendingLogin>,
    (headers, audit): (&HeaderMap, &AuditContext),
) -> Result<(Matched, PendingLogin, UpstreamIdentity), (Failure, Option<String>)> {
    let Some(pending) = pending else {
        let error = gatehouse_sources::SourceError::BadState;
        return Err((Failure::from(error), None));
    };
    // A link is answered only in the session of the user who asked for it, and is that
    // user's action in the audit log.
    let mut audit = audit.clone();
    if let LoginPurpose::Link { user } = &pending.purpose {
        let current = super::session::current(services, headers)
            .await
            .map_err(|e| (Failure::Store(e), None))?;
        match current {
            Some((_, signed_in)) if signed_in.id == *user => {
                audit = crate::authn::acting_as(&signed_in, &audit);
            }
            _ => {
                let error = gatehouse_sources::SourceError::BadState;
                return Err((Failure::from(error), None));
            }
        }
    }
    let ready = login::ready(services, slug).await.map_err(|f| (f, None))?;
    let identity = login::identify(services, &ready, params, pending)
        .await
        .map_err(|f| (f, None))?;
    let who = identity
        .username
        .clone()
        .unwrap_or_else(|| identity.subject.clone());
    let matched = login::sign_in(services, &ready, &identity, &pending.purpose, &audit)
        .await
        .map_err(|f| (f, Some(who.clone())))?;
    match &matched {
        Matched::SignedIn(signed_in) => {
            tracing::info!(source = %slug, user = %signed_in.user.username, outcome = ?signed_in.outcome, "upstream source vouched for a user");
        }
        Matched::Enroll { flow, .. } => {
            tracing::info!(source = %slug, upstream_user = %who, %flow, "new upstream account goes through the enrollment flow");
        }
    }
    Ok((matched, pending.clone(), identity))
}

fn read_pending(services: &Services, headers: &HeaderMap, slug: &str) -> Option<PendingLogin> {
    let sealed = cookies::read(headers, &cookie_name(services))?;
    let bytes = services
        .secret_box
        .open(&sealed, &seal_context(slug))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn audit_context(peer: std::net::IpAddr, headers: &HeaderMap) -> AuditContext {
    AuditContext {
        actor_id: None,
        actor: "anonymous".into(),
        client_ip: Some(peer.to_string()),
        user_agent: headers
            .get(USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(512).collect()),
    }
}

/// A page with a "Try again" link.
#[derive(Template)]
#[template(path = "retry.html")]
struct RetryPage<'a> {
    brand: &'a crate::config::BrandingConfig,
    heading: &'a str,
    message: &'a str,
    retry: &'a str,
}

/// The page for a failed login; refusals are audited as `login_failed`.
async fn failure_page(
    services: &Services,
    slug: &str,
    username: Option<String>,
    failure: Failure,
    retry: &str,
    audit: &AuditContext,
) -> Response {
    let brand = &services.config.branding;
    match failure {
        Failure::UnknownSource => pages::message(
            StatusCode::NOT_FOUND,
            brand,
            "Not found",
            "There is no such sign-in method.",
        ),
        Failure::Unreachable => pages::render(
            StatusCode::BAD_GATEWAY,
            &RetryPage {
                brand,
                heading: "Sign-in service unavailable",
                message: "The service you sign in with did not answer in time. Try again in a moment.",
                retry,
            },
        ),
        Failure::Misconfigured(why) => {
            tracing::error!(source = %slug, problem = %why, "upstream source cannot be used");
            crate::authn::record_source_failure(
                services,
                slug,
                username.as_deref().unwrap_or(""),
                "source_unusable",
                audit,
            )
            .await;
            pages::render(
                StatusCode::BAD_GATEWAY,
                &RetryPage {
                    brand,
                    heading: "Sign-in service unavailable",
                    message: "Signing in with this service does not work right now; the \
                              administrator has been told. Try again later or sign in another way.",
                    retry,
                },
            )
        }
        Failure::Refused { reason, message } => {
            tracing::info!(source = %slug, %reason, "upstream login refused");
            crate::authn::record_source_failure(
                services,
                slug,
                username.as_deref().unwrap_or(""),
                &reason,
                audit,
            )
            .await;
            pages::render(
                StatusCode::FORBIDDEN,
                &RetryPage {
                    brand,
                    heading: "Sign-in refused",
                    message: &message,
                    retry,
                },
            )
        }
        Failure::Store(error) => flow::store_error_page(services, error),
    }
}
