//! Login throttling (OWASP ASVS V2.2.1, NIST SP 800-63B §5.2.2): every key (an account name, a
//! client address) gets a few free failures, then a growing wait between attempts, then a
//! lockout. Waiting attempts are refused before any password is hashed, so a flood costs no
//! CPU. Counters live in this process ([`LoginThrottle`]); with Redis configured, replicas
//! share them ([`crate::redis::counters`]) and this process's counters are the fallback
//! while Redis is unreachable, so an outage never lifts the limits ([`Throttle`]).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The policy, from `login_throttle.*` in the configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ThrottlePolicy {
    /// Failures per account allowed without any wait.
    pub free_attempts: u32,
    /// The first wait after the free failures; it doubles with each further failure.
    pub base_delay_secs: u64,
    /// The longest wait between attempts before lockout.
    pub max_delay_secs: u64,
    /// Failures after which the account is locked for `lockout_secs`.
    pub lockout_after: u32,
    /// How long a lockout lasts.
    pub lockout_secs: u64,
    /// Failures from one client address (over all accounts) allowed without any wait.
    pub ip_free_attempts: u32,
    /// Failures are forgotten after this long without another.
    pub window_secs: u64,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        Self {
            free_attempts: 5,
            base_delay_secs: 1,
            max_delay_secs: 60,
            lockout_after: 20,
            lockout_secs: 15 * 60,
            ip_free_attempts: 30,
            window_secs: 15 * 60,
        }
    }
}

/// A wait as the whole seconds of an HTTP `Retry-After` header: rounded up, at least 1.
pub fn retry_after_secs(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

impl ThrottlePolicy {
    /// How long a key with `count` failures must wait before its next attempt: nothing for
    /// the first `free`, then `base_delay_secs` doubling up to `max_delay_secs`, and
    /// `lockout_secs` from `lockout_after` failures on (accounts only).
    pub fn wait_after(
        &self,
        count: u32,
        free: u32,
        lockout_after: Option<u32>,
    ) -> Option<Duration> {
        if lockout_after.is_some_and(|limit| count >= limit) {
            return Some(Duration::from_secs(self.lockout_secs));
        }
        let over = count.checked_sub(free).filter(|n| *n > 0)?;
        let factor = 1u64 << (over - 1).min(20);
        Some(Duration::from_secs(
            self.base_delay_secs
                .saturating_mul(factor)
                .min(self.max_delay_secs),
        ))
    }

    /// The account and address rules as (key, free failures, lockout threshold).
    pub fn rules<'k>(
        &self,
        account: &'k str,
        address: &'k str,
    ) -> [(&'k str, u32, Option<u32>); 2] {
        [
            (account, self.free_attempts, Some(self.lockout_after)),
            (address, self.ip_free_attempts, None),
        ]
    }
}

/// A shared counter store could not be reached; the caller uses this process's counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("shared counters unavailable")]
pub struct CountersUnavailable;

/// Where failure counters live: this process ([`LoginThrottle`]) or Redis, shared by every
/// replica ([`crate::redis::counters::RedisCounters`]).
#[async_trait]
pub trait ThrottleCounters: Send + Sync {
    /// Whether every one of `keys` allows an attempt now; the longest wait otherwise.
    async fn check(&self, keys: &[String]) -> Result<ThrottleVerdict, CountersUnavailable>;
    /// Records a failed attempt against `account` and `address`.
    async fn record_failure(&self, account: &str, address: &str)
    -> Result<(), CountersUnavailable>;
    /// Forgets an account's failures.
    async fn record_success(&self, account: &str) -> Result<(), CountersUnavailable>;
}

#[async_trait]
impl ThrottleCounters for LoginThrottle {
    async fn check(&self, keys: &[String]) -> Result<ThrottleVerdict, CountersUnavailable> {
        Ok(LoginThrottle::check(self, keys, Instant::now()))
    }

    async fn record_failure(
        &self,
        account: &str,
        address: &str,
    ) -> Result<(), CountersUnavailable> {
        LoginThrottle::record_failure(self, account, address, Instant::now());
        Ok(())
    }

    async fn record_success(&self, account: &str) -> Result<(), CountersUnavailable> {
        LoginThrottle::record_success(self, account);
        Ok(())
    }
}

/// The throttle the pages use: the shared counters when configured and reachable, else this
/// process's. Failures are always counted here too, so a Redis outage falls back to a budget
/// that already knows this replica's recent failures (fail-safe, not fail-open).
pub struct Throttle {
    local: LoginThrottle,
    shared: Option<Arc<dyn ThrottleCounters>>,
}

impl std::fmt::Debug for Throttle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Throttle")
            .field("shared", &self.shared.is_some())
            .finish_non_exhaustive()
    }
}

impl Throttle {
    /// A throttle enforcing `policy`, sharing its counters through `shared` when given.
    pub fn new(policy: ThrottlePolicy, shared: Option<Arc<dyn ThrottleCounters>>) -> Self {
        Self {
            local: LoginThrottle::new(policy),
            shared,
        }
    }

