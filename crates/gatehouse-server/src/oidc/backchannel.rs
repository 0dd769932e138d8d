//! OpenID Connect Back-Channel Logout 1.0 §2.5: the worker task that posts logout tokens.
//! Ending a session queued one delivery per client (see `gatehouse_core::plan_logout`); this
//! task claims due deliveries under a lease, mints each token now (fresh `iat`/`exp`/`jti`,
//! signed with the client's key, `typ: logout+jwt`), posts it as `logout_token=...` with a
//! short timeout and no redirects followed, and records the result: delivered; retried with
//! exponential backoff; or given up with an audit event. It never runs in a user's request.

use crate::oidc::grants::{self, session_sid};
use crate::oidc::keys;
use crate::services::Services;
use chrono::{Duration, Utc};
use gatehouse_core::{AuditContext, LogoutDelivery, RetryDecision, RetryPolicy, StoreError};
use gatehouse_oidc::backchannel::{LOGOUT_TOKEN_TYP, LogoutTokenInput, logout_token_claims};
use gatehouse_oidc::jwt;
use tokio::sync::watch;
use uuid::Uuid;

/// Deliveries claimed per round.
const BATCH: u64 = 20;

/// What one round did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LogoutReport {
    /// Accepted by the client (200 or 204).
    pub delivered: u32,
    /// Failed and rescheduled.
    pub retried: u32,
    /// Failed for good.
    pub given_up: u32,
}

/// Why one attempt failed. `Permanent` failures are given up at once: retrying cannot help.
#[derive(Debug, thiserror::Error)]
enum AttemptError {
    #[error("{0}")]
    Transient(String),
    #[error("{0}")]
    Permanent(String),
}

/// The HTTP client for deliveries: `timeout`, and redirects are not followed (§2.5 names one
/// URI; following a redirect would hand the token to wherever it points).
pub fn http_client(timeout: std::time::Duration) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
}

/// Signs the logout token of `delivery` and posts it; the outcome of this one attempt.
async fn attempt(
    services: &Services,
    client: &reqwest::Client,
    delivery: &LogoutDelivery,
) -> Result<(), AttemptError> {
    let store_failed = |error: StoreError| AttemptError::Transient(error.to_string());
    let app = services
        .store
        .application_by_id(delivery.application_id)
        .await
        .map_err(store_failed)?
        .ok_or_else(|| AttemptError::Permanent("the application no longer exists".into()))?;
    let Some(provider) = app.oauth2.as_ref() else {
        return Err(AttemptError::Permanent(
            "the application no longer speaks OIDC".into(),
        ));
    };
    let Some(uri) = provider.backchannel_logout_uri.as_deref() else {
        return Err(AttemptError::Permanent(
            "the client no longer has a back-channel logout URI".into(),
        ));
    };
    let subject = match delivery.user_id {
        Some(user) => services
            .store
            .user_by_id(user)
            .await
            .map_err(store_failed)?
            .map(|user| grants::subject(services, &app, provider, &user)),
        None => None,
    };
    let issuer = grants::issuer(services, &app);
    let sid = session_sid(services, delivery.session_id);
    let jti = gatehouse_crypto::generate_token("");
    let claims = logout_token_claims(&LogoutTokenInput {
        issuer: &issuer,
        audience: &provider.client_id,
        subject: subject.as_deref(),
        session_id: Some(&sid),
        issued_at: Utc::now(),
        jti: &jti,
    })
    .map_err(|error| AttemptError::Permanent(error.to_string()))?;
    let key = keys::active_key(services, provider.signing_alg)
        .await
        .map_err(|error| AttemptError::Transient(error.to_string()))?;
    let token = jwt::sign(&key.signer, &key.kid, LOGOUT_TOKEN_TYP, &claims)
        .map_err(|_| AttemptError::Transient("the signing key is unusable".into()))?;
    let response = client
        .post(uri)
        .form(&[("logout_token", token.as_str())])
        .send()
        .await
        .map_err(|error| AttemptError::Transient(describe(&error)))?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let message = format!("the client answered HTTP {}", status.as_u16());
    // §2.8: 400 means the client refused this token; a redirect is never followed. Both
    // would be refused again. Timeouts, throttling and server errors may pass later.
    if status.is_redirection()
        || (status.is_client_error() && status.as_u16() != 408 && status.as_u16() != 429)
    {
        Err(AttemptError::Permanent(message))
    } else {
        Err(AttemptError::Transient(message))
    }
}

