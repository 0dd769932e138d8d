//! Rate-limit counters in Redis, shared by every replica: the login throttle's failure
//! counts and waits, and the recovery limits' sliding windows. Each update is one Lua script,
//! so concurrent replicas never lose a count. Keys are keyed digests of the throttle key
//! (HMAC with the secret key), so no username or address appears in Redis in clear.

use super::RedisLink;
use crate::recovery_limit::WindowCounters;
use crate::throttle::{CountersUnavailable, ThrottleCounters, ThrottlePolicy, ThrottleVerdict};
use async_trait::async_trait;
use fred::prelude::LuaInterface;
use gatehouse_crypto::TokenDigester;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Counts one failure (KEYS[1]) and keeps the count for the window (ARGV[1] ms), or for as
/// long as the key is blocked (KEYS[2]) if that is longer. Returns the count.
const RECORD_FAILURE: &str = r"
local n = redis.call('INCR', KEYS[1])
local keep = tonumber(ARGV[1])
local blocked = redis.call('PTTL', KEYS[2])
if blocked > keep then keep = blocked end
redis.call('PEXPIRE', KEYS[1], keep)
return n
";

/// Blocks KEYS[1] for ARGV[1] ms unless it is already blocked for longer, and keeps the count
/// (KEYS[2]) at least as long as the block or the window (ARGV[2] ms).
const BLOCK: &str = r"
local wait = tonumber(ARGV[1])
if redis.call('PTTL', KEYS[1]) < wait then
  redis.call('SET', KEYS[1], '1', 'PX', wait)
end
local keep = math.max(wait, tonumber(ARGV[2]))
if redis.call('PTTL', KEYS[2]) < keep then redis.call('PEXPIRE', KEYS[2], keep) end
return 1
";

/// The longest remaining block (ms) over KEYS, 0 when none is blocked.
const LONGEST_BLOCK: &str = r"
local longest = 0
for _, key in ipairs(KEYS) do
  local left = redis.call('PTTL', key)
  if left > longest then longest = left end
end
return longest
";

/// A sliding window in a sorted set: drops hits older than ARGV[2] ms before now (ARGV[1]),
/// refuses when ARGV[3] remain, else adds this hit (member ARGV[4]). Returns 1 when allowed.
const WINDOW_HIT: &str = r"
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('PEXPIRE', KEYS[1], window)
return 1
";

/// Rate-limit counters in Redis.
pub struct RedisCounters {
    link: RedisLink,
    digester: Arc<TokenDigester>,
    policy: ThrottlePolicy,
}

impl std::fmt::Debug for RedisCounters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCounters").finish_non_exhaustive()
    }
}

impl RedisCounters {
    /// Counters in `link`'s Redis, keys hashed with `digester`, waits per `policy`.
    pub fn new(link: RedisLink, digester: Arc<TokenDigester>, policy: ThrottlePolicy) -> Self {
        Self {
            link,
            digester,
            policy,
        }
    }

    /// The Redis key of a throttle key's `part` (`n` count, `b` block, `w` window).
    fn key(&self, part: &str, key: &str) -> String {
        RedisLink::key(
            &format!("limit:{part}"),
            &self.digester.digest(&format!("rate-limit:{key}")),
        )
    }

    async fn eval(
        &self,
        script: &'static str,
        keys: Vec<String>,
        args: Vec<String>,
    ) -> Result<i64, CountersUnavailable> {
        if !self.link.is_up() {
            return Err(CountersUnavailable);
        }
        self.link
            .pool()
            .next_connected()
            .eval::<i64, _, _, _>(script, keys, args)
            .await
            .map_err(|error| {
                self.link.command_failed("rate limit", &error);
                CountersUnavailable
            })
    }
}

fn millis(duration: Duration) -> String {
    duration.as_millis().max(1).to_string()
}

#[async_trait]
impl ThrottleCounters for RedisCounters {
    async fn check(&self, keys: &[String]) -> Result<ThrottleVerdict, CountersUnavailable> {
        let blocks = keys.iter().map(|key| self.key("b", key)).collect();
        let left = self.eval(LONGEST_BLOCK, blocks, Vec::new()).await?;
        Ok(match u64::try_from(left) {
            Ok(ms) if ms > 0 => ThrottleVerdict::Wait(Duration::from_millis(ms)),
            _ => ThrottleVerdict::Allowed,
        })
    }

    async fn record_failure(
        &self,
        account: &str,
        address: &str,
    ) -> Result<(), CountersUnavailable> {
        let window = Duration::from_secs(self.policy.window_secs);
        for (key, free, lockout) in self.policy.rules(account, address) {
            let (count_key, block_key) = (self.key("n", key), self.key("b", key));
            let count = self
                .eval(
                    RECORD_FAILURE,
                    vec![count_key.clone(), block_key.clone()],
                    vec![millis(window)],
                )
                .await?;
            let count = u32::try_from(count).unwrap_or(u32::MAX);
            if let Some(wait) = self.policy.wait_after(count, free, lockout) {
                self.eval(
                    BLOCK,
                    vec![block_key, count_key],
                    vec![millis(wait), millis(window)],
                )
                .await?;
            }
        }
        Ok(())
    }

    async fn record_success(&self, account: &str) -> Result<(), CountersUnavailable> {
        let keys = vec![self.key("n", account), self.key("b", account)];
        // DEL through a script keeps one code path for every command here.
        self.eval("return redis.call('DEL', unpack(KEYS))", keys, Vec::new())
            .await
            .map(|_| ())
    }
}

#[async_trait]
impl WindowCounters for RedisCounters {
    async fn allow(
        &self,
        key: &str,
        limit: usize,
        window: Duration,
    ) -> Result<bool, CountersUnavailable> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let allowed = self
            .eval(
                WINDOW_HIT,
                vec![self.key("w", key)],
                vec![
                    now.as_millis().to_string(),
                    millis(window),
                    limit.to_string(),
                    uuid::Uuid::new_v4().to_string(),
                ],
            )
            .await?;
        Ok(allowed == 1)
    }
}
