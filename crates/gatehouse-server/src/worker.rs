//! Background work: periodic sweeps of expired tokens and sessions, and email delivery (see
//! [`crate::mail`]). Runs embedded in `serve` or alone as `gatehouse worker`; sweeps are
//! idempotent deletes and deliveries are leased, so several workers are safe.

use crate::services::Services;
use chrono::Utc;
use std::time::Duration;
use tokio::sync::watch;

/// Rows one sweep removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Expired tokens deleted.
    pub tokens: u64,
    /// Expired sessions deleted.
    pub sessions: u64,
    /// Expired RFC 8628 device authorizations deleted.
    pub device_authorizations: u64,
}

/// Deletes expired tokens, sessions and device authorizations once.
pub async fn sweep(services: &Services) -> Result<SweepReport, gatehouse_core::StoreError> {
    let now = Utc::now();
    let tokens = services.store.delete_expired_tokens(now).await?;
    let sessions = services.store.delete_expired_sessions(now).await?;
    let device_authorizations = services
        .store
        .delete_expired_device_authorizations(now)
        .await?;
    metrics::counter!("gatehouse_worker_sweeps_total").increment(1);
    metrics::counter!("gatehouse_worker_swept_rows_total", "kind" => "token").increment(tokens);
    metrics::counter!("gatehouse_worker_swept_rows_total", "kind" => "session").increment(sessions);
    metrics::counter!("gatehouse_worker_swept_rows_total", "kind" => "device_authorization")
        .increment(device_authorizations);
    Ok(SweepReport {
        tokens,
        sessions,
        device_authorizations,
    })
}

/// Sweeps every `worker.sweep_interval_secs` until `shutdown` flips to true.
pub async fn run(services: Services, mut shutdown: watch::Receiver<bool>) {
    let interval = Duration::from_secs(services.config.worker.sweep_interval_secs);
    tracing::info!(interval_secs = interval.as_secs(), "worker started");
    let delivery = tokio::spawn(crate::mail::run_delivery(
        services.clone(),
        shutdown.clone(),
    ));
    loop {
        if services.is_prepared() {
            match sweep(&services).await {
                Ok(report)
                    if report.tokens + report.sessions + report.device_authorizations > 0 =>
                {
                    tracing::info!(
                        tokens = report.tokens,
                        sessions = report.sessions,
                        device_authorizations = report.device_authorizations,
                        "swept expired rows"
                    );
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "sweep failed; will retry"),
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = shutdown.changed() => break,
        }
        if *shutdown.borrow() {
            break;
        }
    }
    if let Err(error) = delivery.await {
        tracing::error!(%error, "email delivery task failed");
    }
    tracing::info!("worker stopped");
}
