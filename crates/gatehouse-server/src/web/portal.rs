//! The user portal (`/if/user/`): who I am, my groups, my sessions. Grows with each feature
//! (applications, password change, MFA devices).

use super::flow::LOGIN_PATH;
use super::{csrf, pages, session};
use crate::config::BrandingConfig;
use crate::services::Services;
use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::http::header::LOCATION;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use gatehouse_core::{
    AuditContext, Change, DeviceId, DeviceKind, EventAction, NewEvent, SessionId, StoreError, User,
};
use serde::Deserialize;

/// One line of the sessions list.
struct SessionLine {
    id: String,
    started: String,
    client: String,
    current: bool,
}

/// One line of the devices list.
struct DeviceLine {
    id: String,
    name: String,
    kind: &'static str,
    added: String,
    /// For recovery codes: how many are unused.
    codes_left: Option<u64>,
}

/// One linked upstream account.
struct ConnectionLine {
    source_slug: String,
    source_name: String,
    upstream_username: String,
    last_login: String,
}

/// An enabled source the user has no link at yet ("Link …" button).
struct LinkableSource {
    slug: String,
    name: String,
}

#[derive(Template)]
#[template(path = "portal.html")]
struct PortalPage<'a> {
    connections: Vec<ConnectionLine>,
    linkable: Vec<LinkableSource>,
    brand: &'a BrandingConfig,
    user: &'a User,
    groups: Vec<String>,
    sessions: Vec<SessionLine>,
    devices: Vec<DeviceLine>,
    has_recovery_codes: bool,
    csrf: String,
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
            id: s.id.to_string(),
            started: s.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            client: s
                .client_ip
                .clone()
                .unwrap_or_else(|| "unknown address".into()),
            current: s.id == current.id,
        })
        .collect();
    let mut devices = Vec::new();
    for d in services.store.devices_of(user.id).await? {
        let codes_left = match d.kind {
            DeviceKind::Static => Some(services.store.static_codes_left(d.id).await?),
            _ => None,
        };
        devices.push(DeviceLine {
            id: d.id.to_string(),
            name: d.name,
            kind: match d.kind {
                DeviceKind::Totp => "authenticator app",
                DeviceKind::Webauthn => "passkey",
                DeviceKind::Static => "recovery codes",
            },
            added: d.created_at.format("%Y-%m-%d").to_string(),
            codes_left,
        });
    }
    let has_recovery_codes = devices.iter().any(|d| d.codes_left.is_some());
    let sources = services.store.list_sources().await?;
    let linked = services.store.source_connections_of(user.id).await?;
    let connections = linked
        .iter()
        .map(|c| ConnectionLine {
            source_name: sources
                .iter()
                .find(|s| s.id == c.source_id)
                .map_or_else(|| c.source_slug.clone(), |s| s.settings.name.clone()),
            source_slug: c.source_slug.clone(),
            upstream_username: c
                .upstream_username
                .clone()
                .unwrap_or_else(|| c.upstream_id.clone()),
            last_login: c.last_login.map_or_else(
                || "never".into(),
                |at| at.format("%Y-%m-%d %H:%M UTC").to_string(),
            ),
        })
        .collect();
    let linkable = sources
        .into_iter()
        .filter(|s| s.settings.enabled && !linked.iter().any(|c| c.source_id == s.id))
        .map(|s| LinkableSource {
            slug: s.settings.slug,
            name: s.settings.name,
        })
        .collect();
    let (csrf, csrf_cookie) = csrf::form_token(services, headers);
    let page = PortalPage {
        connections,
        linkable,
        brand: &services.config.branding,
        user: &user,
        groups,
        sessions,
        devices,
        has_recovery_codes,
        csrf,
    };
    let mut response = pages::render(StatusCode::OK, &page);
    if let Some(cookie) = csrf_cookie {
        super::cookies::append(&mut response, &cookie);
    }
    Ok(response)
}

/// `GET /`: the portal.
pub(crate) async fn root() -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    response
        .headers_mut()
        .insert(LOCATION, HeaderValue::from_static("/if/user/"));
    response
}

