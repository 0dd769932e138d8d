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
        .map_err(refusal)
}

/// Makes a private key given as PEM the active key of its algorithm (recognised from the
/// key) and retires the current one; returns the new key and the retired ones.
pub async fn import(
    services: &Services,
    caller: &Caller,
    pem: &str,
    name: Option<&str>,
) -> AdminResult<(SigningKey, Vec<SigningKey>)> {
    caller.require_write(AdminArea::Keys)?;
    keys::import(services, pem, name, &caller.audit)
        .await
        .map_err(refusal)
}

/// A refused key names its field; anything else is logged and answered as internal.
fn refusal(error: keys::KeyError) -> AdminError {
    match error {
        keys::KeyError::Store(store) => store.into(),
        keys::KeyError::Rejected { field, reason } => AdminError::field(field, reason),
        keys::KeyError::Unusable => {
            tracing::error!("a signing key could not be made");
            AdminError::Internal
        }
    }
}
