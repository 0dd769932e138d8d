//! The user portal (`/if/user/`): who I am, my groups, my sessions. Grows with each feature
//! (applications, password change, MFA devices).

use super::flow::LOGIN_PATH;
use super::{pages, session};
use crate::config::BrandingConfig;
use crate::services::Services;
use askama::Template;
use axum::extract::State;
use axum::http::header::LOCATION;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use gatehouse_core::{StoreError, User};

/// One line of the sessions list.
struct SessionLine {
    started: String,
    client: String,
    current: bool,
}

#[derive(Template)]
#[template(path = "portal.html")]
struct PortalPage<'a> {
    brand: &'a BrandingConfig,
    user: &'a User,
    groups: Vec<String>,
    sessions: Vec<SessionLine>,
}

/// `GET /if/user/`: the portal for the signed-in user; others are sent to sign in first.
pub(crate) async fn home(State(services): State<Services>, headers: HeaderMap) -> Response {
    match render_home(&services, &headers).await {
        Ok(response) => response,
        Err(StoreError::Unavailable) => pages::message(
            StatusCode::SERVICE_UNAVAILABLE,
            &services.config.branding,
            "Temporarily unavailable",
            "Gatehouse cannot reach its database right now. Try again in a moment.",
        ),
        Err(error) => {
            tracing::error!(%error, "portal failed");
            pages::message(
                StatusCode::INTERNAL_SERVER_ERROR,
                &services.config.branding,
                "Something went wrong",
                "Try again in a moment.",
            )
        }
    }
}

async fn render_home(services: &Services, headers: &HeaderMap) -> Result<Response, StoreError> {
    let Some((current, user)) = session::current(services, headers).await? else {
        let mut response = StatusCode::SEE_OTHER.into_response();
        let target = format!("{LOGIN_PATH}?next=/if/user/");
        if let Ok(location) = HeaderValue::from_str(&target) {
            response.headers_mut().insert(LOCATION, location);
        }
        return Ok(response);
    };
    let groups = services
        .store
        .effective_groups(user.id)
        .await?
        .into_iter()
        .map(|g| g.name)
        .collect();
    let sessions = services
        .store
        .sessions_of(user.id)
        .await?
        .into_iter()
        .map(|s| SessionLine {
            started: s.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            client: s
                .client_ip
                .clone()
                .unwrap_or_else(|| "unknown address".into()),
            current: s.id == current.id,
        })
        .collect();
    let page = PortalPage {
        brand: &services.config.branding,
        user: &user,
        groups,
        sessions,
    };
    Ok(pages::render(StatusCode::OK, &page))
}

/// `GET /`: the portal.
pub(crate) async fn root() -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    response
        .headers_mut()
        .insert(LOCATION, HeaderValue::from_static("/if/user/"));
    response
}
