//! Background work: periodic sweeps of expired rows (see [`crate::sweep`]), email
//! delivery (see [`crate::mail`]) and back-channel logout delivery (see
//! [`crate::oidc::backchannel`]). Runs embedded in `serve` or alone as `gatehouse worker`;
//! sweeps are idempotent deletes and deliveries are leased, so several workers are safe.
//! With Redis, a server's new mail wakes a worker at once (`crate::redis::wakeup`).

use crate::services::Services;
use crate::sweep::sweep;
use chrono::Utc;
use std::time::Duration;
use tokio::sync::watch;

/// Sweeps every `worker.sweep_interval_secs` until `shutdown` flips to true.
pub async fn run(services: Services, mut shutdown: watch::Receiver<bool>) {
    let interval = Duration::from_secs(services.config.worker.sweep_interval_secs);
    tracing::info!(interval_secs = interval.as_secs(), "worker started");
    let delivery = tokio::spawn(crate::mail::run_delivery(
        services.clone(),
        shutdown.clone(),
    ));
    let logouts = tokio::spawn(crate::oidc::backchannel::run_delivery(
        services.clone(),
        shutdown.clone(),
    ));
    // With Redis, new mail and logouts queued by a server wake delivery at once.
    tokio::spawn(crate::redis::wakeup::relay(
        services.clone(),
        shutdown.clone(),
    ));
    loop {
        if services.is_prepared() {
            match sweep(services.store.as_ref(), &services.config.worker, Utc::now()).await {
                Ok(report) if report.total() > 0 => {
                    tracing::info!(
                        tokens = report.tokens,
                        sessions = report.sessions,
                        invitations = report.invitations,
                        emails = report.emails,
                        oauth2_tokens = report.oauth2_tokens,
                        consents = report.consents,
                        device_authorizations = report.device_authorizations,
                        client_assertions = report.client_assertions,
                        signing_keys = report.signing_keys,
                        backchannel_logouts = report.backchannel_logouts,
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
    if let Err(error) = logouts.await {
        tracing::error!(%error, "back-channel logout delivery task failed");
    }
    tracing::info!("worker stopped");
}
