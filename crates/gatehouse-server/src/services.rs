//! The services a running Gatehouse shares between its HTTP handlers, worker and CLI:
//! configuration, storage and the keyed crypto helpers derived from the secret key.

use crate::config::Config;
use gatehouse_core::Store;
use gatehouse_crypto::{
    CsrfSigner, PasswordHasher, PasswordParams, SecretBox, SecretKey, TokenDigester,
};
use gatehouse_store::SqlStore;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Everything a request or task needs; cheap to clone.
#[derive(Clone)]
pub struct Services {
    /// The effective configuration.
    pub config: Arc<Config>,
    /// Storage through the ports.
    pub store: Arc<dyn Store>,
    /// The concrete store, for migrations and pool figures.
    pub sql: SqlStore,
    /// Argon2id hashing off the async runtime.
    pub hasher: PasswordHasher,
    /// Keyed digests of bearer tokens.
    pub digester: Arc<TokenDigester>,
    /// CSRF tokens for forms.
    pub csrf: Arc<CsrfSigner>,
    /// Encryption of secrets at rest.
    pub secret_box: Arc<SecretBox>,
    /// Non-secret fingerprint of the secret key, compared with the database's.
    pub secret_key_check: String,
    /// Failed sign-in counters.
    pub login_throttle: Arc<crate::throttle::LoginThrottle>,
    /// Wakes the email delivery task when this process queues a message.
    pub outbox_wakeup: Arc<tokio::sync::Notify>,
    /// Recovery-link requests per account and per client address.
    pub recovery_limiter: Arc<crate::recovery_limit::RecoveryLimiter>,
    /// Set once migrations and first-start preparation have finished.
    pub prepared: Arc<AtomicBool>,
    /// The stored flows, parsed and briefly cached.
    pub flows: Arc<crate::flow_catalog::FlowCatalog>,
    /// Parsed OIDC signing keys.
    pub oidc_keys: crate::oidc::keys::KeyCache,
    /// Applications, documents and keys the OIDC endpoints read on every request.
    pub oidc_cache: Arc<crate::oidc::cache::OidcCache>,
    /// Writes issued client_credentials tokens in shared transactions.
    pub token_writer: Arc<crate::oidc::token_writer::TokenWriter>,
}

/// Why the services could not be assembled.
#[derive(Debug, thiserror::Error)]
pub enum ServicesError {
    /// The secret key could not be loaded or generated.
    #[error("secret key: {0}")]
    SecretKey(String),
    /// The data directory could not be created.
    #[error("data_dir {0}")]
    DataDir(String),
    /// The Argon2id parameters are out of range.
    #[error("password_hashing: {0}")]
    PasswordHashing(String),
    /// The database could not be opened.
    #[error("database: {0}")]
    Database(gatehouse_core::StoreError),
}

impl Services {
    /// Loads or generates the secret key and opens the database (lazily for PostgreSQL, so a
    /// database that is down at start-up does not stop the process).
    pub async fn open(config: Config) -> Result<Self, ServicesError> {
        create_private_dir(&config.data_dir)
            .map_err(|e| ServicesError::DataDir(format!("{}: {e}", config.data_dir.display())))?;
        let secret_key = match &config.secret_key {
            Some(configured) => SecretKey::from_configured(configured.expose())
                .map_err(|e| ServicesError::SecretKey(e.to_string()))?,
            None => {
                let (key, generated) = SecretKey::load_or_generate(&config.data_dir)
                    .map_err(|e| ServicesError::SecretKey(e.to_string()))?;
                if generated {
                    tracing::warn!(
                        path = %config.data_dir.join("secret_key").display(),
                        "generated a new secret key; back it up: losing it loses every secret encrypted with it"
                    );
                }
                key
            }
        };
        let sql = SqlStore::connect(&config.database())
            .await
            .map_err(ServicesError::Database)?;
        let hashing = &config.password_hashing;
        let permits = if hashing.max_concurrent == 0 {
            std::thread::available_parallelism().map_or(2, |n| n.get())
        } else {
            hashing.max_concurrent
        };
        let hasher = PasswordHasher::with_max_concurrent(
            PasswordParams {
                memory_kib: hashing.memory_kib,
                iterations: hashing.iterations,
                parallelism: hashing.parallelism,
            },
            permits,
        )
        .map_err(|e| ServicesError::PasswordHashing(e.to_string()))?;
        let store: Arc<dyn gatehouse_core::Store> = Arc::new(sql.clone());
        Ok(Self {
            flows: Arc::new(crate::flow_catalog::FlowCatalog::new(Arc::clone(&store))),
            store,
            sql,
            hasher,
            digester: Arc::new(TokenDigester::new(&secret_key)),
            csrf: Arc::new(CsrfSigner::new(&secret_key)),
            secret_box: Arc::new(SecretBox::new(&secret_key)),
            secret_key_check: secret_key.check_value(),
            login_throttle: Arc::new(crate::throttle::LoginThrottle::new(
                config.login_throttle.clone(),
            )),
            outbox_wakeup: Arc::new(tokio::sync::Notify::new()),
            recovery_limiter: Arc::new(crate::recovery_limit::RecoveryLimiter::default()),
            config: Arc::new(config),
            prepared: Arc::new(AtomicBool::new(false)),
            oidc_keys: crate::oidc::keys::KeyCache::default(),
            oidc_cache: Arc::default(),
            token_writer: Arc::default(),
        })
    }

    /// Whether start-up preparation has finished.
    pub fn is_prepared(&self) -> bool {
        self.prepared.load(Ordering::Acquire)
    }
}

/// Creates the data directory readable by its owner only (it holds the database and the secret
/// key); an existing directory is left as the operator made it.
fn create_private_dir(path: &std::path::Path) -> std::io::Result<()> {
    if path.exists() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(path)
}
