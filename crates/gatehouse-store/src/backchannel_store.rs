//! [`SqlStore`]'s port for the back-channel logout queue (the worker's side; deliveries are
//! queued by the session-ending operations).

use crate::ops::backchannel;
use crate::sql_store::SqlStore;
use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use gatehouse_core::store::StoreResult;
use gatehouse_core::{
    AuditContext, BackchannelLogoutStore, LogoutDelivery, LogoutDeliveryId, RetryDecision,
    RetryPolicy, SessionId,
};
use uuid::Uuid;

#[async_trait]
impl BackchannelLogoutStore for SqlStore {
    async fn claim_due_logouts(
        &self,
        worker: Uuid,
        now: DateTime<Utc>,
        lease: Duration,
        limit: u64,
    ) -> StoreResult<Vec<LogoutDelivery>> {
        backchannel::claim_due(&self.db, worker, now, lease, limit).await
    }

    async fn mark_logout_delivered(
        &self,
        id: LogoutDeliveryId,
        worker: Uuid,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        backchannel::mark_delivered(&self.db, id, worker, now).await
    }

    async fn mark_logout_failed(
        &self,
        id: LogoutDeliveryId,
        worker: Uuid,
        now: DateTime<Utc>,
        error: &str,
        policy: &RetryPolicy,
        audit: &AuditContext,
    ) -> StoreResult<Option<RetryDecision>> {
        let txn = self.begin_write().await?;
        let decision =
            backchannel::mark_failed(&txn, id, worker, now, error, policy, audit).await?;
        txn.commit().await.map_err(crate::error::db_err)?;
        Ok(decision)
    }

    async fn logouts_of_session(&self, session: SessionId) -> StoreResult<Vec<LogoutDelivery>> {
        backchannel::of_session(&self.db, session).await
    }

    async fn delete_finished_logouts(&self, cutoff: DateTime<Utc>) -> StoreResult<u64> {
        backchannel::delete_finished(&self.db, cutoff).await
    }
}
