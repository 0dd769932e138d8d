//! Page rendering shared by every HTML handler: branding, the stylesheet, error pages.

use crate::config::BrandingConfig;
use askama::Template;
use axum::http::StatusCode;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{Html, IntoResponse, Response};

/// Renders a template with a status; a template failure is logged and becomes a plain 500.
pub(crate) fn render(status: StatusCode, template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(error) => {
            tracing::error!(%error, "template rendering failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error\n").into_response()
        }
    }
}

/// A page with a heading and one paragraph.
#[derive(Template)]
#[template(path = "message.html")]
pub(crate) struct MessagePage<'a> {
    pub(crate) brand: &'a BrandingConfig,
    pub(crate) heading: &'a str,
    pub(crate) message: &'a str,
}

/// Renders a [`MessagePage`].
pub(crate) fn message(
    status: StatusCode,
    brand: &BrandingConfig,
    heading: &str,
    message: &str,
) -> Response {
    render(
        status,
        &MessagePage {
            brand,
            heading,
            message,
        },
    )
}

/// `GET /static/gatehouse.css`, compiled into the binary.
pub(crate) async fn stylesheet() -> impl IntoResponse {
    (
        [
            (CONTENT_TYPE, "text/css; charset=utf-8"),
            (CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../templates/gatehouse.css"),
    )
}

/// `GET /static/webauthn.js`: the passkey ceremony script, compiled into the binary (pages
/// load it with `<script src>`, so the CSP needs no inline scripts).
pub(crate) async fn webauthn_script() -> impl IntoResponse {
    (
        [
            (CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../templates/webauthn.js"),
    )
}

/// Anything unrouted.
pub(crate) async fn not_found() -> impl IntoResponse {
    (StatusCode::NOT_FOUND, "not found\n")
}
