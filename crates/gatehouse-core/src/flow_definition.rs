//! Flows as the store keeps them: a slug and the flow's definition as a JSON document. The
//! definition's shape belongs to `gatehouse-flows` (which parses and validates it); the store
//! only needs the slug to find it, so a new stage kind never needs a migration.

use chrono::{DateTime, Utc};
use serde_json::Value;

/// A stored flow.
#[derive(Clone, Debug, PartialEq)]
pub struct FlowDefinition {
    /// The flow's slug (`/if/flow/<slug>/`), unique.
    pub slug: String,
    /// The whole flow, as `gatehouse_flows::Flow` serialises it.
    pub definition: Value,
    /// When it was first stored.
    pub created_at: DateTime<Utc>,
    /// When it last changed (the flow cache compares it).
    pub updated_at: DateTime<Utc>,
}
