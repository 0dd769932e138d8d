//! The HTTP surface: a thin axum layer that parses requests, calls services and renders
//! responses. Routes follow the authentik-compatible layout in DESIGN.md.

mod admin;
mod api;
mod client;
mod cookies;
mod csrf;
mod enrollment;
mod flow;
mod health;
mod layers;
mod metrics_endpoint;
mod mfa;
mod oidc;
mod pages;
mod portal;
mod recovery;
mod recovery_codes;
mod session;
mod setup;
mod source;
mod webauthn;

use crate::services::Services;
use axum::Router;
use axum::routing::get;
use std::sync::Arc;

pub use api::openapi_document;
pub use metrics_endpoint::metrics_router;

/// The public router with every layer applied.
pub fn router(services: Services) -> Router {
    // Checked when the configuration loaded; an invalid list cannot reach this point.
    let trusted_proxies = Arc::new(services.config.listen.trusted_proxies().unwrap_or_default());
    Router::new()
        .route("/-/health/live/", get(health::live))
        .route("/-/health/ready/", get(health::ready))
        .route(
            "/if/flow/initial-setup/",
            get(setup::show_form).post(setup::submit_form),
        )
        .route("/if/flow/{slug}/", get(flow::show).post(flow::submit))
        .route("/if/user/", get(portal::home))
        .route(
            "/if/user/sessions/revoke",
            axum::routing::post(portal::revoke_session),
        )
        .route(
            "/if/user/devices/remove",
            axum::routing::post(portal::remove_device),
        )
        .route(
            "/if/user/connections/remove",
            axum::routing::post(portal::remove_connection),
        )
        .route(
            "/if/user/devices/rename",
            axum::routing::post(portal::rename_device),
        )
        .merge(oidc::routes(services.config.dex_compat.path()))
        .merge(source::routes())
        .merge(api::router())
        .merge(admin::routes())
        .route("/", get(portal::root))
        .route("/static/gatehouse.css", get(pages::stylesheet))
        .route("/static/webauthn.js", get(pages::webauthn_script))
        .fallback(pages::not_found)
        .layer(axum::middleware::from_fn_with_state(
            services.clone(),
            layers::require_prepared,
        ))
        .layer(axum::middleware::from_fn_with_state(
            trusted_proxies,
            client::resolve,
        ))
        .layer(axum::middleware::from_fn(layers::security_headers))
        .layer(axum::middleware::from_fn(layers::record_metrics))
        .layer(layers::request_id_and_tracing())
        .with_state(services)
}
