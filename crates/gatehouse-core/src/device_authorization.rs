//! RFC 8628 device authorizations: a device (a TV, a CLI) asks for a device code and a short
//! user code, the user confirms the user code on another screen, and the device polls the
//! token endpoint until the answer is known. Only keyed digests of both codes are stored.
//! Approval and redemption are compare-and-set transitions, so a code is approved or denied
//! once and redeemed once, across replicas.

use crate::audit::{AuditContext, NewEvent};
use crate::ids::{ApplicationId, UserId};
use crate::oauth2_token::NewOAuth2Token;
use crate::store::StoreResult;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

/// Where a device authorization stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceAuthorizationStatus {
    /// Waiting for the user.
    Pending,
    /// The user allowed it; the device may redeem it once.
    Approved,
    /// The user refused it.
    Denied,
    /// Tokens were issued for it.
    Redeemed,
}

impl DeviceAuthorizationStatus {
    /// The stable name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Denied => "denied",
            Self::Redeemed => "redeemed",
        }
    }

    /// Parses a stored name.
    pub fn parse(value: &str) -> Option<Self> {
        [Self::Pending, Self::Approved, Self::Denied, Self::Redeemed]
            .into_iter()
            .find(|s| s.as_str() == value)
    }
}

/// A stored device authorization (its code digests stay in the store).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeviceAuthorization {
    /// Identifier.
    pub id: Uuid,
    /// The application that asked.
    pub application_id: ApplicationId,
    /// The scopes it asked for (already limited to the client's allowed scopes).
    pub scopes: Vec<String>,
    /// Where it stands.
    pub status: DeviceAuthorizationStatus,
    /// The user who answered, once answered.
    pub user_id: Option<UserId>,
    /// How that user had signed in (auth time and methods), copied into the tokens.
    pub data: Map<String, Value>,
    /// The minimum seconds between polls (grows with each `slow_down`).
    pub interval_secs: i64,
    /// When the device last polled.
    pub last_polled_at: Option<DateTime<Utc>>,
    /// When both codes stop working.
    pub expires_at: DateTime<Utc>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// A device authorization about to be stored.
#[derive(Clone, Debug, PartialEq)]
pub struct NewDeviceAuthorization {
    /// The application that asked.
    pub application_id: ApplicationId,
    /// Keyed digest of the device code.
    pub device_code_digest: String,
    /// Keyed digest of the normalised user code.
    pub user_code_digest: String,
    /// Requested scopes.
    pub scopes: Vec<String>,
    /// The initial polling interval.
    pub interval_secs: i64,
    /// When the codes expire.
    pub expires_at: DateTime<Utc>,
}

/// The user's answer to a pending device authorization.
#[derive(Clone, Debug, PartialEq)]
pub enum DeviceDecision {
    /// Allowed by `user`, who signed in as `data` records.
    Approve {
        /// The user.
        user: UserId,
        /// Auth time and methods of the user's session.
        data: Map<String, Value>,
    },
    /// Refused by `user`.
    Deny {
        /// The user.
        user: UserId,
    },
}

/// Stored device authorizations.
#[async_trait]
pub trait DeviceAuthorizationStore: Send + Sync {
    /// Stores a new pending authorization and `event`, in one transaction. A user code digest
    /// that is already in use is a `Conflict` (the caller draws another code).
    async fn create_device_authorization(
        &self,
        new: NewDeviceAuthorization,
        event: NewEvent,
        audit: &AuditContext,
    ) -> StoreResult<DeviceAuthorization>;
    /// Finds an authorization by device code digest, whatever its state.
    async fn device_authorization_by_device_code(
        &self,
        digest: &str,
    ) -> StoreResult<Option<DeviceAuthorization>>;
    /// Finds a pending, unexpired authorization by user code digest.
    async fn pending_device_authorization(
        &self,
        user_code_digest: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<DeviceAuthorization>>;
    /// Records the user's answer with `event` if the authorization is still pending and
    /// unexpired at `now` (compare-and-set); returns whether it was.
    async fn decide_device_authorization(
        &self,
        id: Uuid,
        decision: DeviceDecision,
        now: DateTime<Utc>,
        event: NewEvent,
        audit: &AuditContext,
    ) -> StoreResult<bool>;
    /// Records a poll at `at` and the interval the device must now keep.
    async fn record_device_poll(
        &self,
        id: Uuid,
        at: DateTime<Utc>,
        interval_secs: i64,
    ) -> StoreResult<()>;
    /// Marks an approved authorization redeemed (compare-and-set) and, in the same
    /// transaction, stores `tokens` and `event`. Returns `false`, writing nothing, when it was
    /// not approved any more, so of two concurrent polls one gets the tokens.
    async fn redeem_device_authorization(
        &self,
        id: Uuid,
        tokens: Vec<NewOAuth2Token>,
        event: NewEvent,
        audit: &AuditContext,
    ) -> StoreResult<bool>;
    /// Deletes authorizations that expired before `now`; returns how many.
    async fn delete_expired_device_authorizations(&self, now: DateTime<Utc>) -> StoreResult<u64>;
}
