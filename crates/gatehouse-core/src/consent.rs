//! Remembered consents: which scopes a user allowed an application to receive, so an
//! application in `remembered` consent mode asks once, and again only when it asks for more
//! (see `docs/oidc.md`, "Consent"). One row per user and application.

use crate::audit::AuditContext;
use crate::ids::{ApplicationId, UserId};
use crate::store::StoreResult;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What a user allowed an application.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consent {
    /// The user who allowed it.
    pub user_id: UserId,
    /// The application.
    pub application_id: ApplicationId,
    /// Every scope allowed so far.
    pub scopes: Vec<String>,
    /// When it was (last) granted.
    pub granted_at: DateTime<Utc>,
    /// When it lapses; `None` means until revoked.
    pub expires_at: Option<DateTime<Utc>>,
}

impl Consent {
    /// Whether the consent is in force at `now` and covers every scope in `requested`.
    pub fn covers(&self, requested: &[String], now: DateTime<Utc>) -> bool {
        self.expires_at.is_none_or(|at| at > now)
            && requested.iter().all(|scope| self.scopes.contains(scope))
    }
}

/// Stored consents.
#[async_trait]
pub trait ConsentStore: Send + Sync {
    /// The user's consent for the application, in force or not.
    async fn consent(
        &self,
        user: UserId,
        application: ApplicationId,
    ) -> StoreResult<Option<Consent>>;
    /// Stores `consent`, replacing the user's earlier one for the same application, with a
    /// `model_created` (or `model_updated`) event about `app_slug`, in one transaction.
    async fn grant_consent(
        &self,
        consent: Consent,
        app_slug: &str,
        audit: &AuditContext,
    ) -> StoreResult<()>;
    /// Records the nonce of an answered consent form, kept until `expires_at` (when the form
    /// would be refused anyway). Returns `false`, writing nothing, when it was already
    /// recorded: the form was answered before, so this submission is a replay. Atomic, so of
    /// two concurrent submissions one wins.
    async fn spend_form_nonce(&self, nonce: &str, expires_at: DateTime<Utc>) -> StoreResult<bool>;
    /// Deletes consents that expired and form nonces past their expiry before `now`
    /// (the worker's sweep); returns how many rows went.
    async fn delete_expired_consents(&self, now: DateTime<Utc>) -> StoreResult<u64>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn covers_only_granted_scopes_while_in_force() {
        let now = Utc::now();
        let mut consent = Consent {
            user_id: UserId::new(),
            application_id: ApplicationId::new(),
            scopes: vec!["openid".into(), "email".into()],
            granted_at: now,
            expires_at: None,
        };
        let ask = |s: &[&str]| s.iter().map(|v| (*v).to_owned()).collect::<Vec<_>>();
        assert!(consent.covers(&ask(&["openid"]), now));
        assert!(consent.covers(&ask(&["email", "openid"]), now));
        assert!(!consent.covers(&ask(&["openid", "profile"]), now));
        consent.expires_at = Some(now + Duration::seconds(10));
        assert!(consent.covers(&ask(&["openid"]), now));
        assert!(!consent.covers(&ask(&["openid"]), now + Duration::seconds(10)));
    }
}
