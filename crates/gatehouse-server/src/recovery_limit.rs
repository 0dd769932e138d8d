//! Limits on recovery-link requests, in the spirit of the login throttle: each account gets
//! a few links per window (more are silently not sent, so the page never reveals whether the
//! account exists), and each client address a few more requests per window (more are
//! refused openly, which reveals nothing about any account). Counters live in this process
//! ([`RecoveryLimiter`]); with Redis configured, replicas share them and this process's
//! counters are the fallback while Redis is unreachable ([`RecoveryLimits`]).

use crate::throttle::CountersUnavailable;
use async_trait::async_trait;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Sliding-window counters: this process's ([`RecoveryLimiter`]) or Redis's, shared by every
/// replica ([`crate::redis::counters::RedisCounters`]).
#[async_trait]
pub trait WindowCounters: Send + Sync {
    /// Counts a hit on `key` if it has had fewer than `limit` in the last `window`; `false`
    /// (and nothing counted) otherwise.
    async fn allow(
        &self,
        key: &str,
        limit: usize,
        window: Duration,
    ) -> Result<bool, CountersUnavailable>;
}

#[async_trait]
impl WindowCounters for RecoveryLimiter {
    async fn allow(
        &self,
        key: &str,
        limit: usize,
        window: Duration,
    ) -> Result<bool, CountersUnavailable> {
        Ok(self.allow_within(key.to_owned(), limit, window, Instant::now()))
    }
}

/// The recovery limits the pages use: shared counters when configured and reachable, else
/// this process's (which always count too, so an outage never lifts the limits).
pub struct RecoveryLimits {
    local: RecoveryLimiter,
    shared: Option<Arc<dyn WindowCounters>>,
}

impl std::fmt::Debug for RecoveryLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecoveryLimits")
            .field("shared", &self.shared.is_some())
            .finish_non_exhaustive()
    }
}

impl RecoveryLimits {
    /// Limits counted in this process and, when given, in `shared`.
    pub fn new(shared: Option<Arc<dyn WindowCounters>>) -> Self {
        Self {
            local: RecoveryLimiter::default(),
            shared,
        }
    }

    /// Counts a request from `address`; `false` if the address is over its limit.
    pub async fn allow_address(&self, address: &str) -> bool {
        self.allow(&format!("ip:{address}"), PER_ADDRESS).await
    }

    /// Counts a link for the account `user_key`; `false` if it has had its share.
    pub async fn allow_account(&self, user_key: &str) -> bool {
        self.allow(&format!("user:{user_key}"), PER_ACCOUNT).await
    }

    async fn allow(&self, key: &str, limit: usize) -> bool {
        let local = self
            .local
            .allow_within(key.to_owned(), limit, WINDOW, Instant::now());
        match &self.shared {
            Some(shared) => shared.allow(key, limit, WINDOW).await.unwrap_or(local),
            None => local,
        }
    }
}

/// Links one account may be sent per window.
const PER_ACCOUNT: usize = 3;
/// Requests one client address may make per window.
const PER_ADDRESS: usize = 10;
/// The window.
const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Keys kept before old ones are pruned (bounds memory under a flood of addresses).
const MAX_KEYS: usize = 100_000;

/// Sliding-window counters keyed by account or address.
#[derive(Debug, Default)]
pub struct RecoveryLimiter {
    hits: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl RecoveryLimiter {
    /// Counts a request from `address` at `now`; `false` if the address is over its limit
    /// (then nothing is counted).
    pub fn allow_address(&self, address: &str, now: Instant) -> bool {
        self.allow_within(format!("ip:{address}"), PER_ADDRESS, WINDOW, now)
    }

    /// Counts a link for the account `user_key` at `now`; `false` if the account has had
    /// its share of links this window.
    pub fn allow_account(&self, user_key: &str, now: Instant) -> bool {
        self.allow_within(format!("user:{user_key}"), PER_ACCOUNT, WINDOW, now)
    }

    fn allow_within(&self, key: String, limit: usize, window: Duration, now: Instant) -> bool {
        let mut hits = self
            .hits
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if hits.len() >= MAX_KEYS {
            hits.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|t| now.duration_since(*t) < window)
            });
        }
        let times = hits.entry(key).or_default();
        while times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            times.pop_front();
        }
        if times.len() >= limit {
            return false;
        }
        times.push_back(now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_get_a_few_links_per_window() {
        let limiter = RecoveryLimiter::default();
        let start = Instant::now();
        for _ in 0..PER_ACCOUNT {
            assert!(limiter.allow_account("alice", start));
        }
        assert!(!limiter.allow_account("alice", start));
        assert!(limiter.allow_account("bob", start));
        assert!(limiter.allow_account("alice", start + WINDOW));
    }

    struct Unreachable;

    #[async_trait]
    impl WindowCounters for Unreachable {
        async fn allow(&self, _: &str, _: usize, _: Duration) -> Result<bool, CountersUnavailable> {
            Err(CountersUnavailable)
        }
    }

    #[tokio::test]
    async fn shared_counters_decide_and_an_outage_falls_back_to_local_ones() {
        let shared: Arc<dyn WindowCounters> = Arc::new(RecoveryLimiter::default());
        let (one, two) = (
            RecoveryLimits::new(Some(Arc::clone(&shared))),
            RecoveryLimits::new(Some(shared)),
        );
        for limits in [&one, &two, &one] {
            assert!(limits.allow_account("alice").await);
        }
        assert!(
            !two.allow_account("alice").await,
            "one budget across replicas"
        );

        let cut_off = RecoveryLimits::new(Some(Arc::new(Unreachable)));
        for _ in 0..PER_ACCOUNT {
            assert!(cut_off.allow_account("bob").await);
        }
        assert!(!cut_off.allow_account("bob").await, "never unlimited");
    }

    #[test]
    fn addresses_are_limited_separately() {
        let limiter = RecoveryLimiter::default();
        let now = Instant::now();
        for _ in 0..PER_ADDRESS {
            assert!(limiter.allow_address("192.0.2.1", now));
        }
        assert!(!limiter.allow_address("192.0.2.1", now));
        assert!(limiter.allow_address("192.0.2.2", now));
    }
}
