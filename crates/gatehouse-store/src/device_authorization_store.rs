//! [`SqlStore`]'s RFC 8628 device-authorization port: reads and poll bookkeeping go straight
//! to the pool; creation, answers and redemption run in write transactions with their audit
//! events.

use crate::error::db_err;
use crate::ops::device_authorizations as ops;
use crate::sql_store::SqlStore;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use gatehouse_core::store::StoreResult;
use gatehouse_core::{
    AuditContext, DeviceAuthorization, DeviceAuthorizationStore, DeviceDecision,
    NewDeviceAuthorization, NewEvent, NewOAuth2Token,
};
use uuid::Uuid;

#[async_trait]
impl DeviceAuthorizationStore for SqlStore {
    async fn create_device_authorization(
        &self,
        new: NewDeviceAuthorization,
        event: NewEvent,
        audit: &AuditContext,
    ) -> StoreResult<DeviceAuthorization> {
        let txn = self.begin_write().await?;
        let created = ops::create(&txn, new, event, audit).await?;
        txn.commit().await.map_err(db_err)?;
        Ok(created)
    }

    async fn device_authorization_by_device_code(
        &self,
        digest: &str,
    ) -> StoreResult<Option<DeviceAuthorization>> {
        ops::by_device_code(&self.db, digest).await
    }

    async fn pending_device_authorization(
        &self,
        user_code_digest: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<DeviceAuthorization>> {
        ops::pending_by_user_code(&self.db, user_code_digest, now).await
    }

    async fn decide_device_authorization(
        &self,
        id: Uuid,
        decision: DeviceDecision,
        now: DateTime<Utc>,
        event: NewEvent,
        audit: &AuditContext,
    ) -> StoreResult<bool> {
        let txn = self.begin_write().await?;
        let decided = ops::decide(&txn, id, decision, now, event, audit).await?;
        txn.commit().await.map_err(db_err)?;
        Ok(decided)
    }

    async fn record_device_poll(
        &self,
        id: Uuid,
        at: DateTime<Utc>,
        interval_secs: i64,
    ) -> StoreResult<()> {
        ops::record_poll(&self.db, id, at, interval_secs).await
    }

    async fn redeem_device_authorization(
        &self,
        id: Uuid,
        tokens: Vec<NewOAuth2Token>,
        event: NewEvent,
        audit: &AuditContext,
    ) -> StoreResult<bool> {
        let txn = self.begin_write().await?;
        let redeemed = ops::redeem(&txn, id, tokens, event, audit).await?;
        txn.commit().await.map_err(db_err)?;
        Ok(redeemed)
    }

    async fn delete_expired_device_authorizations(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        ops::delete_expired(&self.db, now).await
    }
}
