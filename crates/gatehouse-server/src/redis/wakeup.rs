//! Queue wake-ups across processes. Tasks stay durable in their tables (the email outbox,
//! back-channel logouts); what Redis adds is the nudge: a producer pushes onto a list after
//! its commit, and a worker blocked on that list (`BLPOP`) starts at once instead of at its
//! next poll. A lost nudge costs only that delay, since workers still poll.

use super::RedisLink;
use crate::services::Services;
use fred::prelude::{ClientLike, ListInterface};
use std::time::Duration;

/// A durable queue whose worker can be woken: each has its own Redis list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Queue {
    /// The email outbox.
    Outbox,
    /// Back-channel logout deliveries.
    Backchannel,
}

impl Queue {
    const ALL: [Self; 2] = [Self::Outbox, Self::Backchannel];

    /// The list a worker blocks on for this queue.
    fn list(self) -> &'static str {
        match self {
            Self::Outbox => "gatehouse:wake:outbox",
            Self::Backchannel => "gatehouse:wake:backchannel",
        }
    }

    /// This process's delivery task for the queue.
    fn local_wakeup(self, services: &Services) -> &tokio::sync::Notify {
        match self {
            Self::Outbox => &services.outbox_wakeup,
            Self::Backchannel => &services.backchannel_wakeup,
        }
    }
}

/// Nudges pending in a list at most: a burst of enqueues needs one delivery round, not one
/// each.
const MAX_PENDING: i64 = 16;

/// How long one `BLPOP` blocks before it is issued again.
const BLOCK_SECS: f64 = 5.0;

/// Pushes a wake-up for `queue`. Best effort: workers poll anyway.
pub async fn nudge(link: &RedisLink, queue: Queue) {
    if !link.is_up() {
        return;
    }
    let client = link.pool().next_connected();
    let pushed = client.lpush::<i64, _, _>(queue.list(), "1").await;
    match pushed {
        Ok(length) if length > MAX_PENDING => {
            let _ = client
                .ltrim::<(), _>(queue.list(), 0, MAX_PENDING - 1)
                .await;
        }
        Ok(_) => {}
        Err(error) => link.command_failed("queue wake-up", &error),
    }
}

/// Relays wake-ups from every [`Queue`]'s list to this worker's delivery tasks until `stop`
/// flips, on a connection of its own (a blocked `BLPOP` would hold a pooled one).
pub async fn relay(services: Services, mut stop: tokio::sync::watch::Receiver<bool>) {
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
    let lists: Vec<&str> = Queue::ALL.iter().map(|queue| queue.list()).collect();
    loop {
        let popped = tokio::select! {
            popped = client.blpop::<Option<(String, String)>, _>(lists.clone(), BLOCK_SECS) => popped,
            _ = stop.changed() => break,
        };
        match popped {
            Ok(Some((list, _))) => {
                if let Some(queue) = Queue::ALL.into_iter().find(|queue| queue.list() == list) {
                    queue.local_wakeup(&services).notify_one();
                }
            }
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
