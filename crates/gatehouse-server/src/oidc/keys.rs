//! Signing keys for OIDC: the newest unretired key of the algorithm a client asks for,
//! created on first need (RS256 exists from first start; ES256 and EdDSA keys are made when
//! an application first uses them), parsed once and cached, since parsing an RSA key costs
//! far more than a signature. Rotation (`gatehouse key rotate`) makes a new active key and
//! keeps the previous one published until every token it could have signed has expired.

use crate::prepare::SIGNING_KEY_CONTEXT;
use crate::redis::invalidation::Invalidation;
use crate::services::Services;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{Duration, Utc};
use gatehouse_core::{
    AuditContext, KeyAlgorithm, Lifetimes, NewSigningKey, SigningKey as StoredKey, StoreError,
};
use gatehouse_crypto::keys::SigningKey as Signer;
use gatehouse_crypto::{GeneratedKey, PrivateKeyDocument};
use gatehouse_oidc::jwt::VerificationKey;
use rustls::pki_types::PrivateKeyDer;
use rustls::pki_types::pem::PemObject;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A parsed key ready to sign, with its `kid`.
#[derive(Clone)]
pub struct ActiveKey {
    /// The JWK `kid` (the stored key's id).
    pub kid: String,
    /// The parsed private key.
    pub signer: Arc<Signer>,
}

impl std::fmt::Debug for ActiveKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActiveKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// Parsed signing keys, by stored key id.
#[derive(Clone, Default)]
pub struct KeyCache {
    parsed: Arc<Mutex<HashMap<String, Arc<Signer>>>>,
}

impl std::fmt::Debug for KeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyCache(**)")
    }
}

