//! Static recovery codes: a device of kind [`crate::DeviceKind::Static`] owning a set of
//! single-use codes. Only keyed digests of the codes are stored; each code is spent by
//! deleting its row, so two concurrent sign-ins cannot both use one code.

use crate::audit::AuditContext;
use crate::device::Device;
use crate::ids::{DeviceId, UserId};
use crate::store::StoreResult;
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// Recovery-code devices and their codes.
#[async_trait]
pub trait StaticCodeStore: Send + Sync {
    /// Replaces the user's recovery codes: removes any earlier recovery-code device (with its
    /// codes) and stores a new one named `name` with these code digests, in one transaction.
    /// Records `model_deleted` for the old device and `model_created` for the new one.
    async fn replace_static_codes(
        &self,
        user: UserId,
        name: &str,
        digests: Vec<String>,
        audit: &AuditContext,
    ) -> StoreResult<Device>;
    /// Spends one of the user's recovery codes by digest: deletes it if it belongs to one of
    /// the user's recovery-code devices and sets that device's `last_used_at`. Returns whether
    /// a code was spent (a second caller with the same code gets `false`).
    async fn spend_static_code(
        &self,
        user: UserId,
        digest: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// How many unused codes a device has left.
    async fn static_codes_left(&self, device: DeviceId) -> StoreResult<u64>;
}
