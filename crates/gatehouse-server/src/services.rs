//! The services a running Gatehouse shares between its HTTP handlers, worker and CLI:
//! configuration, storage, the keyed crypto helpers derived from the secret key, and the
//! optional Redis link with what depends on it (shared rate limits, cache invalidation,
//! session lookup cache, queue wake-ups).

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
    /// Failed sign-in counters (shared through Redis when configured).
    pub login_throttle: Arc<crate::throttle::Throttle>,
    /// Wakes the email delivery task when this process queues a message.
    pub outbox_wakeup: Arc<tokio::sync::Notify>,
    /// Wakes the back-channel logout delivery task when this process ends sessions.
    pub backchannel_wakeup: Arc<tokio::sync::Notify>,
    /// Recovery-link requests per account and per client address.
    pub recovery_limiter: Arc<crate::recovery_limit::RecoveryLimits>,
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
    /// Redis, when `redis.url` is set: shared ephemeral state of the replicas.
    pub redis: Option<crate::redis::RedisLink>,
    /// The bounded, SSRF-guarded HTTP client for upstream login sources.
    pub upstream: Arc<crate::sources::fetch::Upstream>,
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
    /// The Redis settings cannot be used.
    #[error("redis: {0}")]
    Redis(String),
    /// The HTTP client for upstream sources could not be built.
    #[error("sources: {0}")]
    Sources(String),
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
        let redis =
            crate::redis::RedisLink::connect(&config.redis).map_err(ServicesError::Redis)?;
        let digester = Arc::new(TokenDigester::new(&secret_key));
        let counters = redis.clone().map(|link| {
            Arc::new(crate::redis::counters::RedisCounters::new(
                link,
                Arc::clone(&digester),
                config.login_throttle.clone(),
            ))
        });
        let upstream = crate::sources::fetch::Upstream::new(&config.sources)
            .map_err(|e| ServicesError::Sources(e.to_string()))?;
        Ok(Self {
            upstream: Arc::new(upstream),
            flows: Arc::new(crate::flow_catalog::FlowCatalog::new(Arc::clone(&store))),
            store,
            sql,
            hasher,
            digester,
            csrf: Arc::new(CsrfSigner::new(&secret_key)),
            secret_box: Arc::new(SecretBox::new(&secret_key)),
            secret_key_check: secret_key.check_value(),
            login_throttle: Arc::new(crate::throttle::Throttle::new(
                config.login_throttle.clone(),
                counters
                    .clone()
                    .map(|c| c as Arc<dyn crate::throttle::ThrottleCounters>),
            )),
            outbox_wakeup: Arc::new(tokio::sync::Notify::new()),
            backchannel_wakeup: Arc::new(tokio::sync::Notify::new()),
            recovery_limiter: Arc::new(crate::recovery_limit::RecoveryLimits::new(
                counters.map(|c| c as Arc<dyn crate::recovery_limit::WindowCounters>),
            )),
            config: Arc::new(config),
            prepared: Arc::new(AtomicBool::new(false)),
            oidc_keys: crate::oidc::keys::KeyCache::default(),
            oidc_cache: Arc::default(),
            token_writer: Arc::default(),
            redis,
        })
    }

    /// Applies `changes` in one transaction, then drops what they made stale: this
    /// process's caches at once, every replica's through Redis, and ended sessions from the
    /// Redis session cache. Every change set of the server and the CLI goes through here.
    ///
    /// # Errors
    /// The store's error (then nothing was written and nothing is dropped).
    pub async fn apply_changes(
        &self,
        changes: &gatehouse_core::ChangeSet,
        audit: &gatehouse_core::AuditContext,
    ) -> Result<(), gatehouse_core::StoreError> {
        self.store.apply_changes(changes, audit).await?;
        self.changed(&crate::redis::invalidation::Invalidation::for_changes(
            changes,
        ))
        .await;
        if let Some(link) = &self.redis {
            crate::redis::sessions::forget_for_changes(link, changes).await;
        }
        if changes.iter().any(gatehouse_core::Change::ends_sessions) {
            self.logouts_queued().await;
        }
        Ok(())
    }

    /// Starts back-channel logout delivery now rather than at its next poll, here and (through
    /// Redis) in a separate worker; call it after a commit that ended sessions, which is when
    /// the store queues logout tokens.
    async fn logouts_queued(&self) {
        self.backchannel_wakeup.notify_one();
        if let Some(link) = &self.redis {
            crate::redis::wakeup::nudge(link, crate::redis::wakeup::Queue::Backchannel).await;
        }
    }

    /// Drops every cached session of `user` from the Redis session cache, after a change the
    /// store made without a change set (deleting or deactivating the user).
    pub async fn user_sessions_ended(&self, user: gatehouse_core::UserId) {
        if let Some(link) = &self.redis {
            crate::redis::sessions::forget(link, crate::redis::sessions::Forget::User(user)).await;
        }
        self.logouts_queued().await;
    }

    /// Drops `kinds` from this process's caches and tells the other replicas to do the same;
    /// call it after a change to applications, providers, keys or flows has committed.
    pub async fn changed(&self, kinds: &[crate::redis::invalidation::Invalidation]) {
        if kinds.is_empty() {
            return;
        }
        crate::redis::invalidation::clear_local(self, kinds);
        if let Some(link) = &self.redis {
            crate::redis::invalidation::publish(link, kinds).await;
        }
    }

    /// Waits up to the connect timeout for Redis to answer, for short-lived processes (the
    /// CLI) that publish an invalidation right after start; `false` when it did not.
    pub async fn await_redis(&self) -> bool {
        let Some(link) = &self.redis else {
            return false;
        };
        let deadline =
            std::time::Duration::from_secs(self.config.redis.connect_timeout_secs.max(1));
        let started = std::time::Instant::now();
        while started.elapsed() < deadline {
            if link.check(std::time::Duration::from_millis(500)).await {
                return true;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        tracing::warn!(
            "Redis did not answer; other replicas pick up this change within their cache TTL"
        );
        false
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
