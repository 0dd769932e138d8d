//! Queue wake-ups across processes. Tasks stay durable in their tables (the email outbox);
//! what Redis adds is the nudge: a producer pushes onto a list after its commit, and a worker
//! blocked on that list (`BLPOP`) starts at once instead of at its next poll. A lost nudge
//! costs only that delay, since workers still poll.

use super::RedisLink;
use crate::services::Services;
use fred::prelude::{ClientLike, ListInterface};
use std::time::Duration;

/// The list a worker blocks on for new outgoing email.
pub const OUTBOX: &str = "gatehouse:wake:outbox";

/// Nudges pending in the list at most: a burst of enqueues needs one delivery round, not one
/// each.
const MAX_PENDING: i64 = 16;

/// How long one `BLPOP` blocks before it is issued again.
const BLOCK_SECS: f64 = 5.0;

/// Pushes a wake-up onto `list`. Best effort: workers poll anyway.
pub async fn nudge(link: &RedisLink, list: &str) {
    if !link.is_up() {
        return;
    }
    let client = link.pool().next_connected();
    let pushed = client.lpush::<i64, _, _>(list, "1").await;
    match pushed {
        Ok(length) if length > MAX_PENDING => {
            let _ = client.ltrim::<(), _>(list, 0, MAX_PENDING - 1).await;
        }
        Ok(_) => {}
        Err(error) => link.command_failed("queue wake-up", &error),
    }
}

/// Relays wake-ups from [`OUTBOX`] to this worker's delivery task until `stop` flips, on a
/// connection of its own (a blocked `BLPOP` would hold a pooled one).
pub async fn relay_outbox(services: Services, mut stop: tokio::sync::watch::Receiver<bool>) {
    let Some(link) = services.redis.clone() else {
        return;
    };
    let mut builder = link.builder().clone();
    builder.with_performance_config(|performance| {
        performance.default_command_timeout = Duration::from_secs_f64(BLOCK_SECS + 2.0);
    });
    let client = match builder.build() {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(kind = ?error.kind(), "cannot build the Redis wake-up client; the worker polls");
            return;
        }
    };
    let _connection = client.connect();
    loop {
        let popped = tokio::select! {
            popped = client.blpop::<Option<(String, String)>, _>(OUTBOX, BLOCK_SECS) => popped,
            _ = stop.changed() => break,
        };
        match popped {
            Ok(Some(_)) => services.outbox_wakeup.notify_one(),
            Ok(None) => {}
            // Redis away: wait a little rather than spin; readiness reports the outage.
            Err(_) => tokio::select! {
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = stop.changed() => break,
            },
        }
    }
    let _ = client.quit().await;
}
