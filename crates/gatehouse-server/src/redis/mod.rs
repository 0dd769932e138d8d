//! Redis as the optional shared backend of several replicas (issue 8), through the fred
//! client (pool, reconnect, TLS with `rediss://`).
//!
//! PostgreSQL stays the only durable store: sign-in, sign-out and session revocation commit
//! atomically with their audit events in the database, and tasks stay in their tables. Redis
//! holds shared *ephemeral* state only, so losing it loses nothing:
//! - rate-limit counters shared by every replica ([`counters`]);
//! - cache invalidations published on a channel, so every replica drops a changed
//!   application, key or flow at once instead of after the 5 s TTL ([`invalidation`]);
//! - a short-lived cache of session lookups keyed by the session's keyed digest
//!   ([`sessions`]);
//! - queue wake-ups, so a worker starts on new mail at once instead of at its next poll
//!   ([`wakeup`]).
//!
//! While Redis is unreachable every user of it falls back (rate limits to the in-process
//! counters, never to "unlimited"; the session lookup to the database; invalidations to the
//! TTL; wake-ups to polling), readiness reports `"redis": "unavailable"`, and the link
//! reconnects by itself.

pub mod counters;
pub mod invalidation;
pub mod sessions;
pub mod wakeup;

use crate::config::RedisConfig;
use fred::prelude::{Builder, ClientLike, Config as FredConfig, Pool, ReconnectPolicy, TcpConfig};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Every key and channel Gatehouse uses starts with this, so a shared Redis stays tidy.
pub const KEY_PREFIX: &str = "gatehouse:";

/// How often the link checks that Redis answers (readiness asks on its own too).
const MONITOR_INTERVAL: Duration = Duration::from_secs(1);

/// Whether `url` is a Redis URL Gatehouse can use; the message never repeats the URL (it may
/// carry a password).
///
/// # Errors
/// What is wrong with it.
pub fn check_url(url: &str) -> Result<(), String> {
    if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
        return Err("must start with redis:// or rediss:// (TLS)".into());
    }
    FredConfig::from_url(url)
        .map(|_| ())
        .map_err(|e| format!("not a usable Redis URL ({:?})", e.kind()))
}

/// The connection to Redis shared by a process's handlers and tasks; cheap to clone.
#[derive(Clone)]
pub struct RedisLink {
    pool: Pool,
    builder: Arc<Builder>,
    up: Arc<AtomicBool>,
    session_ttl: Duration,
    deferred: Arc<Mutex<Vec<sessions::Forget>>>,
}

impl std::fmt::Debug for RedisLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisLink")
            .field("up", &self.is_up())
            .finish_non_exhaustive()
    }
}

impl RedisLink {
    /// Builds the pool from `config` and starts connecting in the background: Redis being
    /// down at start-up does not stop the process (it is reported by readiness instead).
    ///
    /// # Errors
    /// A configuration the client refuses (checked again here; `Config::load` checks first).
    pub fn connect(config: &RedisConfig) -> Result<Option<Self>, String> {
        let Some(url) = &config.url else {
            return Ok(None);
        };
        check_url(url.expose())?;
        let mut redis_config = FredConfig::from_url(url.expose())
            .map_err(|e| format!("not a usable Redis URL ({:?})", e.kind()))?;
        if let Some(password) = &config.password {
            redis_config.password = Some(password.expose().to_owned());
        }
        // Keep retrying in the background rather than failing start-up.
        redis_config.fail_fast = false;
        let mut builder = Builder::from_config(redis_config);
        let connect_timeout = Duration::from_secs(config.connect_timeout_secs.max(1));
        let command_timeout = Duration::from_millis(config.command_timeout_ms.max(1));
        builder
            .with_connection_config(|connection| {
                connection.connection_timeout = connect_timeout;
                connection.internal_command_timeout = connect_timeout;
                // A command that fails is not retried: its caller falls back instead.
                connection.max_command_attempts = 1;
                connection.tcp = TcpConfig {
                    nodelay: Some(true),
                    ..TcpConfig::default()
                };
            })
            .with_performance_config(|performance| {
                performance.default_command_timeout = command_timeout;
            })
            // Reconnect for ever, between 100 ms and 2 s apart.
            .set_policy(ReconnectPolicy::new_exponential(0, 100, 2_000, 2));
        let pool = builder
            .build_pool(config.pool_size.max(1))
            .map_err(|e| format!("cannot build the Redis pool ({:?})", e.kind()))?;
        let _connection_tasks = pool.connect_pool();
        metrics::gauge!("gatehouse_redis_up").set(0.0);
        Ok(Some(Self {
            pool,
            builder: Arc::new(builder),
            up: Arc::new(AtomicBool::new(false)),
            deferred: Arc::default(),
            session_ttl: Duration::from_secs(config.session_cache_secs),
        }))
    }