/// Why no key could be had.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The key could not be generated, unsealed or parsed (details logged).
    #[error("signing key unusable")]
    Unusable,
    /// A key offered for import was refused: which input (`pem` or `name`) and why. The
    /// reason names no part of the key.
    #[error("{field}: {reason}")]
    Rejected {
        /// The input at fault.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

/// The newest unretired key for `alg`, creating one if there is none. Served from
/// [`crate::oidc::cache`] for a few seconds after it was read.
pub async fn active_key(services: &Services, alg: KeyAlgorithm) -> Result<ActiveKey, KeyError> {
    if let Some(key) = services.oidc_cache.signing_key(alg) {
        return Ok(key);
    }
    let key = load_active_key(services, alg).await?;
    services.oidc_cache.remember_signing_key(alg, key.clone());
    Ok(key)
}

async fn load_active_key(services: &Services, alg: KeyAlgorithm) -> Result<ActiveKey, KeyError> {
    let stored = match newest(services, alg).await? {
        Some(key) => key,
        None => {
            ensure_key(services, alg).await?;
            newest(services, alg).await?.ok_or(KeyError::Unusable)?
        }
    };
    let kid = stored.id.to_string();
    if let Some(signer) = cache_get(services, &kid) {
        return Ok(ActiveKey { kid, signer });
    }
    let pkcs8 = services
        .secret_box
        .open(&stored.private_key_sealed, SIGNING_KEY_CONTEXT)
        .map_err(|e| {
            tracing::error!(kid = %kid, error = %e, "cannot unseal signing key");
            KeyError::Unusable
        })?;
    let signer = tokio::task::spawn_blocking(move || Signer::from_pkcs8(alg, &pkcs8))
        .await
        .map_err(|_| KeyError::Unusable)?
        .map_err(|e| {
            tracing::error!(error = %e, "cannot parse signing key");
            KeyError::Unusable
        })?;
    let signer = Arc::new(signer);
    if let Ok(mut cache) = services.oidc_keys.parsed.lock() {
        cache.insert(kid.clone(), signer.clone());
    }
    Ok(ActiveKey { kid, signer })
}

fn cache_get(services: &Services, kid: &str) -> Option<Arc<Signer>> {
    services
        .oidc_keys
        .parsed
        .lock()
        .ok()
        .and_then(|cache| cache.get(kid).cloned())
}

async fn newest(
    services: &Services,
    alg: KeyAlgorithm,
) -> Result<Option<gatehouse_core::SigningKey>, StoreError> {
    Ok(services
        .store
        .signing_keys()
        .await?
        .into_iter()
        .find(|k| k.algorithm == alg && k.retired_at.is_none()))
}

/// Makes sure an unretired key of `alg` exists (the CLI calls this when an application
/// chooses ES256 or EdDSA, so the first token request does not pay for generation).
pub async fn ensure_key(services: &Services, alg: KeyAlgorithm) -> Result<(), KeyError> {
    if newest(services, alg).await?.is_some() {
        return Ok(());
    }
    let key = new_key(
        services,
        alg,
        format!("gatehouse-{}", alg.as_str().to_ascii_lowercase()),
    )
    .await?;
    match services
        .store
        .create_signing_key(key, &AuditContext::system())
        .await
    {
        Ok(_) => {
            services.changed(&[Invalidation::Keys]).await;
            Ok(())
        }
        // A concurrent request created it first.
        Err(StoreError::Conflict(_)) => Ok(()),
        Err(other) => Err(other.into()),
    }
}

/// Generates a key pair of `alg` (off the async threads) and seals its private half.
async fn new_key(
    services: &Services,
    alg: KeyAlgorithm,
    name: String,
) -> Result<NewSigningKey, KeyError> {
    let generated =
        tokio::task::spawn_blocking(move || gatehouse_crypto::generate_signing_key(alg))
            .await
            .map_err(|_| KeyError::Unusable)?
            .map_err(|e| {
                tracing::error!(error = %e, "key generation failed");
                KeyError::Unusable
            })?;
    Ok(sealed(services, alg, name, &generated))
}

/// A key pair as stored: the private half sealed with the installation's secret key.
fn sealed(
    services: &Services,
    alg: KeyAlgorithm,
    name: String,
    key: &GeneratedKey,
) -> NewSigningKey {
    NewSigningKey {
        name,
        algorithm: alg,
        private_key_sealed: services
            .secret_box
            .seal(&key.pkcs8_der, SIGNING_KEY_CONTEXT),
        public_key_der: STANDARD.encode(&key.public_key_der),
    }
}

/// The longest any token signed now could live: the largest access/ID token lifetime of any
/// application (refresh tokens and codes are opaque, not signed), at least the default.
pub async fn longest_signed_lifetime(services: &Services) -> Result<Duration, StoreError> {
    let longest = services
        .store
        .list_applications()
        .await?
        .iter()
        .filter_map(|app| app.oauth2.as_ref())
        .map(|p| p.lifetimes.access_token)
        .fold(Lifetimes::default().access_token, i64::max);
    Ok(Duration::seconds(longest))
}

/// Makes a new active key of `alg` and retires the current one, which stays published
/// until [`longest_signed_lifetime`] from now has passed. Returns the new key and the
/// retired ones.
pub async fn rotate(
    services: &Services,
    alg: KeyAlgorithm,
    audit: &AuditContext,
) -> Result<(StoredKey, Vec<StoredKey>), KeyError> {
    let name = default_name("gatehouse", alg);
    let key = new_key(services, alg, name).await?;
    install(services, key, audit).await
}

/// Makes a private key brought from elsewhere (a PEM file: PKCS#8, PKCS#1 RSA or SEC1 EC)
/// the active key of its algorithm, exactly as [`rotate`] does with a new one: the previous
/// key is retired and stays published. This is how an installation keeps the key another
/// IdP signed with, so tokens it issued still verify, or uses a key from its own PKI.
pub async fn import(
    services: &Services,
    pem: &str,
    name: Option<&str>,
    audit: &AuditContext,
) -> Result<(StoredKey, Vec<StoredKey>), KeyError> {
    let name = name.map(str::trim).filter(|n| !n.is_empty());
    if let Some(name) = name {
        gatehouse_core::validate::key_name(name).map_err(|e| KeyError::Rejected {
            field: "name",
            reason: e.message,
        })?;
    }
    let document =
        PrivateKeyDer::from_pem_slice(pem.as_bytes()).map_err(|_| KeyError::Rejected {
            field: "pem",
            reason: "no private key found: expected a PEM block BEGIN PRIVATE KEY, BEGIN RSA \
                 PRIVATE KEY or BEGIN EC PRIVATE KEY (decrypt an encrypted key first)"
                .into(),
        })?;
    let (alg, key) = tokio::task::spawn_blocking(move || {
        let document = match &document {
            PrivateKeyDer::Pkcs8(key) => PrivateKeyDocument::Pkcs8(key.secret_pkcs8_der()),
            PrivateKeyDer::Pkcs1(key) => PrivateKeyDocument::RsaPkcs1(key.secret_pkcs1_der()),
            PrivateKeyDer::Sec1(key) => PrivateKeyDocument::EcSec1(key.secret_sec1_der()),
            _ => return Err(gatehouse_crypto::CryptoError::UnsupportedPrivateKey),
        };
        gatehouse_crypto::import_signing_key(document)
    })
    .await
    .map_err(|_| KeyError::Unusable)?
    .map_err(|e| KeyError::Rejected {
        field: "pem",
        reason: e.to_string(),
    })?;
    let name = name.map_or_else(|| default_name("imported", alg), str::to_owned);
    install(services, sealed(services, alg, name, &key), audit).await
}

/// `<prefix>-<alg>-<UTC time to the microsecond>`, unique enough to tell keys apart.
fn default_name(prefix: &str, alg: KeyAlgorithm) -> String {
    format!(
        "{prefix}-{}-{}",
        alg.as_str().to_ascii_lowercase(),
        Utc::now().format("%Y%m%dT%H%M%S%.6fZ")
    )
}

/// Stores `key` as the active key of its algorithm and retires the current one until the
/// longest token lifetime has passed; every replica drops its cached keys.
async fn install(
    services: &Services,
    key: NewSigningKey,
    audit: &AuditContext,
) -> Result<(StoredKey, Vec<StoredKey>), KeyError> {
    let verify_until = Utc::now() + longest_signed_lifetime(services).await?;
    let rotated = services
        .store
        .rotate_signing_key(key, verify_until, audit)
        .await?;
    services.changed(&[Invalidation::Keys]).await;
    Ok(rotated)
}

/// Every key (retired ones too, until their tokens expire) as verification keys and as
/// public JWKs, for the JWKS document and for checking our own access tokens.
pub async fn published_keys(
    services: &Services,
) -> Result<(Vec<VerificationKey>, Vec<serde_json::Value>), StoreError> {
    let mut verification = Vec::new();
    let mut jwks = Vec::new();
    let now = Utc::now();
    for key in services.store.signing_keys().await? {
        if !key.verifiable_at(now) {
            continue;
        }
        let Ok(der) = STANDARD.decode(&key.public_key_der) else {
            tracing::error!(kid = %key.id, "stored public key is not base64");
            continue;
        };
        let kid = key.id.to_string();
        match gatehouse_crypto::public_jwk(key.algorithm, &der, &kid) {
            Ok(jwk) => jwks.push(jwk),
            Err(e) => {
                tracing::error!(kid = %kid, error = %e, "stored public key is unusable");
                continue;
            }
        }
        verification.push(VerificationKey {
            kid,
            alg: key.algorithm,
            spki_der: der,
        });
    }
    Ok((verification, jwks))
}
