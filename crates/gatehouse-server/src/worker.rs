//! Background work: periodic sweeps of expired tokens, sessions, client-assertion records and
//! retired signing keys no token needs any more (key rotation's end of overlap), and email delivery (see
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
    /// Records of expired `private_key_jwt` client assertions deleted.
    pub client_assertions: u64,
    /// Retired signing keys deleted because no token they signed is still valid.
    pub signing_keys: u64,
}

/// Deletes expired tokens and sessions once.
pub async fn sweep(services: &Services) -> Result<SweepReport, gatehouse_core::StoreError> {
    let now = Utc::now();
    let tokens = services.store.delete_expired_tokens(now).await?;
    let sessions = services.store.delete_expired_sessions(now).await?;
    let client_assertions = services.store.delete_expired_client_assertions(now).await?;
    let signing_keys = services.store.delete_unverifiable_signing_keys(now).await?;
    metrics::counter!("gatehouse_worker_sweeps_total").increment(1);
    metrics::counter!("gatehouse_worker_swept_rows_total", "kind" => "token").increment(tokens);
    metrics::counter!("gatehouse_worker_swept_rows_total", "kind" => "session").increment(sessions);
    metrics::counter!("gatehouse_worker_swept_rows_total", "kind" => "client_assertion")
        .increment(client_assertions);
    metrics::counter!("gatehouse_worker_swept_rows_total", "kind" => "signing_key")
        .increment(signing_keys);
    Ok(SweepReport {
        tokens,
        sessions,
        client_assertions,
        signing_keys,
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
                    if report.tokens
                        + report.sessions
                        + report.client_assertions
                        + report.signing_keys
                        > 0 =>
                {
                    tracing::info!(
                        tokens = report.tokens,
                        sessions = report.sessions,
                        client_assertions = report.client_assertions,
                        signing_keys = report.signing_keys,
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
