//! The worker's periodic clean-up: every kind of row that outlives its use is deleted here,
//! one set-based `DELETE` per kind, so the tables stay small without anyone tidying by hand.
//! Each delete is idempotent, so several workers (or replicas) sweeping at once is harmless.
//! Rows kept for a while after they stop working (used invitations, sent emails, finished
//! back-channel logouts) are kept for the periods in `worker.*` (see `docs/operations.md`).

use crate::config::WorkerConfig;
use chrono::{DateTime, Duration, Utc};
use gatehouse_core::{Store, StoreError};

/// Rows one sweep removed, by kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Expired tokens (API tokens, recovery and verification links, setup links).
    pub tokens: u64,
    /// Expired sessions.
    pub sessions: u64,
    /// Invitations expired, or single-use and used, longer ago than the grace period.
    pub invitations: u64,
    /// Emails sent longer ago than the retention period.
    pub emails: u64,
    /// Expired OAuth2 codes, access-token records and refresh tokens.
    pub oauth2_tokens: u64,
    /// Expired remembered consents and consent-form nonces.
    pub consents: u64,
    /// Expired RFC 8628 device authorizations.
    pub device_authorizations: u64,
    /// Spent `private_key_jwt` assertion ids past their expiry (replay can no longer matter).
    pub client_assertions: u64,
    /// Retired signing keys no unexpired token can have been signed with (end of overlap).
    pub signing_keys: u64,
    /// Back-channel logout deliveries delivered or given up longer ago than the retention.
    pub backchannel_logouts: u64,
}

impl SweepReport {
    /// How many rows went in all.
    pub fn total(&self) -> u64 {
        self.tokens
            + self.sessions
            + self.invitations
            + self.emails
            + self.oauth2_tokens
            + self.consents
            + self.device_authorizations
            + self.client_assertions
            + self.signing_keys
            + self.backchannel_logouts
    }
}

/// Deletes, as of `now`, everything that expired (and what is past its keeping period).
pub async fn sweep(
    store: &dyn Store,
    config: &WorkerConfig,
    now: DateTime<Utc>,
) -> Result<SweepReport, StoreError> {
    let days = |n: u32| Duration::days(i64::from(n));
    let report = SweepReport {
        tokens: store.delete_expired_tokens(now).await?,
        sessions: store.delete_expired_sessions(now).await?,
        invitations: store
            .delete_finished_invitations(now - days(config.invitation_grace_days))
            .await?,
        emails: store
            .delete_sent_emails(now - days(config.sent_email_retention_days))
            .await?,
        oauth2_tokens: store.delete_expired_oauth2_tokens(now).await?,
        consents: store.delete_expired_consents(now).await?,
        device_authorizations: store.delete_expired_device_authorizations(now).await?,
        client_assertions: store.delete_expired_client_assertions(now).await?,
        signing_keys: store.delete_unverifiable_signing_keys(now).await?,
        backchannel_logouts: store
            .delete_finished_logouts(now - days(config.backchannel_retention_days))
            .await?,
    };
    metrics::counter!("gatehouse_worker_sweeps_total").increment(1);
    for (kind, rows) in [
        ("token", report.tokens),
        ("session", report.sessions),
        ("invitation", report.invitations),
        ("email", report.emails),
        ("oauth2_token", report.oauth2_tokens),
        ("consent", report.consents),
        ("device_authorization", report.device_authorizations),
        ("client_assertion", report.client_assertions),
        ("signing_key", report.signing_keys),
        ("backchannel_logout", report.backchannel_logouts),
    ] {
        metrics::counter!("gatehouse_worker_swept_rows_total", "kind" => kind).increment(rows);
    }
    Ok(report)
}
