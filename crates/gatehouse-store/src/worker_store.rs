//! [`SqlStore`]'s port for worker heartbeats.

use crate::ops::worker_heartbeats;
use crate::sql_store::SqlStore;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use gatehouse_core::store::StoreResult;
use gatehouse_core::{WorkerHeartbeat, WorkerHeartbeatStore};

#[async_trait]
impl WorkerHeartbeatStore for SqlStore {
    async fn record_worker_heartbeat(&self, beat: &WorkerHeartbeat) -> StoreResult<()> {
        worker_heartbeats::record(&self.db, beat).await
    }

    async fn worker_heartbeats(&self) -> StoreResult<Vec<WorkerHeartbeat>> {
        worker_heartbeats::list(&self.db).await
    }

    async fn forget_workers_seen_before(&self, cutoff: DateTime<Utc>) -> StoreResult<u64> {
        worker_heartbeats::forget_before(&self.db, cutoff).await
    }
}
