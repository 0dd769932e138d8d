//! The email outbox: messages are written to a table in the same transaction as the change
//! that caused them (a recovery request, an invitation), and a worker delivers them later.
//! Delivery is at-least-once with leases: a worker claims a due message for a while, sends
//! it, and marks it sent; a failure reschedules it with exponential backoff, and after
//! [`RetryPolicy::max_attempts`] the message is given up with an audit event.

use crate::audit::{AuditContext, NewEvent};
use crate::ids::EmailId;
use crate::store::StoreResult;
use crate::token::NewToken;
use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

/// A message about to be queued. The bodies are opaque to the store: the server seals them
/// (they may carry a single-use link) before handing them over.
#[derive(Clone, PartialEq)]
pub struct NewEmail {
    /// The recipient's address.
    pub recipient: String,
    /// The subject line.
    pub subject: String,
    /// Why the message exists (`recovery`, `verification`, `invitation`), for listings and
    /// events.
    pub kind: String,
    /// The message bodies, sealed by the caller.
    pub sealed_body: String,
}

impl std::fmt::Debug for NewEmail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewEmail")
            .field("kind", &self.kind)
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

/// Everything one enqueue writes, atomically: the message, an optional token its link
/// carries, and an optional audit event describing why it was sent.
#[derive(Clone, Debug)]
pub struct EmailRequest {
    /// The message.
    pub email: NewEmail,
    /// A token created with it (a recovery or invitation link), by digest.
    pub token: Option<NewToken>,
    /// The event recorded with it (e.g. `recovery_requested`).
    pub event: Option<NewEvent>,
}

/// Where a queued message stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmailStatus {
    /// Waiting to be sent (possibly after a failed attempt).
    Pending,
    /// Accepted by the SMTP server.
    Sent,
    /// Given up after too many failed attempts.
    Failed,
}

impl EmailStatus {
    /// The stable name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sent => "sent",
            Self::Failed => "failed",
        }
    }

    /// Parses a stored name.
    pub fn parse(value: &str) -> Option<Self> {
        [Self::Pending, Self::Sent, Self::Failed]
            .into_iter()
            .find(|s| s.as_str() == value)
    }
}

/// A message in the outbox.
#[derive(Clone, PartialEq)]
pub struct QueuedEmail {
    /// Identifier.
    pub id: EmailId,
    /// The recipient's address.
    pub recipient: String,
    /// The subject line.
    pub subject: String,
    /// Why it exists.
    pub kind: String,
    /// The sealed bodies; emptied once sent or given up, so no link outlives delivery.
    pub sealed_body: String,
    /// Where it stands.
    pub status: EmailStatus,
    /// Delivery attempts started so far (counted when claimed).
    pub attempts: u32,
    /// When it may next be tried.
    pub next_attempt_at: DateTime<Utc>,
    /// Until when the current claim holds; another worker may claim it after that.
    pub lease_until: Option<DateTime<Utc>>,
    /// The last delivery error (an SMTP reply or connection error; never a secret).
    pub last_error: Option<String>,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
    /// When the SMTP server accepted it.
    pub sent_at: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for QueuedEmail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueuedEmail")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("status", &self.status)
            .field("attempts", &self.attempts)
            .field("next_attempt_at", &self.next_attempt_at)
            .finish_non_exhaustive()
    }
}

/// How failed deliveries are retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts before giving up (at least 1).
    pub max_attempts: u32,
    /// The wait after the first failure; each later failure doubles it.
    pub base_delay: Duration,
    /// The longest wait between attempts.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 8,
            base_delay: Duration::seconds(30),
            max_delay: Duration::hours(1),
        }
    }
}

impl RetryPolicy {
    /// The wait after `attempts` failed attempts (1 → base, 2 → 2×base, …, capped).
    pub fn delay_after(&self, attempts: u32) -> Duration {
        let doublings = attempts.saturating_sub(1).min(30);
        let factor = 1i32 << doublings;
        self.base_delay
            .checked_mul(factor)
            .unwrap_or(self.max_delay)
            .min(self.max_delay)
    }

    /// What happens after attempt number `attempts` failed at `now`.
    pub fn after_failure(&self, attempts: u32, now: DateTime<Utc>) -> RetryDecision {
        if attempts >= self.max_attempts.max(1) {
            RetryDecision::GiveUp
        } else {
            RetryDecision::RetryAt(now + self.delay_after(attempts))
        }
    }
}

/// The outcome of a failed attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryDecision {
    /// Try again at this time.
    RetryAt(DateTime<Utc>),
    /// Stop trying; the message is marked failed and an event recorded.
    GiveUp,
}

/// The outbox port.
#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Queues a message, with its token and event, in one transaction; it is due at once.
    async fn enqueue_email(
        &self,
        request: EmailRequest,
        audit: &AuditContext,
    ) -> StoreResult<EmailId>;
    /// Claims up to `limit` due messages for `worker` until `now + lease`: pending messages
    /// whose next attempt is due and that no live lease holds. Each claim is a compare-and-set,
    /// so two workers (or replicas) never hold the same message; claiming counts an attempt.
    async fn claim_due_emails(
        &self,
        worker: Uuid,
        now: DateTime<Utc>,
        lease: Duration,
        limit: u64,
    ) -> StoreResult<Vec<QueuedEmail>>;
    /// Marks a claimed message sent and drops its bodies; `false` if `worker` no longer holds
    /// it (its lease ran out and another worker took it).
    async fn mark_email_sent(
        &self,
        id: EmailId,
        worker: Uuid,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Records a failed attempt on a claimed message: reschedules it per `policy`, or gives up
    /// (status failed, bodies dropped, a `configuration_error` event recorded in the same
    /// transaction). Returns the decision, or `None` if `worker` no longer holds it.
    async fn mark_email_failed(
        &self,
        id: EmailId,
        worker: Uuid,
        now: DateTime<Utc>,
        error: &str,
        policy: &RetryPolicy,
        audit: &AuditContext,
    ) -> StoreResult<Option<RetryDecision>>;
    /// Looks a message up (tests, admin views).
    async fn email(&self, id: EmailId) -> StoreResult<Option<QueuedEmail>>;
    /// Deletes messages sent before `cutoff` (the worker's sweep; their bodies are already
    /// gone, only the delivery record remains). Pending and failed messages stay. Returns
    /// how many.
    async fn delete_sent_emails(&self, cutoff: DateTime<Utc>) -> StoreResult<u64>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let policy = RetryPolicy {
            max_attempts: 20,
            base_delay: Duration::seconds(10),
            max_delay: Duration::seconds(100),
        };
        let delays: Vec<i64> = (1..=6)
            .map(|n| policy.delay_after(n).num_seconds())
            .collect();
        assert_eq!(delays, [10, 20, 40, 80, 100, 100]);
        assert_eq!(policy.delay_after(u32::MAX).num_seconds(), 100);
    }

    #[test]
    fn gives_up_after_max_attempts() {
        let policy = RetryPolicy {
            max_attempts: 3,
            ..RetryPolicy::default()
        };
        let now = Utc::now();
        assert_eq!(
            policy.after_failure(2, now),
            RetryDecision::RetryAt(now + policy.delay_after(2))
        );
        assert_eq!(policy.after_failure(3, now), RetryDecision::GiveUp);
    }

    #[test]
    fn debug_hides_the_sealed_body() {
        let email = NewEmail {
            recipient: "alice@example.com".into(),
            subject: "Reset".into(),
            kind: "recovery".into(),
            sealed_body: "SEALED".into(),
        };
        let shown = format!("{email:?}");
        assert!(!shown.contains("SEALED") && !shown.contains("alice"));
    }
}
