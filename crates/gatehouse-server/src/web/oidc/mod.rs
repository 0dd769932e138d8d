//! The OAuth2/OIDC endpoints in authentik's layout (DESIGN.md): per-application discovery,
//! JWKS and end-session (RP-initiated logout), and the shared authorize, token, userinfo,
//! introspection, revocation and device authorization endpoints with the device user-code
//! page (`/if/device/`). Handlers only translate HTTP to `gatehouse-oidc` and `crate::oidc::grants`.

mod authorize;
mod client;
mod consent;
mod device;
mod discovery;
mod end_session;
mod introspect;
mod responses;
mod token;
mod userinfo;

use crate::services::Services;
use axum::Router;
use axum::http::HeaderValue;
use axum::routing::{get, post};
use gatehouse_oidc::AuthorizeError;
use gatehouse_oidc::params::Params;

/// The OIDC routes, merged into the public router.
pub(crate) fn routes() -> Router<Services> {
    Router::new()
        .route(
            "/application/o/{slug}/.well-known/openid-configuration",
            get(discovery::configuration),
        )
        .route("/application/o/{slug}/jwks/", get(discovery::jwks))
        .route(
            "/application/o/{slug}/end-session/",
            get(end_session::end_session_get).post(end_session::end_session_post),
        )
        .route(
            "/application/o/authorize/",
            get(authorize::authorize_get).post(authorize::authorize_post),
        )
        .route(consent::CONSENT_PATH, post(consent::answer))
        .route("/application/o/token/", post(token::token))
        .route("/application/o/device/", post(device::device_authorization))
        .route(device::DEVICE_PAGE, get(device::page).post(device::answer))
        .route(
            "/application/o/userinfo/",
            get(userinfo::userinfo_get).post(userinfo::userinfo_post),
        )
        .route("/application/o/introspect/", post(introspect::introspect))
        .route("/application/o/revoke/", post(introspect::revoke))
}

/// The `Content-Security-Policy` of a page whose form may end, through redirects, at
/// `redirect_uri` (browsers check `form-action` on each redirect after a form submission).
pub(crate) fn csp_for_form_target(redirect_uri: &str) -> Option<HeaderValue> {
    let source = gatehouse_oidc::redirect::csp_source(redirect_uri)?;
    HeaderValue::from_str(&crate::web::layers::content_security_policy(&[source])).ok()
}

/// Where the authorization request in a flow's `next` will send the browser, when its client
/// is known and the redirect URI registered (the authorization endpoint's own checks), so
/// the flow's pages can allow it as a form target. `None` for any other `next`.
pub(crate) async fn redirect_target_of_next(services: &Services, next: &str) -> Option<String> {
    let query = next.strip_prefix("/application/o/authorize/?")?;
    let params = Params::parse_form(query).ok()?;
    let client_id = gatehouse_oidc::authorize::client_id(&params).ok()?;
    let app = services
        .store
        .application_by_client_id(client_id)
        .await
        .ok()??;
    let provider = app.oauth2?;
    match gatehouse_oidc::authorize::validate(&params, &provider) {
        Ok(request) => Some(request.redirect_uri),
        Err(AuthorizeError::Redirect { redirect_uri, .. }) => Some(redirect_uri),
        Err(AuthorizeError::Page(_)) => None,
    }
}
