//! What the OIDC endpoints read on every request, kept for a few seconds: applications by
//! client id and by slug, each application's discovery document and the JWKS as ready bytes,
//! the active signing key per algorithm and the verification keys. Reading them from the
//! store on every token request cost several SQLite round trips per token (bench/README.md,
//! "Token endpoint"). As with `flow_catalog`, entries expire after [`OIDC_CACHE_TTL`], so a
//! change made with the CLI or `apply` (another process) or on another replica reaches every
//! server within that time; only things that exist are cached, so made-up client ids and
//! slugs cannot grow the cache. With Redis, a change is published and every replica clears
//! the entries at once (`crate::redis::invalidation`); the TTL remains the fallback.

use crate::oidc::keys::ActiveKey;
use crate::services::Services;
use axum::body::Bytes;
use gatehouse_core::{Application, KeyAlgorithm, StoreError};
use gatehouse_oidc::jwt::VerificationKey;
use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a cached entry is served before it is read again. A deleted application, a
/// rotated client secret or a new signing key takes effect on this server within this time.
pub const OIDC_CACHE_TTL: Duration = Duration::from_secs(5);

/// A map whose entries are served for [`OIDC_CACHE_TTL`] after they were loaded.
struct TtlMap<K, V>(Mutex<HashMap<K, (Instant, V)>>);

impl<K, V> Default for TtlMap<K, V> {
    fn default() -> Self {
        Self(Mutex::new(HashMap::new()))
    }
}

impl<K: Eq + Hash, V: Clone> TtlMap<K, V> {
    fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        let map = self.0.lock().ok()?;
        let (loaded, value) = map.get(key)?;
        (loaded.elapsed() < OIDC_CACHE_TTL).then(|| value.clone())
    }

    fn insert(&self, key: K, value: V) {
        if let Ok(mut map) = self.0.lock() {
            // Expired entries of applications that no longer exist go at the next insert.
            map.retain(|_, (loaded, _)| loaded.elapsed() < OIDC_CACHE_TTL);
            map.insert(key, (Instant::now(), value));
        }
    }

    fn clear(&self) {
        if let Ok(mut map) = self.0.lock() {
            map.clear();
        }
    }
}

/// An OIDC application found by slug, with its discovery document serialised once.
#[derive(Debug)]
pub struct PublishedApplication {
    /// The application (it has an OAuth2 provider).
    pub app: Application,
    /// Its OpenID Provider metadata as JSON bytes.
    pub discovery: Bytes,
}

/// Every signing key's public half (retired ones too, until their tokens expire).
#[derive(Debug)]
pub struct PublishedKeys {
    /// For verifying our own tokens (userinfo, introspection, `id_token_hint`).
    pub verification: Vec<VerificationKey>,
    /// The JWKS document as JSON bytes.
    pub jwks: Bytes,
}

/// The cached entries. One per server, in [`Services`].
#[derive(Default)]
pub struct OidcCache {
    by_client_id: TtlMap<String, Arc<Application>>,
    by_slug: TtlMap<String, Arc<PublishedApplication>>,
    signing: TtlMap<KeyAlgorithm, ActiveKey>,
    published: TtlMap<(), Arc<PublishedKeys>>,
}

impl std::fmt::Debug for OidcCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcCache").finish_non_exhaustive()
    }
}

impl OidcCache {
    /// The cached active key for `alg`, if fresh.
    pub(crate) fn signing_key(&self, alg: KeyAlgorithm) -> Option<ActiveKey> {
        self.signing.get(&alg)
    }

    /// Remembers the active key for `alg`. The published keys are dropped at the same time:
    /// a key just read from the store may be newer than the cached JWKS (made by the CLI or
    /// on first use), and a token must never carry a `kid` the JWKS does not list.
    pub(crate) fn remember_signing_key(&self, alg: KeyAlgorithm, key: ActiveKey) {
        self.published.clear();
        self.signing.insert(alg, key);
    }

    /// Drops every cached application (a change to one committed, here or on another
    /// replica: see `crate::redis::invalidation`).
    pub fn clear_applications(&self) {
        self.by_client_id.clear();
        self.by_slug.clear();
    }

    /// Drops the cached signing and published keys (a key was created or rotated).
    pub fn clear_keys(&self) {
        self.signing.clear();
        self.published.clear();
    }
}

/// The application whose OAuth2 client id is `client_id`.
///
/// # Errors
/// The store's error.
pub async fn application_by_client_id(
    services: &Services,
    client_id: &str,
) -> Result<Option<Application>, StoreError> {
    let cache = &services.oidc_cache;
    if let Some(app) = cache.by_client_id.get(client_id) {
        return Ok(Some(Application::clone(&app)));
    }
    let Some(app) = services.store.application_by_client_id(client_id).await? else {
        return Ok(None);
    };
    cache
        .by_client_id
        .insert(client_id.to_owned(), Arc::new(app.clone()));
    Ok(Some(app))
}

/// The application `slug` with its discovery document, when it has an OAuth2 provider.
///
/// # Errors
/// The store's error.
pub async fn oidc_application_by_slug(
    services: &Services,
    slug: &str,
) -> Result<Option<Arc<PublishedApplication>>, StoreError> {
    let cache = &services.oidc_cache;
    if let Some(found) = cache.by_slug.get(slug) {
        return Ok(Some(found));
    }
    let Some(app) = services.store.application_by_slug(slug).await? else {
        return Ok(None);
    };
    let Some(provider) = &app.oauth2 else {
        return Ok(None);
    };
    let mut document = gatehouse_oidc::discovery::document(
        &services.config.base_url(),
        &app.slug,
        provider.signing_alg,
        &provider.scopes,
    );
    gatehouse_oidc::discovery::add_custom_claims(&mut document, provider.mapped_claims());
    let found = Arc::new(PublishedApplication {
        discovery: Bytes::from(document.to_string()),
        app,
    });
    cache.by_slug.insert(slug.to_owned(), Arc::clone(&found));
    Ok(Some(found))
}

/// Every signing key's public half, as verification keys and as the JWKS document.
///
/// # Errors
/// The store's error.
pub async fn published_keys(services: &Services) -> Result<Arc<PublishedKeys>, StoreError> {
    let cache = &services.oidc_cache;
    if let Some(keys) = cache.published.get(&()) {
        return Ok(keys);
    }
    let (verification, jwks) = crate::oidc::keys::published_keys(services).await?;
    let keys = Arc::new(PublishedKeys {
        verification,
        jwks: Bytes::from(serde_json::json!({ "keys": jwks }).to_string()),
    });
    cache.published.insert((), Arc::clone(&keys));
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_clear() {
        let map: TtlMap<String, u32> = TtlMap::default();
        map.insert("a".into(), 1);
        assert_eq!(map.get("a"), Some(1));
        assert_eq!(map.get("b"), None);
        if let Ok(mut inner) = map.0.lock() {
            let aged = Instant::now().checked_sub(OIDC_CACHE_TTL + Duration::from_millis(1));
            if let (Some(aged), Some(entry)) = (aged, inner.get_mut("a")) {
                entry.0 = aged;
            }
        }
        assert_eq!(
            map.get("a"),
            None,
            "an entry older than the TTL is not served"
        );
        map.insert("b".into(), 2);
        assert_eq!(
            map.0.lock().map(|m| m.len()).ok(),
            Some(1),
            "expired entries are dropped"
        );
        map.clear();
        assert_eq!(map.get("b"), None);
    }
}