    /// Whether every one of `keys` allows an attempt now; the longest wait otherwise.
    pub async fn check(&self, keys: &[String]) -> ThrottleVerdict {
        if let Some(shared) = &self.shared
            && let Ok(verdict) = shared.check(keys).await
        {
            return verdict;
        }
        self.local.check(keys, Instant::now())
    }

    /// Records a failed attempt against `account` and `address`.
    pub async fn record_failure(&self, account: &str, address: &str) {
        self.local.record_failure(account, address, Instant::now());
        if let Some(shared) = &self.shared {
            // Unavailable: the local count above is the fallback.
            let _ = shared.record_failure(account, address).await;
        }
    }

    /// Forgets an account's failures after a successful sign-in.
    pub async fn record_success(&self, account: &str) {
        self.local.record_success(account);
        if let Some(shared) = &self.shared {
            let _ = shared.record_success(account).await;
        }
    }
}

/// Whether an attempt may go ahead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThrottleVerdict {
    /// Check the password.
    Allowed,
    /// Refuse without checking; the client may try again after this long.
    Wait(Duration),
}

#[derive(Clone, Copy, Debug)]
struct Failures {
    count: u32,
    last: Instant,
    blocked_until: Option<Instant>,
}

/// The most keys remembered; beyond it, stale entries are dropped first, then the oldest.
const MAX_KEYS: usize = 100_000;

/// Failure counters for accounts and client addresses.
#[derive(Debug, Default)]
pub struct LoginThrottle {
    policy: ThrottlePolicy,
    entries: Mutex<HashMap<String, Failures>>,
}

