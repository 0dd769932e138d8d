//! OpenID Connect Back-Channel Logout 1.0: when a browser session ends, every client that was
//! issued a grant in it and registered a `backchannel_logout_uri` is told so with a logout
//! token. The store decides who is told inside the transaction that ends the session (so a
//! sign-out and its deliveries commit together or not at all) using [`plan_logout`], and
//! queues one [`LogoutDelivery`] per client; the worker signs and posts the tokens later,
//! retrying with backoff like the email outbox.

use crate::audit::AuditContext;
use crate::ids::{ApplicationId, GrantFamilyId, LogoutDeliveryId, SessionId, UserId};
use crate::outbox::{RetryDecision, RetryPolicy};
use crate::store::StoreResult;
use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

/// One grant artefact issued in an ending session, as the store found it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionGrant {
    /// The client's application.
    pub application_id: ApplicationId,
    /// Whether that client registered a `backchannel_logout_uri`.
    pub has_backchannel_uri: bool,
    /// The user the grant acts for.
    pub user_id: Option<UserId>,
    /// The grant family the artefact belongs to.
    pub family: GrantFamilyId,
}

/// What ending a session does to its grants.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogoutPlan {
    /// Clients to send a logout token to, once each, with the user it names.
    pub notify: Vec<(ApplicationId, Option<UserId>)>,
    /// Grant families to revoke: those of the notified clients in this session (§2.7 lets
    /// the OP revoke them; a refresh token that outlives the logout it was told about would
    /// let the client sign the user back in silently).
    pub revoke: Vec<GrantFamilyId>,
}

/// Decides, from the artefacts issued in an ending session, which clients get a logout token
/// and which grant families are revoked: every client with a back-channel URI that holds any
/// artefact of the session (once, however many grants it holds); clients without one are left
/// alone, their tokens expire on their own.
pub fn plan_logout(grants: &[SessionGrant]) -> LogoutPlan {
    let mut plan = LogoutPlan::default();
    for grant in grants.iter().filter(|g| g.has_backchannel_uri) {
        if !plan
            .notify
            .iter()
            .any(|(app, _)| *app == grant.application_id)
        {
            plan.notify.push((grant.application_id, grant.user_id));
        }
        if !plan.revoke.contains(&grant.family) {
            plan.revoke.push(grant.family);
        }
    }
    plan
}

/// Where a queued delivery stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// Waiting to be posted (possibly after a failed attempt).
    Pending,
    /// The client answered 200 or 204.
    Delivered,
    /// Given up after too many failed attempts.
    Failed,
}

impl DeliveryStatus {
    /// The stable name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }

    /// Parses a stored name.
    pub fn parse(value: &str) -> Option<Self> {
        [Self::Pending, Self::Delivered, Self::Failed]
            .into_iter()
            .find(|s| s.as_str() == value)
    }
}

/// A queued logout token delivery. The token itself is minted at delivery time (fresh `iat`,
/// `exp` and `jti` per attempt), so nothing secret waits in the queue.
#[derive(Clone, Debug, PartialEq)]
pub struct LogoutDelivery {
    /// Identifier.
    pub id: LogoutDeliveryId,
    /// The client to tell.
    pub application_id: ApplicationId,
    /// The user whose session ended (for `sub`); `None` if unknown.
    pub user_id: Option<UserId>,
    /// The ended session (for `sid`).
    pub session_id: SessionId,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// Attempts started so far (counted when claimed).
    pub attempts: u32,
    /// When it may next be tried.
    pub next_attempt_at: DateTime<Utc>,
    /// The last error (an HTTP status or connection error).
    pub last_error: Option<String>,
    /// When it was queued (when the session ended).
    pub created_at: DateTime<Utc>,
    /// When it was delivered or given up.
    pub finished_at: Option<DateTime<Utc>>,
}

/// The back-channel logout queue port. Deliveries are queued by the session-ending
/// operations themselves ([`crate::Change::EndSession`], [`crate::Change::EndOtherSessions`],
/// [`crate::SessionStore::delete_session`]); this trait is the worker's side.
#[async_trait]
pub trait BackchannelLogoutStore: Send + Sync {
    /// Claims up to `limit` due deliveries for `worker` until `now + lease` (compare-and-set,
    /// so two workers never hold the same one); claiming counts an attempt.
    async fn claim_due_logouts(
        &self,
        worker: Uuid,
        now: DateTime<Utc>,
        lease: Duration,
        limit: u64,
    ) -> StoreResult<Vec<LogoutDelivery>>;
    /// Marks a claimed delivery delivered; `false` if `worker` no longer holds it.
    async fn mark_logout_delivered(
        &self,
        id: LogoutDeliveryId,
        worker: Uuid,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Records a failed attempt: reschedules per `policy`, or gives up (status failed, a
    /// `configuration_error` event in the same transaction). `None` if `worker` no longer
    /// holds it.
    async fn mark_logout_failed(
        &self,
        id: LogoutDeliveryId,
        worker: Uuid,
        now: DateTime<Utc>,
        error: &str,
        policy: &RetryPolicy,
        audit: &AuditContext,
    ) -> StoreResult<Option<RetryDecision>>;
    /// The deliveries queued for a session (tests, admin views).
    async fn logouts_of_session(&self, session: SessionId) -> StoreResult<Vec<LogoutDelivery>>;
    /// Deletes deliveries delivered or given up before `cutoff` (the worker's sweep).
    async fn delete_finished_logouts(&self, cutoff: DateTime<Utc>) -> StoreResult<u64>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(app: ApplicationId, uri: bool, family: GrantFamilyId) -> SessionGrant {
        SessionGrant {
            application_id: app,
            has_backchannel_uri: uri,
            user_id: Some(UserId(Uuid::nil())),
            family,
        }
    }

    #[test]
    fn notifies_each_backchannel_client_once_and_revokes_its_families() {
        let (grafana, wiki, plain) = (
            ApplicationId::new(),
            ApplicationId::new(),
            ApplicationId::new(),
        );
        let (f1, f2, f3, f4) = (
            GrantFamilyId::new(),
            GrantFamilyId::new(),
            GrantFamilyId::new(),
            GrantFamilyId::new(),
        );
        let plan = plan_logout(&[
            grant(grafana, true, f1),
            grant(grafana, true, f1),
            grant(grafana, true, f2),
            grant(wiki, true, f3),
            grant(plain, false, f4),
        ]);
        let notified: Vec<ApplicationId> = plan.notify.iter().map(|(app, _)| *app).collect();
        assert_eq!(notified, [grafana, wiki]);
        assert_eq!(plan.revoke, [f1, f2, f3]);
    }

    #[test]
    fn nothing_without_backchannel_clients() {
        let plan = plan_logout(&[grant(ApplicationId::new(), false, GrantFamilyId::new())]);
        assert_eq!(plan, LogoutPlan::default());
        assert_eq!(plan_logout(&[]), LogoutPlan::default());
    }

    #[test]
    fn status_names_round_trip() {
        for status in [
            DeliveryStatus::Pending,
            DeliveryStatus::Delivered,
            DeliveryStatus::Failed,
        ] {
            assert_eq!(DeliveryStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(DeliveryStatus::parse("sent"), None);
    }
}