/// The form of a session's "Sign out this session" button.
#[derive(Deserialize)]
pub(crate) struct RevokeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    session: String,
}

/// `POST /if/user/sessions/revoke`: ends one of the signed-in user's other sessions, with a
/// `model_deleted` event (model `session`) in the same transaction.
pub(crate) async fn revoke_session(
    State(services): State<Services>,
    super::client::ClientIp(peer): super::client::ClientIp,
    headers: HeaderMap,
    Form(form): Form<RevokeForm>,
) -> Response {
    let brand = &services.config.branding;
    if !csrf::verify(&services, &headers, &form.csrf) {
        return form_expired(brand);
    }
    let outcome = async {
        let Some((_, user)) = session::current(&services, &headers).await? else {
            return Ok(StatusCode::UNAUTHORIZED);
        };
        let Ok(target) = form.session.parse::<SessionId>() else {
            return Ok(StatusCode::NOT_FOUND);
        };
        // Only the user's own sessions: an id from someone else's list is "not found".
        let owned = services
            .store
            .sessions_of(user.id)
            .await?
            .iter()
            .any(|s| s.id == target);
        if !owned {
            return Ok(StatusCode::NOT_FOUND);
        }
        let audit = acting(&user, peer);
        let event = NewEvent::about_model(EventAction::ModelDeleted, "session", target, "session")
            .with("user_id", user.id.to_string());
        let changes = vec![Change::EndSession(target), Change::RecordEvent(event)];
        services.apply_changes(&changes, &audit).await?;
        Ok::<_, StoreError>(StatusCode::SEE_OTHER)
    }
    .await;
    action_response(&services, outcome, "session", "session revocation")
}

/// The form of a device's "Remove" and "Rename" buttons (`name` only for renaming).
#[derive(Deserialize)]
pub(crate) struct DeviceForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    device: String,
    #[serde(default)]
    name: String,
}

/// What the portal does to one of the signed-in user's MFA devices.
#[derive(Clone, Copy)]
enum DeviceAction {
    Remove,
    Rename,
}

/// `POST /if/user/devices/remove`: removes one of the signed-in user's MFA devices.
pub(crate) async fn remove_device(
    State(services): State<Services>,
    client: super::client::ClientIp,
    headers: HeaderMap,
    Form(form): Form<DeviceForm>,
) -> Response {
    device_action(&services, client, &headers, &form, DeviceAction::Remove).await
}

/// `POST /if/user/devices/rename`: renames one of the signed-in user's MFA devices.
pub(crate) async fn rename_device(
    State(services): State<Services>,
    client: super::client::ClientIp,
    headers: HeaderMap,
    Form(form): Form<DeviceForm>,
) -> Response {
    device_action(&services, client, &headers, &form, DeviceAction::Rename).await
}

async fn device_action(
    services: &Services,
    super::client::ClientIp(peer): super::client::ClientIp,
    headers: &HeaderMap,
    form: &DeviceForm,
    action: DeviceAction,
) -> Response {
    let brand = &services.config.branding;
    if !csrf::verify(services, headers, &form.csrf) {
        return form_expired(brand);
    }
    let outcome = async {
        let Some((_, user)) = session::current(services, headers).await? else {
            return Ok(StatusCode::UNAUTHORIZED);
        };
        let Ok(target) = form.device.parse::<DeviceId>() else {
            return Ok(StatusCode::NOT_FOUND);
        };
        match services.store.device(target).await? {
            // Only the user's own devices: someone else's id is "not found".
            Some(device) if device.user_id == user.id => {
                let audit = acting(&user, peer);
                match action {
                    DeviceAction::Remove => services.store.delete_device(target, &audit).await?,
                    DeviceAction::Rename => {
                        services
                            .store
                            .rename_device(target, form.name.trim(), &audit)
                            .await?;
                    }
                }
                Ok::<_, StoreError>(StatusCode::SEE_OTHER)
            }
            _ => Ok(StatusCode::NOT_FOUND),
        }
    }
    .await;
    match (action, outcome) {
        (DeviceAction::Rename, Err(StoreError::Invalid(error))) => pages::message(
            StatusCode::BAD_REQUEST,
            brand,
            "Name not accepted",
            &format!(
                "The device name {}. Go back and choose another.",
                error.message
            ),
        ),
        (DeviceAction::Remove, outcome) => {
            action_response(services, outcome, "device", "device removal")
        }
        (DeviceAction::Rename, outcome) => {
            action_response(services, outcome, "device", "device rename")
        }
    }
}