    /// Whether Redis answered the last check. Callers skip Redis while it is down, so a
    /// request does not wait for a command timeout before falling back.
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Acquire)
    }

    /// Records whether Redis answers, logging each change once and updating
    /// `gatehouse_redis_up`.
    pub fn mark(&self, up: bool) {
        let was = self.up.swap(up, Ordering::AcqRel);
        metrics::gauge!("gatehouse_redis_up").set(if up { 1.0 } else { 0.0 });
        match (was, up) {
            (false, true) => {
                tracing::info!("Redis is reachable; shared rate limits, caches and wake-ups are on")
            }
            (true, false) => tracing::warn!(
                "Redis is unreachable; falling back to in-process rate limits, database session lookups, cache TTLs and queue polling until it returns"
            ),
            _ => {}
        }
    }

    /// Records a failed command: Redis is treated as down until the monitor's next
    /// successful check.
    pub(crate) fn command_failed(&self, what: &str, error: &fred::error::Error) {
        tracing::debug!(what, kind = ?error.kind(), "Redis command failed");
        self.mark(false);
    }

    /// Sends `PING` within `timeout`, records the answer and returns it.
    pub async fn check(&self, timeout: Duration) -> bool {
        let answered = matches!(
            tokio::time::timeout(timeout, self.pool.next_connected().ping::<String>(None)).await,
            Ok(Ok(_))
        );
        self.mark(answered);
        answered
    }

    /// Remembers a session-cache drop that Redis did not take, for [`Self::monitor`] to
    /// replay: a session revoked during an outage must not come back from the cache after it.
    pub(crate) fn defer_forget(&self, what: sessions::Forget) {
        let mut deferred = self.deferred.lock().unwrap_or_else(|p| p.into_inner());
        if !deferred.contains(&what) {
            deferred.push(what);
        }
    }

    /// Replays deferred drops; those Redis still refuses wait for the next round.
    async fn replay_deferred(&self) {
        let pending = std::mem::take(&mut *self.deferred.lock().unwrap_or_else(|p| p.into_inner()));
        for what in pending {
            if !sessions::forget_now(self, what).await {
                self.defer_forget(what);
            }
        }
    }

    /// Checks Redis every second until `stop` flips, so [`Self::is_up`] follows it, and
    /// replays deferred session-cache drops once it answers.
    pub async fn monitor(self, mut stop: tokio::sync::watch::Receiver<bool>) {
        loop {
            if self.check(MONITOR_INTERVAL).await {
                self.replay_deferred().await;
            }
            tokio::select! {
                () = tokio::time::sleep(MONITOR_INTERVAL) => {}
                _ = stop.changed() => return,
            }
        }
    }

    /// The pool, for the modules of this one.
    pub(crate) fn pool(&self) -> &Pool {
        &self.pool
    }

    /// The client settings, for the dedicated connections of subscribers and wake-ups.
    pub(crate) fn builder(&self) -> &Builder {
        &self.builder
    }

    /// How long a session found in the database is served from Redis.
    pub(crate) fn session_ttl(&self) -> Duration {
        self.session_ttl
    }

    /// `gatehouse:<kind>:<id>`.
    pub(crate) fn key(kind: &str, id: &str) -> String {
        format!("{KEY_PREFIX}{kind}:{id}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_without_repeating_them() {
        assert!(check_url("redis://127.0.0.1:6379/0").is_ok());
        assert!(check_url("rediss://:pw@redis.example:6380").is_ok());
        let problem = check_url("http://user:hunter2@example").expect_err("not redis");
        assert!(problem.contains("redis://"), "{problem}");
        assert!(!problem.contains("hunter2"));
        let problem = check_url("redis://:hunter2@[bad").expect_err("bad host");
        assert!(!problem.contains("hunter2"), "{problem}");
    }

    #[test]
    fn keys_carry_the_prefix() {
        assert_eq!(RedisLink::key("throttle", "abc"), "gatehouse:throttle:abc");
    }
}
