//! Cross-cutting HTTP layers: request ids and tracing, metrics, security headers, and the
//! start-up gate that answers 503 until preparation has finished.

use crate::services::Services;
use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::http::header::{self, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::time::Instant;
use tower::ServiceBuilder;
use tower::layer::util::{Identity, Stack};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

type RequestIdStack = Stack<
    PropagateRequestIdLayer,
    Stack<
        TraceLayer<
            tower_http::classify::SharedClassifier<tower_http::classify::ServerErrorsAsFailures>,
            fn(&Request) -> tracing::Span,
        >,
        Stack<SetRequestIdLayer<MakeRequestUuid>, Identity>,
    >,
>;

/// Gives every request an `x-request-id` (kept if the client or proxy sent one), logs it with
/// the request's method, path (never the query string, which may carry tokens) and outcome, and
/// echoes it in the response.
pub(crate) fn request_id_and_tracing() -> ServiceBuilder<RequestIdStack> {
    ServiceBuilder::new()
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span as fn(&Request) -> tracing::Span),
        )
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
}

fn request_span(request: &Request) -> tracing::Span {
    let request_id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        request_id = %request_id,
    )
}

/// Counts requests and observes latency by route template (not raw path, to bound cardinality).
pub(crate) async fn record_metrics(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("gatehouse_http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("gatehouse_http_request_duration_seconds", "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

/// The policy up to and including `form-action 'self'` (written once for both uses above).
macro_rules! csp_up_to_form_action {
    () => {
        "default-src 'self'; img-src 'self' data: https:; frame-ancestors 'none'; form-action 'self'"
    };
}

/// The rest of the policy.
macro_rules! csp_after_form_action {
    () => {
        "; base-uri 'none'; object-src 'none'"
    };
}

/// Headers every response gets: no framing, no sniffing, no referrer (setup and recovery
/// links carry tokens in their query), a strict content security policy, and no caching of
/// pages.
pub(crate) async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let fixed = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
    ];
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(concat!(
            csp_up_to_form_action!(),
            csp_after_form_action!()
        )));
    for (name, value) in fixed {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    }
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

/// The strict content security policy, with `form_targets` (CSP source expressions, see
/// `gatehouse_oidc::redirect::csp_source`) allowed as `form-action` next to `'self'`: a page
/// whose form ends, through redirects, at an OAuth client's redirect URI must name it, or the
/// browser stops the last redirect.
pub(crate) fn content_security_policy(form_targets: &[String]) -> String {
    let mut policy = String::from(csp_up_to_form_action!());
    for target in form_targets {
        policy.push(' ');
        policy.push_str(target);
    }
    policy.push_str(csp_after_form_action!());
    policy
}

/// Answers 503 for everything but health checks until start-up preparation has finished.
pub(crate) async fn require_prepared(
    State(services): State<Services>,
    request: Request,
    next: Next,
) -> Response {
    if services.is_prepared() || request.uri().path().starts_with("/-/health/") {
        return next.run(request).await;
    }
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, "5")],
        "Gatehouse is starting; try again in a few seconds.\n",
    )
        .into_response()
}