impl LoginThrottle {
    /// A throttle enforcing `policy`.
    pub fn new(policy: ThrottlePolicy) -> Self {
        Self {
            policy,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The key for an account name (case-insensitive, as usernames are unique that way).
    pub fn account_key(username: &str) -> String {
        format!("account:{}", username.trim().to_lowercase())
    }

    /// The key for a client address.
    pub fn address_key(ip: &str) -> String {
        format!("ip:{ip}")
    }

    /// Whether every one of `keys` allows an attempt at `now`; the longest wait otherwise.
    pub fn check(&self, keys: &[String], now: Instant) -> ThrottleVerdict {
        let Ok(entries) = self.entries.lock() else {
            return ThrottleVerdict::Allowed;
        };
        let wait = keys
            .iter()
            .filter_map(|key| entries.get(key))
            .filter(|f| !self.expired(f, now))
            .filter_map(|f| f.blocked_until)
            .filter(|until| *until > now)
            .map(|until| until - now)
            .max();
        wait.map_or(ThrottleVerdict::Allowed, ThrottleVerdict::Wait)
    }

    /// Records a failed attempt against `account` and `address`.
    pub fn record_failure(&self, account: &str, address: &str, now: Instant) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if entries.len() >= MAX_KEYS {
            self.evict(&mut entries, now);
        }
        for (key, free, lockout) in self.policy.rules(account, address) {
            let entry = entries.entry(key.to_owned()).or_insert(Failures {
                count: 0,
                last: now,
                blocked_until: None,
            });
            if self.expired(entry, now) {
                *entry = Failures {
                    count: 0,
                    last: now,
                    blocked_until: None,
                };
            }
            entry.count = entry.count.saturating_add(1);
            entry.last = now;
            entry.blocked_until = self
                .policy
                .wait_after(entry.count, free, lockout)
                .map(|d| now + d);
        }
    }

    /// Forgets an account's failures after a successful sign-in (the address keeps its count,
    /// so one valid account cannot be used to reset a spraying attack).
    pub fn record_success(&self, account: &str) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(account);
        }
    }

    fn expired(&self, failures: &Failures, now: Instant) -> bool {
        let window = Duration::from_secs(self.policy.window_secs);
        let still_blocked = failures.blocked_until.is_some_and(|until| until > now);
        !still_blocked && now.saturating_duration_since(failures.last) > window
    }

    fn evict(&self, entries: &mut HashMap<String, Failures>, now: Instant) {
        entries.retain(|_, f| !self.expired(f, now));
        if entries.len() >= MAX_KEYS {
            let mut by_age: Vec<(String, Instant)> =
                entries.iter().map(|(k, f)| (k.clone(), f.last)).collect();
            by_age.sort_by_key(|(_, last)| *last);
            for (key, _) in by_age.into_iter().take(MAX_KEYS / 10) {
                entries.remove(&key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> ThrottlePolicy {
        ThrottlePolicy {
            free_attempts: 2,
            base_delay_secs: 1,
            max_delay_secs: 8,
            lockout_after: 7,
            lockout_secs: 600,
            ip_free_attempts: 4,
            window_secs: 900,
        }
    }

    fn keys() -> (String, String) {
        (
            LoginThrottle::account_key("Alice"),
            LoginThrottle::address_key("192.0.2.1"),
        )
    }

    #[test]
    fn free_failures_then_doubling_waits_then_lockout() {
        let throttle = LoginThrottle::new(policy());
        let (account, _) = keys();
        let t0 = Instant::now();
        let only_account = [account.clone()];
        let mut waits = Vec::new();
        for n in 1..=7u64 {
            // Each failure comes after the previous wait (at most 8 s) has passed and well
            // inside the window, from a new address each time, so only the account counts.
            let at = t0 + Duration::from_secs(n * 10);
            throttle.record_failure(&account, &format!("ip:{n}"), at);
            waits.push(match throttle.check(&only_account, at) {
                ThrottleVerdict::Allowed => 0,
                ThrottleVerdict::Wait(d) => d.as_secs(),
            });
        }
        // Failures 1-2 are free, then 1, 2, 4, 8 (capped), then the lockout.
        assert_eq!(waits, vec![0, 0, 1, 2, 4, 8, 600]);
    }

    #[test]
    fn waiting_attempts_are_refused_until_the_wait_passes() {
        let throttle = LoginThrottle::new(policy());
        let (account, address) = keys();
        let t0 = Instant::now();
        for _ in 0..3 {
            throttle.record_failure(&account, &address, t0);
        }
        let both = [account.clone(), address.clone()];
        assert_eq!(
            throttle.check(&both, t0),
            ThrottleVerdict::Wait(Duration::from_secs(1))
        );
        assert_eq!(
            throttle.check(&both, t0 + Duration::from_secs(2)),
            ThrottleVerdict::Allowed
        );
    }

    #[test]
    fn success_resets_the_account_but_not_the_address() {
        let throttle = LoginThrottle::new(policy());
        let (account, address) = keys();
        let t0 = Instant::now();
        for _ in 0..5 {
            throttle.record_failure(&account, &address, t0);
        }
        throttle.record_success(&account);
        assert_eq!(
            throttle.check(std::slice::from_ref(&account), t0),
            ThrottleVerdict::Allowed
        );
        assert!(matches!(
            throttle.check(&[address], t0),
            ThrottleVerdict::Wait(_)
        ));
    }

    #[test]
    fn failures_are_forgotten_after_the_window() {
        let throttle = LoginThrottle::new(policy());
        let (account, address) = keys();
        let t0 = Instant::now();
        for _ in 0..3 {
            throttle.record_failure(&account, &address, t0);
        }
        let later = t0 + Duration::from_secs(901);
        assert_eq!(
            throttle.check(std::slice::from_ref(&account), later),
            ThrottleVerdict::Allowed
        );
        throttle.record_failure(&account, &address, later);
        assert_eq!(
            throttle.check(&[account], later),
            ThrottleVerdict::Allowed,
            "counting starts over"
        );
    }

    /// Shared counters that are never reachable.
    struct Unreachable;

    #[async_trait]
    impl ThrottleCounters for Unreachable {
        async fn check(&self, _: &[String]) -> Result<ThrottleVerdict, CountersUnavailable> {
            Err(CountersUnavailable)
        }
        async fn record_failure(&self, _: &str, _: &str) -> Result<(), CountersUnavailable> {
            Err(CountersUnavailable)
        }
        async fn record_success(&self, _: &str) -> Result<(), CountersUnavailable> {
            Err(CountersUnavailable)
        }
    }

    #[tokio::test]
    async fn replicas_with_shared_counters_share_one_budget() {
        // One in-process throttle stands in for Redis behind two replicas' facades.
        let shared: Arc<dyn ThrottleCounters> = Arc::new(LoginThrottle::new(policy()));
        let one = Throttle::new(policy(), Some(Arc::clone(&shared)));
        let two = Throttle::new(policy(), Some(shared));
        let (account, address) = keys();
        let both = [account.clone(), address.clone()];
        one.record_failure(&account, &address).await;
        two.record_failure(&account, &address).await;
        assert_eq!(
            two.check(&both).await,
            ThrottleVerdict::Allowed,
            "two free failures"
        );
        one.record_failure(&account, &address).await;
        assert!(matches!(two.check(&both).await, ThrottleVerdict::Wait(_)));
        two.record_success(&account).await;
        assert_eq!(
            one.check(std::slice::from_ref(&account)).await,
            ThrottleVerdict::Allowed
        );
    }

    #[tokio::test]
    async fn unreachable_shared_counters_fall_back_to_local_ones() {
        let throttle = Throttle::new(policy(), Some(Arc::new(Unreachable)));
        let (account, address) = keys();
        for _ in 0..3 {
            throttle.record_failure(&account, &address).await;
        }
        assert!(
            matches!(throttle.check(&[account]).await, ThrottleVerdict::Wait(_)),
            "an outage never lifts the limit"
        );
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_secs(Duration::from_millis(59_001)), 60);
        assert_eq!(retry_after_secs(Duration::from_secs(60)), 60);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
    }

    #[test]
    fn account_keys_ignore_case() {
        assert_eq!(
            LoginThrottle::account_key(" ALICE "),
            LoginThrottle::account_key("alice")
        );
    }
}
