//! Liveness and readiness for orchestrators: live means the process serves HTTP; ready means
//! start-up finished and the database (and Redis, when configured) answers within a second.
//! A Redis outage makes the process not ready although it still serves (everything that
//! uses Redis falls back), so an orchestrator and an operator see it; it recovers by itself.

use crate::services::Services;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

/// `GET /-/health/live/`
pub(crate) async fn live() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// `GET /-/health/ready/`: 200 when ready, 503 with the failing component otherwise.
pub(crate) async fn ready(State(services): State<Services>) -> (StatusCode, Json<Value>) {
    let database = match tokio::time::timeout(Duration::from_secs(1), services.store.ping()).await {
        Ok(Ok(())) => "ok",
        Ok(Err(_)) | Err(_) => "unavailable",
    };
    let startup = if services.is_prepared() {
        "ok"
    } else {
        "pending"
    };
    let redis = match &services.redis {
        Some(link) if link.check(Duration::from_secs(1)).await => Some("ok"),
        Some(_) => Some("unavailable"),
        None => None,
    };
    let ready = database == "ok" && startup == "ok" && redis.is_none_or(|r| r == "ok");
    metrics::gauge!("gatehouse_ready").set(if ready { 1.0 } else { 0.0 });
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let mut body = json!({
        "status": if ready { "ok" } else { "unavailable" },
        "database": database,
        "startup": startup,
    });
    if let Some(redis) = redis {
        body["redis"] = redis.into();
    }
    (status, Json(body))
}
