//! Limits on recovery-link requests, in the spirit of the login throttle: each account gets
//! a few links per window (more are silently not sent, so the page never reveals whether the
//! account exists), and each client address a few more requests per window (more are
//! refused openly, which reveals nothing about any account). Counters live in this process.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

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
        self.allow(format!("ip:{address}"), PER_ADDRESS, now)
    }

    /// Counts a link for the account `user_key` at `now`; `false` if the account has had
    /// its share of links this window.
    pub fn allow_account(&self, user_key: &str, now: Instant) -> bool {
        self.allow(format!("user:{user_key}"), PER_ACCOUNT, now)
    }

    fn allow(&self, key: String, limit: usize, now: Instant) -> bool {
        let mut hits = self
            .hits
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if hits.len() >= MAX_KEYS {
            hits.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|t| now.duration_since(*t) < WINDOW)
            });
        }
        let times = hits.entry(key).or_default();
        while times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= WINDOW)
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
