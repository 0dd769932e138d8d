//! Signing keys: list them (never the private part) and rotate one algorithm's active key,
//! the old one staying published until the tokens it signed have expired.

use super::{AdminError, AdminResult, Caller, page_in_memory};
use crate::oidc::keys;
use crate::services::Services;
use gatehouse_core::{AdminArea, KeyAlgorithm, ListQuery, Page, SigningKey};

/// A page of keys, newest first, searchable by name and algorithm.
pub async fn list(
    services: &Services,
    caller: &Caller,
    query: &ListQuery,
) -> AdminResult<Page<SigningKey>> {
    caller.require_read(AdminArea::Keys)?;
    let all = services.store.signing_keys().await?;
    Ok(page_in_memory(all, query, |k| {
        format!("{} {}", k.name, k.algorithm.as_str())
    }))
}

/// Makes a new active key for `alg` and retires the current one; returns the new key and
/// the retired ones.
pub async fn rotate(
    services: &Services,
    caller: &Caller,
    alg: &str,
) -> AdminResult<(SigningKey, Vec<SigningKey>)> {
    caller.require_write(AdminArea::Keys)?;
    let alg = KeyAlgorithm::parse(alg)
        .ok_or_else(|| AdminError::field("alg", "must be RS256, ES256 or EdDSA"))?;
    keys::rotate(services, alg, &caller.audit)
        .await
        .map_err(|error| match error {
            keys::KeyError::Store(store) => store.into(),
            other => {
                tracing::error!(error = %other, "key rotation failed");
                AdminError::Internal
            }
        })
}
