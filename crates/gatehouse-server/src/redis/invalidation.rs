//! Cache invalidation across replicas: whoever changes applications, providers, signing
//! keys or flows (a server, the worker, the CLI, `apply`) publishes what changed on one
//! channel after the change commits, and every replica drops those entries of its
//! `oidc::cache` and `flow_catalog` at once. The caches keep their 5 s TTL as the fallback
//! for a message lost while Redis was away (and each replica clears everything when its
//! subscription reconnects, since messages published meanwhile are gone).

use super::RedisLink;
use crate::services::Services;
use fred::prelude::{ClientLike, EventInterface, PubsubInterface};
use gatehouse_core::Change;
use std::time::Duration;

/// The channel every replica subscribes to.
pub const CHANNEL: &str = "gatehouse:invalidate";

/// What a change made stale.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Invalidation {
    /// Applications and their OAuth2 providers (by client id, by slug, discovery documents).
    Applications,
    /// Signing keys (the active key per algorithm and the published JWKS).
    Keys,
    /// Flow definitions.
    Flows,
}

impl Invalidation {
    /// The message text.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Applications => "applications",
            Self::Keys => "keys",
            Self::Flows => "flows",
        }
    }

    /// Reads a message; `None` for anything else (ignored, and logged by the subscriber).
    pub fn parse(message: &str) -> Option<Self> {
        match message {
            "applications" => Some(Self::Applications),
            "keys" => Some(Self::Keys),
            "flows" => Some(Self::Flows),
            _ => None,
        }
    }

    /// What a committed change set made stale, each kind once.
    pub fn for_changes(changes: &[Change]) -> Vec<Self> {
        let mut stale: Vec<Self> = changes
            .iter()
            .filter_map(|change| match change {
                Change::CreateApplication(_) | Change::UpdateApplication { .. } => {
                    Some(Self::Applications)
                }
                // Applications admit users through groups: a group renamed or removed
                // changes who an application admits.
                Change::CreateGroup(_) | Change::UpdateGroup { .. } => Some(Self::Applications),
                Change::PutFlow { .. } => Some(Self::Flows),
                _ => None,
            })
            .collect();
        stale.sort();
        stale.dedup();
        stale
    }
}

/// Drops this process's cached entries of `kinds`.
pub fn clear_local(services: &Services, kinds: &[Invalidation]) {
    for kind in kinds {
        match kind {
            Invalidation::Applications => services.oidc_cache.clear_applications(),
            Invalidation::Keys => services.oidc_cache.clear_keys(),
            Invalidation::Flows => services.flows.clear(),
        }
    }
}

/// Tells every replica that `kinds` changed. Best effort: while Redis is away the replicas'
/// TTL takes over.
pub async fn publish(link: &RedisLink, kinds: &[Invalidation]) {
    if !link.is_up() {
        return;
    }
    for kind in kinds {
        let sent = link
            .pool()
            .next_connected()
            .publish::<i64, _, _>(CHANNEL, kind.as_str())
            .await;
        if let Err(error) = sent {
            link.command_failed("publish invalidation", &error);
            return;
        }
    }
}

/// Listens on [`CHANNEL`] and clears this process's caches for each message, until `stop`.
pub async fn subscribe(services: Services, mut stop: tokio::sync::watch::Receiver<bool>) {
    let Some(link) = services.redis.clone() else {
        return;
    };
    let subscriber = match link.builder().build_subscriber_client() {
        Ok(subscriber) => subscriber,
        Err(error) => {
            tracing::error!(kind = ?error.kind(), "cannot build the Redis subscriber; caches rely on their TTL");
            return;
        }
    };
    let _connection = subscriber.connect();
    let _resubscribe = subscriber.manage_subscriptions();
    let mut messages = subscriber.message_rx();
    let mut reconnects = subscriber.reconnect_rx();
    // The first SUBSCRIBE waits for the connection; retry until it is through.
    loop {
        if subscriber.subscribe(CHANNEL).await.is_ok() {
            break;
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = stop.changed() => return,
        }
    }
    loop {
        tokio::select! {
            message = messages.recv() => match message {
                Ok(message) => {
                    let text = message.value.as_string().unwrap_or_default();
                    match Invalidation::parse(&text) {
                        Some(kind) => clear_local(&services, &[kind]),
                        None => tracing::debug!(message = %text, "ignored an unknown invalidation"),
                    }
                }
                // Lagged: some messages were dropped, so drop everything.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => clear_local(&services, &ALL),
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            },
            reconnected = reconnects.recv() => {
                if reconnected.is_ok() {
                    // Messages published while disconnected are lost.
                    clear_local(&services, &ALL);
                }
            }
            _ = stop.changed() => break,
        }
    }
    let _ = subscriber.quit().await;
}

const ALL: [Invalidation; 3] = [
    Invalidation::Applications,
    Invalidation::Keys,
    Invalidation::Flows,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip() {
        for kind in ALL {
            assert_eq!(Invalidation::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(Invalidation::parse("everything"), None);
    }

    #[test]
    fn change_sets_name_what_they_made_stale() {
        let changes = vec![
            Change::PutFlow {
                slug: "login".into(),
                definition: serde_json::json!({}),
            },
            Change::UpdateApplication {
                slug: "grafana".into(),
                patch: Default::default(),
            },
            Change::UpdateApplication {
                slug: "wiki".into(),
                patch: Default::default(),
            },
            Change::EndSession(gatehouse_core::SessionId::new()),
        ];
        assert_eq!(
            Invalidation::for_changes(&changes),
            vec![Invalidation::Applications, Invalidation::Flows]
        );
        assert!(
            Invalidation::for_changes(&[Change::EndSession(gatehouse_core::SessionId::new())])
                .is_empty()
        );
    }
}
