//! `GET`/`POST /application/o/<slug>/end-session/` (OpenID Connect RP-Initiated Logout 1.0).
//! A request from a client is validated by `gatehouse_oidc::end_session` and answered with a
//! confirmation page; the page's CSRF-protected form posts back here, and only then is the
//! Gatehouse session ended with its `logout` event and back-channel logouts (one transaction),
//! and the browser sent to the validated
//! `post_logout_redirect_uri` (with `state`) or shown "You are signed out". A browser with
//! no session skips the question. An invalid request gets an error page, never a redirect.

use super::responses::see_other;
use crate::oidc::grants;
use crate::services::Services;
use crate::web::client::ClientIp;
use crate::web::{cookies, csrf, pages, session};
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::header::{CACHE_CONTROL, USER_AGENT};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use gatehouse_core::{
    Application, AuditContext, Change, EventAction, NewEvent, OAuth2Provider, SessionId,
    StoreError, User,
};
use gatehouse_oidc::end_session::{self, Logout, PARAMETERS};
use gatehouse_oidc::params::Params;

/// The confirmation form's CSRF field; its presence marks a confirmation.
const CSRF_FIELD: &str = "csrf";

/// Parameters in the query string.
pub(super) async fn end_session_get(
    State(services): State<Services>,
    ClientIp(ip): ClientIp,
    Path(slug): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let request = Request {
        services: &services,
        headers: &headers,
        ip,
        slug: &slug,
    };
    request.answer(&query.unwrap_or_default(), false).await
}

/// Parameters in a form body: a client's request (§2 requires POST support) or the
/// confirmation form.
pub(super) async fn end_session_post(
    State(services): State<Services>,
    ClientIp(ip): ClientIp,
    Path(slug): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = Request {
        services: &services,
        headers: &headers,
        ip,
        slug: &slug,
    };
    let Ok(text) = std::str::from_utf8(&body) else {
        return request.refuse(StatusCode::BAD_REQUEST, "The request is not valid UTF-8.");
    };
    request.answer(text, true).await
}

#[derive(Template)]
#[template(path = "end_session.html")]
struct ConfirmPage<'a> {
    brand: &'a crate::config::BrandingConfig,
    application: &'a str,
    username: &'a str,
    action: String,
    csrf: String,
    fields: Vec<(&'static str, String)>,
}

/// One logout request.
struct Request<'a> {
    services: &'a Services,
    headers: &'a HeaderMap,
    ip: std::net::IpAddr,
    slug: &'a str,
}

impl Request<'_> {
    async fn answer(&self, form: &str, posted: bool) -> Response {
        match self.decide(form, posted).await {
            Ok(response) => response,
            Err(StoreError::Unavailable) => self.refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "Gatehouse cannot reach its database right now. Try again in a moment.",
            ),
            Err(error) => {
                tracing::error!(%error, "end-session failed");
                self.refuse(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong. Try again in a moment.",
                )
            }
        }
    }

    async fn decide(&self, form: &str, posted: bool) -> Result<Response, StoreError> {
        let params = match Params::parse_form(form) {
            Ok(params) => params,
            Err(error) => {
                return Ok(self.refuse(
                    StatusCode::BAD_REQUEST,
                    &format!("The request is malformed: {error}."),
                ));
            }
        };
        let Some((app, provider)) = self.application().await? else {
            return Ok(self.refuse(
                StatusCode::NOT_FOUND,
                "The application is not known to Gatehouse.",
            ));
        };
        let published = crate::oidc::cache::published_keys(self.services).await?;
        let issuer = grants::issuer(self.services, &app);
        let logout =
            match end_session::validate(&params, &issuer, &provider, &published.verification) {
                Ok(logout) => logout,
                Err(error) => {
                    tracing::info!(application = %app.slug, %error, "end-session request refused");
                    return Ok(self.refuse(StatusCode::BAD_REQUEST, &format!("{error}.")));
                }
            };
        let Some((ended, user)) = session::current(self.services, self.headers).await? else {
            return Ok(self.finish(&logout, None));
        };
        let confirmed = posted && params.get(CSRF_FIELD).is_some();
        if !confirmed {
            return Ok(self.confirmation(&app, &user, &params, &logout));
        }
        let token = params.get(CSRF_FIELD).unwrap_or_default();
        if !csrf::verify(self.services, self.headers, token) {
            return Ok(self.refuse(
                StatusCode::FORBIDDEN,
                "The form has expired. Go back to the application and sign out again.",
            ));
        }
        self.end(&app, &user, ended.id).await?;
        let clear = session::clear_cookie(self.services);
        Ok(self.finish(&logout, Some(&clear)))
    }

    async fn application(&self) -> Result<Option<(Application, OAuth2Provider)>, StoreError> {
        Ok(self
            .services
            .store
            .application_by_slug(self.slug)
            .await?
            .and_then(|app| app.oauth2.clone().map(|provider| (app, provider))))
    }

    /// The question, with the validated request carried in hidden fields and checked again
    /// when it comes back. Its `form-action` allows the validated post-logout redirect, where
    /// confirming ends up.
    fn confirmation(
        &self,
        app: &Application,
        user: &User,
        params: &Params,
        logout: &Logout,
    ) -> Response {
        let (csrf, set_cookie) = csrf::form_token(self.services, self.headers);
        let fields = PARAMETERS
            .iter()
            .filter_map(|name| params.get(name).map(|value| (*name, value.to_owned())))
            .collect();
        let mut response = pages::render(
            StatusCode::OK,
            &ConfirmPage {
                brand: &self.services.config.branding,
                application: &app.name,
                username: &user.username,
                action: format!("/application/o/{}/end-session/", app.slug),
                csrf,
                fields,
            },
        );
        if let Some(cookie) = set_cookie {
            cookies::append(&mut response, &cookie);
        }
        if let Some(policy) = logout
            .redirect_to
            .as_deref()
            .and_then(super::csp_for_form_target)
        {
            response
                .headers_mut()
                .insert(axum::http::header::CONTENT_SECURITY_POLICY, policy);
        }
        no_store(response)
    }

    /// Ends the session with its `logout` event and back-channel logouts, in one transaction.
    async fn end(
        &self,
        app: &Application,
        user: &User,
        ended: SessionId,
    ) -> Result<(), StoreError> {
        let event = NewEvent::about_model(EventAction::Logout, "user", user.id, &user.username)
            .with("application", app.slug.as_str())
            .with("via", "end_session");
        let audit = AuditContext {
            actor_id: Some(user.id),
            actor: user.username.clone(),
            client_ip: Some(self.ip.to_string()),
            user_agent: self
                .headers
                .get(USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.chars().take(256).collect()),
        };
        let changes = vec![Change::EndSession(ended), Change::RecordEvent(event)];
        self.services.apply_changes(&changes, &audit).await
    }

    /// After logout: the validated redirect, or the signed-out page.
    fn finish(&self, logout: &Logout, clear_cookie: Option<&str>) -> Response {
        let mut response = match &logout.redirect_to {
            Some(location) => see_other(location),
            None => no_store(pages::message(
                StatusCode::OK,
                &self.services.config.branding,
                "You are signed out",
                "Your Gatehouse session has ended. You can close this window.",
            )),
        };
        if let Some(cookie) = clear_cookie {
            cookies::append(&mut response, cookie);
        }
        response
    }

    /// An error page; never a redirect.
    fn refuse(&self, status: StatusCode, message: &str) -> Response {
        no_store(pages::message(
            status,
            &self.services.config.branding,
            "This sign-out request cannot be completed",
            message,
        ))
    }
}

fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