/// A connection error in words, without the URL's query (which never carries the token, but
/// a client's URI might carry a secret of its own).
fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "the client did not answer in time".into()
    } else if error.is_connect() {
        "the client could not be reached".into()
    } else {
        "the request to the client failed".into()
    }
}

/// How long a claim holds: longer than a delivery can take.
fn lease(services: &Services) -> Duration {
    let timeout = i64::try_from(services.config.worker.backchannel_timeout_secs).unwrap_or(60);
    Duration::seconds(timeout.saturating_mul(3).saturating_add(30))
}

/// Claims and posts the due deliveries once, as `worker`.
pub async fn deliver_due(
    services: &Services,
    client: &reqwest::Client,
    worker: Uuid,
) -> Result<LogoutReport, StoreError> {
    let store = &services.store;
    let policy = services.config.worker.backchannel_retry_policy();
    let mut report = LogoutReport::default();
    let claimed = store
        .claim_due_logouts(worker, Utc::now(), lease(services), BATCH)
        .await?;
    for delivery in claimed {
        let error = match attempt(services, client, &delivery).await {
            Ok(()) => {
                store
                    .mark_logout_delivered(delivery.id, worker, Utc::now())
                    .await?;
                tracing::info!(delivery = %delivery.id, application = %delivery.application_id, "back-channel logout delivered");
                count("delivered");
                report.delivered += 1;
                continue;
            }
            Err(error) => error,
        };
        let policy = match error {
            AttemptError::Permanent(_) => RetryPolicy {
                max_attempts: 1,
                ..policy
            },
            AttemptError::Transient(_) => policy,
        };
        let decision = store
            .mark_logout_failed(
                delivery.id,
                worker,
                Utc::now(),
                &error.to_string(),
                &policy,
                &AuditContext::system(),
            )
            .await?;
        match decision {
            Some(RetryDecision::RetryAt(at)) => {
                tracing::warn!(delivery = %delivery.id, attempts = delivery.attempts, %at, %error, "back-channel logout failed; will retry");
                count("retried");
                report.retried += 1;
            }
            Some(RetryDecision::GiveUp) => {
                tracing::error!(delivery = %delivery.id, attempts = delivery.attempts, %error, "back-channel logout gave up");
                count("given_up");
                report.given_up += 1;
            }
            None => {}
        }
    }
    Ok(report)
}

fn count(result: &'static str) {
    metrics::counter!("gatehouse_backchannel_logout_total", "result" => result).increment(1);
}

/// Delivers queued logout tokens until `shutdown` flips to true, checking the queue every
/// `worker.backchannel_poll_interval_ms` and whenever a session-ending commit wakes it.
pub async fn run_delivery(services: Services, mut shutdown: watch::Receiver<bool>) {
    let timeout =
        std::time::Duration::from_secs(services.config.worker.backchannel_timeout_secs.max(1));
    let client = match http_client(timeout) {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(%error, "back-channel logout delivery is off");
            return;
        }
    };
    let worker = Uuid::new_v4();
    let interval = std::time::Duration::from_millis(
        services.config.worker.backchannel_poll_interval_ms.max(1),
    );
    loop {
        if services.is_prepared() {
            match deliver_due(&services, &client, worker).await {
                Ok(report)
                    if u64::from(report.delivered + report.retried + report.given_up) >= BATCH =>
                {
                    continue;
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(%error, "back-channel logout round failed; will retry");
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = services.backchannel_wakeup.notified() => {}
            _ = shutdown.changed() => break,
        }
        if *shutdown.borrow() {
            break;
        }
    }
}
