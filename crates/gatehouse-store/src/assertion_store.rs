//! [`SqlStore`]'s port for single-use client assertions (`private_key_jwt`).

use crate::ops::client_assertions;
use crate::sql_store::SqlStore;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use gatehouse_core::ClientAssertionStore;
use gatehouse_core::store::StoreResult;

#[async_trait]
impl ClientAssertionStore for SqlStore {
    async fn record_client_assertion(
        &self,
        client_id: &str,
        jti: &str,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        client_assertions::record(&self.db, client_id, jti, expires_at).await
    }

    async fn delete_expired_client_assertions(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        client_assertions::delete_expired(&self.db, now).await
    }
}
