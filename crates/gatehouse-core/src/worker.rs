//! Worker heartbeats: each background worker (`gatehouse worker`, or the one embedded in
//! `gatehouse serve`) records when it last ran, so the admin overview can say whether
//! background work (email, sweeps, back-channel logouts) is happening at all. A worker that
//! misses [`WorkerHeartbeat::STALE_AFTER_BEATS`] beats in a row is shown as stale.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::store::StoreResult;

/// The last beat of one worker process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkerHeartbeat {
    /// A random id chosen when the worker starts (one row per running process).
    pub worker_id: String,
    /// Where it runs, for people: `host (pid N, serve|worker)`.
    pub description: String,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// Its latest beat.
    pub last_seen: DateTime<Utc>,
    /// Seconds between its beats, as it was configured (so every reader judges it alike).
    pub interval_secs: i64,
}

impl WorkerHeartbeat {
    /// How many beats in a row a worker may miss before it is shown as stale.
    pub const STALE_AFTER_BEATS: i64 = 3;

    /// Whether the worker has missed [`Self::STALE_AFTER_BEATS`] beats by `now`.
    pub fn is_stale_at(&self, now: DateTime<Utc>) -> bool {
        let allowed = self
            .interval_secs
            .max(1)
            .saturating_mul(Self::STALE_AFTER_BEATS);
        (now - self.last_seen).num_seconds() > allowed
    }
}

/// Where workers record their heartbeats.
#[async_trait]
pub trait WorkerHeartbeatStore: Send + Sync {
    /// Records a beat of `beat.worker_id` (inserting its row the first time, updating
    /// `last_seen` and `interval_secs` afterwards).
    async fn record_worker_heartbeat(&self, beat: &WorkerHeartbeat) -> StoreResult<()>;
    /// Every recorded worker, the most recently seen first.
    async fn worker_heartbeats(&self) -> StoreResult<Vec<WorkerHeartbeat>>;
    /// Forgets workers last seen before `cutoff` (stopped or replaced processes); returns
    /// how many.
    async fn forget_workers_seen_before(&self, cutoff: DateTime<Utc>) -> StoreResult<u64>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn stale_after_three_missed_beats() {
        let now = Utc::now();
        let beat = |ago: i64| WorkerHeartbeat {
            worker_id: "w".into(),
            description: "host".into(),
            started_at: now - Duration::hours(1),
            last_seen: now - Duration::seconds(ago),
            interval_secs: 10,
        };
        assert!(!beat(0).is_stale_at(now));
        assert!(!beat(30).is_stale_at(now));
        assert!(beat(31).is_stale_at(now));
    }
}
