//! The metrics listener's router: Prometheus text, with gauges that are cheaper to read at
//! scrape time than to keep current (process and pool figures). It also answers the health
//! checks, so a `gatehouse worker` (which has no public listener) can be probed too.

use crate::services::Services;
use crate::telemetry;
use crate::web::health;
use axum::Router;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;

/// Serves `GET /metrics` and the liveness and readiness checks.
pub fn metrics_router(services: Services) -> Router {
    Router::new()
        .route("/metrics", get(render))
        .route("/-/health/live/", get(health::live))
        .route("/-/health/ready/", get(health::ready))
        .with_state(services)
}

async fn render(State(services): State<Services>) -> impl IntoResponse {
    telemetry::record_process_metrics();
    let pool = services.sql.pool_stats();
    metrics::gauge!("gatehouse_db_pool_connections", "state" => "open").set(f64::from(pool.size));
    metrics::gauge!("gatehouse_db_pool_connections", "state" => "idle").set(pool.idle as f64);
    metrics::gauge!("gatehouse_db_pool_max_connections").set(f64::from(pool.max));
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        telemetry::metrics_handle().render(),
    )
}