/// The form of a linked account's "Remove" button.
#[derive(Deserialize)]
pub(crate) struct ConnectionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    source: String,
}

/// `POST /if/user/connections/remove`: removes the signed-in user's link at a source, unless
/// it is their last way to sign in (no password, no other link), with a `model_deleted` event.
pub(crate) async fn remove_connection(
    State(services): State<Services>,
    super::client::ClientIp(peer): super::client::ClientIp,
    headers: HeaderMap,
    Form(form): Form<ConnectionForm>,
) -> Response {
    let brand = &services.config.branding;
    if !csrf::verify(&services, &headers, &form.csrf) {
        return form_expired(brand);
    }
    let outcome = async {
        let Some((_, user)) = session::current(&services, &headers).await? else {
            return Ok(StatusCode::UNAUTHORIZED);
        };
        let Some(source) = services.store.source_by_slug(&form.source).await? else {
            return Ok(StatusCode::NOT_FOUND);
        };
        let audit = acting(&user, peer);
        match services
            .store
            .unlink_source(user.id, source.id, &audit)
            .await
        {
            Err(StoreError::NotFound { .. }) => Ok(StatusCode::NOT_FOUND),
            other => other.map(|()| StatusCode::SEE_OTHER),
        }
    }
    .await;
    match outcome {
        Err(StoreError::Conflict(_)) => pages::message(
            StatusCode::CONFLICT,
            brand,
            "Cannot remove this link",
            "This linked account is your only way to sign in. Set a password or link another \
             account first.",
        ),
        outcome => action_response(&services, outcome, "linked account", "unlinking"),
    }
}

/// The page for a form whose CSRF token did not verify.
fn form_expired(brand: &BrandingConfig) -> Response {
    pages::message(
        StatusCode::FORBIDDEN,
        brand,
        "Form expired",
        "Go back, reload the page and try again.",
    )
}

/// The audit context of the signed-in `user` acting on their own account from `peer`.
fn acting(user: &User, peer: std::net::IpAddr) -> AuditContext {
    AuditContext {
        actor_id: Some(user.id),
        actor: user.username.clone(),
        client_ip: Some(peer.to_string()),
        user_agent: None,
    }
}

/// The page after a portal action: back to the portal when done, otherwise a message. The
/// action answers `SEE_OTHER` (done), `UNAUTHORIZED` (no session) or `NOT_FOUND` (not the
/// user's, or gone).
fn action_response(
    services: &Services,
    outcome: Result<StatusCode, StoreError>,
    noun: &str,
    action: &str,
) -> Response {
    let brand = &services.config.branding;
    match outcome {
        Ok(StatusCode::SEE_OTHER) => {
            let mut response = StatusCode::SEE_OTHER.into_response();
            response
                .headers_mut()
                .insert(LOCATION, HeaderValue::from_static("/if/user/"));
            response
        }
        Ok(StatusCode::UNAUTHORIZED) => pages::message(
            StatusCode::UNAUTHORIZED,
            brand,
            "Signed out",
            "Sign in to manage your account.",
        ),
        Ok(_) => pages::message(
            StatusCode::NOT_FOUND,
            brand,
            "Not found",
            &format!("That {noun} does not exist or has already ended."),
        ),
        Err(StoreError::Unavailable) => pages::message(
            StatusCode::SERVICE_UNAVAILABLE,
            brand,
            "Temporarily unavailable",
            "Try again in a moment.",
        ),
        Err(error) => {
            tracing::error!(%error, "{action} failed");
            pages::message(
                StatusCode::INTERNAL_SERVER_ERROR,
                brand,
                "Something went wrong",
                "Try again in a moment.",
            )
        }
    }
}
