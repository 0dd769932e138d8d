//! Process lifecycle for `serve` and `worker`: bind listeners, prepare with retries while the
//! database is away, run until SIGTERM/SIGINT, then let in-flight requests finish.

use crate::prepare::{self, PrepareError};
use crate::services::Services;
use crate::{web, worker};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// How long in-flight requests may take to finish after a shutdown signal.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(25);

/// Why the process stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A listener could not be bound.
    #[error("cannot listen on {addr}: {reason}")]
    Bind {
        /// The address from the configuration.
        addr: SocketAddr,
        /// The operating system's reason.
        reason: String,
    },
    /// Preparation hit a condition retrying cannot fix.
    #[error("start-up failed: {0}")]
    Startup(String),
    /// The HTTP server failed.
    #[error("HTTP server failed: {0}")]
    Http(String),
    /// The HTTPS listener's certificate or key cannot be used.
    #[error("HTTPS listener: {0}")]
    Tls(String),
}

/// Options of `gatehouse serve`.
#[derive(Clone, Copy, Debug)]
pub struct ServeOptions {
    /// Run the background worker inside this process.
    pub embedded_worker: bool,
}

/// Runs the HTTP and metrics listeners (and the embedded worker) until a shutdown signal.
pub async fn serve(services: Services, options: ServeOptions) -> Result<(), RunError> {
    let config = services.config.clone();
    let http = bind(config.listen.http).await?;
    let metrics = match config.listen.metrics {
        Some(addr) => Some(bind(addr).await?),
        None => None,
    };
    let https = match (config.listen.https, &config.tls) {
        (Some(addr), tls) => {
            let files = match (&tls.certificate_file, &tls.private_key_file) {
                (Some(certificate), Some(private_key)) => crate::https::CertificateFiles {
                    certificate: certificate.clone(),
                    private_key: private_key.clone(),
                },
                // Checked when the configuration loaded.
                _ => return Err(RunError::Tls("no certificate configured".to_owned())),
            };
            let listener = bind(addr).await?;
            Some(
                crate::https::HttpsListener::new(
                    listener,
                    files,
                    Duration::from_secs(tls.reload_interval_secs),
                )
                .map_err(RunError::Tls)?,
            )
        }
        (None, _) => None,
    };
    crate::telemetry::metrics_handle();
    let (stop_tx, stop_rx) = watch::channel(false);
    let (fatal_tx, mut fatal_rx) = tokio::sync::mpsc::channel::<String>(1);

    tokio::spawn(prepare_until_done(services.clone(), true, fatal_tx));
    spawn_redis_tasks(&services, &stop_rx);
    if let Some(https) = https {
        tokio::spawn(https.serve(web::router(services.clone()), stop_rx.clone()));
    }
    if options.embedded_worker {
        tokio::spawn(worker::run(services.clone(), stop_rx.clone(), "serve"));
    }
    if let Some(listener) = metrics {
        spawn_metrics_listener(listener, services.clone(), stop_rx.clone());
    }
    tracing::info!(
        http = %config.listen.http,
        https = ?config.listen.https,
        metrics = ?config.listen.metrics,
        database = services.sql.backend(),
        url = %config.base_url(),
        "Gatehouse is listening"
    );

    let app = web::router(services).into_make_service_with_connect_info::<SocketAddr>();
    let mut stop_for_http = stop_rx.clone();
    let server = axum::serve(http, app).with_graceful_shutdown(async move {
        let _ = stop_for_http.wait_for(|stopped| *stopped).await;
    });
    let server = tokio::spawn(async move { server.await });

    let outcome = tokio::select! {
        () = shutdown_signal() => {
            tracing::info!("shutdown requested; finishing in-flight requests");
            Ok(())
        }
        Some(reason) = fatal_rx.recv() => Err(RunError::Startup(reason)),
    };
    let _ = stop_tx.send(true);
    match tokio::time::timeout(DRAIN_TIMEOUT, server).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(error))) => return Err(RunError::Http(error.to_string())),
        Ok(Err(join)) => return Err(RunError::Http(join.to_string())),
        Err(_) => tracing::warn!("in-flight requests did not finish in time; stopping anyway"),
    }
    tracing::info!("stopped");
    outcome
}

/// Runs only the background worker until a shutdown signal. The metrics listener (when
/// configured) serves metrics and health checks, so orchestrators can probe the worker too.
pub async fn run_worker(services: Services) -> Result<(), RunError> {
    let metrics = match services.config.listen.metrics {
        Some(addr) => Some(bind(addr).await?),
        None => None,
    };
    crate::telemetry::metrics_handle();
    let (stop_tx, stop_rx) = watch::channel(false);
    let (fatal_tx, mut fatal_rx) = tokio::sync::mpsc::channel::<String>(1);
    tokio::spawn(prepare_until_done(services.clone(), false, fatal_tx));
    spawn_redis_tasks(&services, &stop_rx);
    if let Some(listener) = metrics {
        spawn_metrics_listener(listener, services.clone(), stop_rx.clone());
    }
    tracing::info!(
        metrics = ?services.config.listen.metrics,
        database = services.sql.backend(),
        "Gatehouse worker is running"
    );
    let worker = tokio::spawn(worker::run(services, stop_rx, "worker"));
    let outcome = tokio::select! {
        () = shutdown_signal() => Ok(()),
        Some(reason) = fatal_rx.recv() => Err(RunError::Startup(reason)),
    };
    let _ = stop_tx.send(true);
    let _ = worker.await;
    outcome
}

/// With Redis configured: the link's health monitor and the cache invalidation subscriber;
/// the worker's wake-up relay starts with the worker (see [`worker::run`]).
fn spawn_redis_tasks(services: &Services, stop: &watch::Receiver<bool>) {
    if let Some(link) = &services.redis {
        tokio::spawn(link.clone().monitor(stop.clone()));
        tokio::spawn(crate::redis::invalidation::subscribe(
            services.clone(),
            stop.clone(),
        ));
    }
}

/// Serves the metrics router until the stop signal.
fn spawn_metrics_listener(
    listener: TcpListener,
    services: Services,
    mut stop: watch::Receiver<bool>,
) {
    let router = web::metrics_router(services);
    tokio::spawn(async move {
        let shutdown = async move {
            let _ = stop.wait_for(|stopped| *stopped).await;
        };
        if let Err(error) = axum::serve(listener, router)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!(%error, "metrics listener failed");
        }
    });
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, RunError> {
    TcpListener::bind(addr).await.map_err(|e| RunError::Bind {
        addr,
        reason: e.to_string(),
    })
}

/// Retries preparation with capped exponential backoff while the database is unavailable.
async fn prepare_until_done(
    services: Services,
    issue_setup_link: bool,
    fatal: tokio::sync::mpsc::Sender<String>,
) {
    let mut delay = Duration::from_millis(250);
    loop {
        match prepare::prepare(&services, issue_setup_link).await {
            Ok(prepared) => {
                if let Some(link) = prepared.setup_link {
                    tracing::warn!(
                        "Gatehouse has no administrator yet. Open this one-time link to create one: {link}"
                    );
                }
                tracing::info!("ready");
                return;
            }
            Err(PrepareError::Unavailable) => {
                tracing::warn!(
                    retry_in_ms = delay.as_millis() as u64,
                    "database unavailable during start-up; retrying"
                );
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(10));
            }
            Err(PrepareError::Fatal(reason)) => {
                tracing::error!(%reason, "start-up failed");
                let _ = fatal.send(reason).await;
                return;
            }
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
