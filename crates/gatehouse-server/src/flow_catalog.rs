//! The flows the pages run, read from the store and kept for a few seconds, so a sign-in's
//! six requests do not parse the same definition six times, and an edit made with `apply` (on
//! any replica, or by the CLI) reaches every server within [`FLOW_CACHE_TTL`], or at once
//! when Redis carries the invalidation (`crate::redis::invalidation`).

use gatehouse_core::{Store, StoreError};
use gatehouse_flows::Flow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a loaded flow is served before it is read again.
pub const FLOW_CACHE_TTL: Duration = Duration::from_secs(5);

/// Stored flows by slug, parsed and validated.
pub struct FlowCatalog {
    store: Arc<dyn Store>,
    cache: Mutex<HashMap<String, (Instant, Arc<Flow>)>>,
}

impl std::fmt::Debug for FlowCatalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlowCatalog").finish_non_exhaustive()
    }
}

impl FlowCatalog {
    /// A catalog reading from `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The flow `slug`, or `None` when there is no such flow. Only flows that exist are
    /// cached, so requests for made-up slugs cannot grow the cache.
    ///
    /// # Errors
    /// The store's error, or [`StoreError::Internal`] for a stored definition that does not
    /// parse or validate (logged with the reason; `apply` refuses to store such a flow, so it
    /// can only come from editing the database by hand).
    pub async fn get(&self, slug: &str) -> Result<Option<Arc<Flow>>, StoreError> {
        if gatehouse_flows::flow::validate_slug(slug).is_err() {
            return Ok(None);
        }
        if let Some(flow) = self.cached(slug) {
            return Ok(Some(flow));
        }
        let Some(stored) = self.store.flow_definition(slug).await? else {
            return Ok(None);
        };
        let flow: Flow = serde_json::from_value(stored.definition).map_err(|error| {
            tracing::error!(flow = slug, %error, "stored flow does not parse");
            StoreError::Internal
        })?;
        flow.validate().map_err(|error| {
            tracing::error!(flow = slug, %error, "stored flow is invalid");
            StoreError::Internal
        })?;
        let flow = Arc::new(flow);
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(slug.to_owned(), (Instant::now(), Arc::clone(&flow)));
        }
        Ok(Some(flow))
    }

    /// Drops every cached flow (a flow changed, here or on another replica).
    pub fn clear(&self) {
        if let Ok(mut cache) = self.cache.lock() {
            cache.clear();
        }
    }

    fn cached(&self, slug: &str) -> Option<Arc<Flow>> {
        let cache = self.cache.lock().ok()?;
        let (loaded, flow) = cache.get(slug)?;
        (loaded.elapsed() < FLOW_CACHE_TTL).then(|| Arc::clone(flow))
    }
}
