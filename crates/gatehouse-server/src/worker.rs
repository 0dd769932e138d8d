//! Background work: periodic sweeps of expired rows (see [`crate::sweep`]), email
//! delivery (see [`crate::mail`]) and back-channel logout delivery (see
//! [`crate::oidc::backchannel`]). Runs embedded in `serve` or alone as `gatehouse worker`;
//! sweeps are idempotent deletes and deliveries are leased, so several workers are safe.
//! With Redis, a server's new mail wakes a worker at once (`crate::redis::wakeup`). Each
//! worker records a heartbeat (`heartbeat` below) that the admin overview shows.

use crate::services::Services;
use crate::sweep::sweep;
use chrono::Utc;
use gatehouse_core::WorkerHeartbeat;
use std::time::Duration;
use tokio::sync::watch;

/// Sweeps every `worker.sweep_interval_secs` until `shutdown` flips to true. `process`
/// names the command it runs in (`serve` or `worker`) for the heartbeat.
pub async fn run(services: Services, mut shutdown: watch::Receiver<bool>, process: &'static str) {
    let interval = Duration::from_secs(services.config.worker.sweep_interval_secs);
    tracing::info!(interval_secs = interval.as_secs(), "worker started");
    let beats = tokio::spawn(heartbeat(services.clone(), shutdown.clone(), process));
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
    if let Err(error) = beats.await {
        tracing::error!(%error, "worker heartbeat task failed");
    }
    if let Err(error) = delivery.await {
        tracing::error!(%error, "email delivery task failed");
    }
    if let Err(error) = logouts.await {
        tracing::error!(%error, "back-channel logout delivery task failed");
    }
    tracing::info!("worker stopped");
}

/// Workers not seen for this long are forgotten (stopped or replaced processes).
const FORGET_WORKERS_AFTER: chrono::Duration = chrono::Duration::days(1);

/// Records this worker's heartbeat every `worker.heartbeat_interval_secs` until `shutdown`.
/// The row stays when the worker stops, so the overview shows it going stale; rows of
/// workers gone for a day are deleted. A failed beat is logged and retried at the next one.
async fn heartbeat(services: Services, mut shutdown: watch::Receiver<bool>, process: &'static str) {
    let interval_secs = services.config.worker.heartbeat_interval_secs.max(1);
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown host".to_owned());
    let mut beat = WorkerHeartbeat {
        worker_id: uuid::Uuid::new_v4().to_string(),
        description: format!("{host} (pid {}, {process})", std::process::id()),
        started_at: Utc::now(),
        last_seen: Utc::now(),
        interval_secs: i64::try_from(interval_secs).unwrap_or(i64::MAX),
    };
    loop {
        // Until the database is prepared, look again every second so the first beat is
        // not a whole interval late.
        let mut wait = Duration::from_secs(1).min(Duration::from_secs(interval_secs));
        if services.is_prepared() {
            wait = Duration::from_secs(interval_secs);
            beat.last_seen = Utc::now();
            if let Err(error) = services.store.record_worker_heartbeat(&beat).await {
                tracing::warn!(%error, "recording the worker heartbeat failed; will retry");
            } else if let Err(error) = services
                .store
                .forget_workers_seen_before(beat.last_seen - FORGET_WORKERS_AFTER)
                .await
            {
                tracing::warn!(%error, "forgetting old worker heartbeats failed");
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => break,
        }
        if *shutdown.borrow() {
            break;
        }
    }
}
