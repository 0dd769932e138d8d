//! The per-request session lookup served from Redis for a short while
//! (`redis.session_cache_secs`), keyed by the session's keyed digest (never the cookie).
//! The database stays the truth: a sign-in writes the session there first, and a session
//! ended or revoked there is dropped here in the same code path, after the commit.
//!
//! A lookup that read the database just before a revocation committed must not put the
//! revoked session back: ending a session leaves a tombstone for the cache's lifetime, and the
//! fill refuses to write over one (both are Lua scripts, so each is atomic).

use super::RedisLink;
use fred::prelude::{KeysInterface, LuaInterface};
use gatehouse_core::{Change, Session, SessionId, UserId};

/// Stores a session (KEYS[1] by digest) with the index entries that let it be dropped by
/// session id (KEYS[2]) and by user (KEYS[3]), unless a tombstone for the session (KEYS[4]) or
/// its user (KEYS[5]) exists. ARGV: JSON, ttl ms, digest, session id.
const FILL: &str = r"
if redis.call('EXISTS', KEYS[4]) == 1 or redis.call('EXISTS', KEYS[5]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[2])
redis.call('SADD', KEYS[3], ARGV[4])
redis.call('PEXPIRE', KEYS[3], ARGV[2])
return 1
";

/// Drops a session found by id (KEYS[1] holds its digest) and leaves a tombstone (KEYS[2]).
/// ARGV: the key prefix of sessions by digest, ttl ms.
const FORGET_SESSION: &str = r"
local digest = redis.call('GET', KEYS[1])
if digest then redis.call('DEL', ARGV[1] .. digest) end
redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[2], '1', 'PX', ARGV[2])
return 1
";

/// Drops every cached session of a user (KEYS[1] lists their ids) and leaves a tombstone for
/// the user (KEYS[2]). ARGV: prefix of sessions by digest, prefix of digests by id, ttl ms.
const FORGET_USER: &str = r"
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local digest = redis.call('GET', ARGV[2] .. id)
  if digest then redis.call('DEL', ARGV[1] .. digest) end
  redis.call('DEL', ARGV[2] .. id)
end
redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[2], '1', 'PX', ARGV[3])
return 1
";

fn by_digest(digest: &str) -> String {
    RedisLink::key("session", digest)
}

fn digest_of(id: &str) -> String {
    RedisLink::key("session-digest", id)
}

/// The cached session with this digest, if Redis is up and has it.
pub async fn cached(link: &RedisLink, digest: &str) -> Option<Session> {
    if !link.is_up() || link.session_ttl().is_zero() {
        return None;
    }
    match link
        .pool()
        .next_connected()
        .get::<Option<String>, _>(by_digest(digest))
        .await
    {
        Ok(Some(json)) => serde_json::from_str(&json).ok(),
        Ok(None) => None,
        Err(error) => {
            link.command_failed("session lookup", &error);
            None
        }
    }
}

/// Caches `session` (just read from the database) for the configured time, or until it
/// expires if that is sooner.
pub async fn remember(link: &RedisLink, session: &Session) {
    if !link.is_up() || link.session_ttl().is_zero() {
        return;
    }
    let left = (session.expires_at - chrono::Utc::now())
        .to_std()
        .unwrap_or_default();
    let ttl = link.session_ttl().min(left);
    if ttl.as_millis() == 0 {
        return;
    }
    let Ok(json) = serde_json::to_string(session) else {
        return;
    };
    let id = session.id.to_string();
    let user = session.user_id.to_string();
    let keys = vec![
        by_digest(&session.digest),
        digest_of(&id),
        RedisLink::key("user-sessions", &user),
        RedisLink::key("session-ended", &id),
        RedisLink::key("user-sessions-ended", &user),
    ];
    let args = vec![
        json,
        ttl.as_millis().to_string(),
        session.digest.clone(),
        id,
    ];
    if let Err(error) = link
        .pool()
        .next_connected()
        .eval::<i64, _, _, _>(FILL, keys, args)
        .await
    {
        link.command_failed("session cache fill", &error);
    }
}

/// A cache entry to drop that could not be dropped while Redis was unreachable; replayed
/// when it answers again (see [`RedisLink::monitor`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Forget {
    /// One session.
    Session(SessionId),
    /// Every session of a user.
    User(UserId),
}

/// Drops `what` from the cache (after the database deleted it). While Redis is unreachable
/// the drop waits in memory until it answers again.
pub async fn forget(link: &RedisLink, what: Forget) {
    if !link.is_up() || !forget_now(link, what).await {
        link.defer_forget(what);
    }
}

/// Runs one drop; `false` when Redis did not answer.
pub(crate) async fn forget_now(link: &RedisLink, what: Forget) -> bool {
    let (script, keys, args) = match what {
        Forget::Session(id) => {
            let id = id.to_string();
            (
                FORGET_SESSION,
                vec![digest_of(&id), RedisLink::key("session-ended", &id)],
                vec![by_digest(""), tombstone_ms(link)],
            )
        }
        Forget::User(user) => {
            let user = user.to_string();
            (
                FORGET_USER,
                vec![
                    RedisLink::key("user-sessions", &user),
                    RedisLink::key("user-sessions-ended", &user),
                ],
                vec![by_digest(""), digest_of(""), tombstone_ms(link)],
            )
        }
    };
    match link
        .pool()
        .next_connected()
        .eval::<i64, _, _, _>(script, keys, args)
        .await
    {
        Ok(_) => true,
        Err(error) => {
            link.command_failed("session cache drop", &error);
            false
        }
    }
}

/// Drops what a committed change set ended.
pub async fn forget_for_changes(link: &RedisLink, changes: &[Change]) {
    for change in changes {
        match change {
            Change::EndSession(id) => forget(link, Forget::Session(*id)).await,
            Change::EndOtherSessions { user, .. } => forget(link, Forget::User(*user)).await,
            _ => {}
        }
    }
}

/// Tombstones outlive any entry a racing lookup could still write.
fn tombstone_ms(link: &RedisLink) -> String {
    link.session_ttl().as_millis().max(1).to_string()
}
