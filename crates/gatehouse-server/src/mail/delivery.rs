//! The delivery task: claims due messages from the outbox under a lease, sends them, and
//! records the result (sent; retried later with exponential backoff; or given up with an
//! audit event). Runs inside `gatehouse worker` and `gatehouse serve`, checking the outbox
//! every `email.poll_interval_ms` and at once when this process queued a message.

use super::message::open_body;
use super::sender::{SendError, Sender};
use crate::services::Services;
use chrono::{Duration, Utc};
use gatehouse_core::{AuditContext, RetryDecision, RetryPolicy, StoreError};
use tokio::sync::watch;
use uuid::Uuid;

/// Messages claimed per round.
const BATCH: u64 = 20;

/// What one round did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    /// Accepted by the SMTP server.
    pub sent: u32,
    /// Failed and rescheduled.
    pub retried: u32,
    /// Failed for good.
    pub given_up: u32,
}

/// How long a claim holds: long enough for a slow send, short enough that a crashed
/// worker's messages go out again soon.
fn lease(services: &Services) -> Duration {
    let timeout = i64::try_from(services.config.email.timeout_secs).unwrap_or(60);
    Duration::seconds(timeout.saturating_mul(3).saturating_add(30))
}

/// Claims and sends the due messages once, as `worker`.
pub async fn deliver_due(
    services: &Services,
    sender: &Sender,
    worker: Uuid,
) -> Result<DeliveryReport, StoreError> {
    let store = &services.store;
    let policy = services.config.email.retry_policy();
    let mut report = DeliveryReport::default();
    let claimed = store
        .claim_due_emails(worker, Utc::now(), lease(services), BATCH)
        .await?;
    for email in claimed {
        let result = match open_body(&services.secret_box, &email.sealed_body) {
            Some(body) => sender.send(&email.recipient, &email.subject, &body).await,
            None => Err(SendError::Config(
                "the message cannot be decrypted (was the secret key changed?)".into(),
            )),
        };
        match result {
            Ok(()) => {
                store.mark_email_sent(email.id, worker, Utc::now()).await?;
                tracing::info!(email = %email.id, kind = %email.kind, "email sent");
                metrics::counter!("gatehouse_email_sent_total").increment(1);
                report.sent += 1;
            }
            Err(error) => {
                // A refusal that cannot change is given up at once.
                let policy = if error.is_permanent() {
                    RetryPolicy {
                        max_attempts: 1,
                        ..policy
                    }
                } else {
                    policy
                };
                let decision = store
                    .mark_email_failed(
                        email.id,
                        worker,
                        Utc::now(),
                        &error.to_string(),
                        &policy,
                        &AuditContext::system(),
                    )
                    .await?;
                match decision {
                    Some(RetryDecision::RetryAt(at)) => {
                        tracing::warn!(email = %email.id, attempts = email.attempts, %at, %error, "email delivery failed; will retry");
                        report.retried += 1;
                    }
                    Some(RetryDecision::GiveUp) => {
                        tracing::error!(email = %email.id, attempts = email.attempts, %error, "email delivery gave up");
                        metrics::counter!("gatehouse_email_failed_total").increment(1);
                        report.given_up += 1;
                    }
                    None => {}
                }
            }
        }
    }
    Ok(report)
}

/// Delivers outbox messages until `shutdown` flips to true. Without `email.host` it only
/// says, once, that mail cannot be sent.
pub async fn run_delivery(services: Services, mut shutdown: watch::Receiver<bool>) {
    let sender = match Sender::from_config(&services.config.email) {
        Ok(Some(sender)) => sender,
        Ok(None) => {
            tracing::warn!(
                "email is not configured (email.host): password recovery and email verification links cannot be sent"
            );
            return;
        }
        Err(error) => {
            tracing::error!(%error, "email delivery is off");
            return;
        }
    };
    let worker = Uuid::new_v4();
    let interval = std::time::Duration::from_millis(services.config.email.poll_interval_ms.max(1));
    loop {
        if services.is_prepared() {
            match deliver_due(&services, &sender, worker).await {
                // A full batch may mean more are due: go again without waiting.
                Ok(report)
                    if u64::from(report.sent + report.retried + report.given_up) >= BATCH =>
                {
                    continue;
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "email delivery round failed; will retry"),
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = services.outbox_wakeup.notified() => {}
            _ = shutdown.changed() => break,
        }
        if *shutdown.borrow() {
            break;
        }
    }
}
