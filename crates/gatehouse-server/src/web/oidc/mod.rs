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
use axum::routing::{get, post};

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
