//! First-start and every-start preparation: migrations, the secret-key check, the default
//! signing key, the default flows, the bootstrap administrator and the one-time setup link.

use crate::services::Services;
use chrono::{Duration, Utc};
use gatehouse_core::{
    AuditContext, FirstAdmin, KeyAlgorithm, NewSigningKey, NewToken, NewUser, StoreError,
    TokenIntent,
};
use gatehouse_crypto::generate_token;
use std::sync::atomic::Ordering;

/// Setting that records which secret key the database was initialised with.
const SECRET_KEY_CHECK: &str = "secret_key_check";
/// Name of the signing key created on first start.
pub const DEFAULT_SIGNING_KEY: &str = "gatehouse-default";
/// Context string binding sealed signing keys to their purpose.
pub const SIGNING_KEY_CONTEXT: &str = "signing_key";
/// How long a setup link works.
const SETUP_LINK_LIFETIME_HOURS: i64 = 24;

/// Why preparation stopped.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    /// The database is unreachable; try again later.
    #[error("database unavailable")]
    Unavailable,
    /// A condition that retrying cannot fix.
    #[error("{0}")]
    Fatal(String),
}

impl From<StoreError> for PrepareError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Unavailable => Self::Unavailable,
            other => Self::Fatal(other.to_string()),
        }
    }
}

/// What preparation found.
#[derive(Debug, Default)]
pub struct Prepared {
    /// The setup link to show, when no administrator exists yet.
    pub setup_link: Option<String>,
}

/// Runs every start-up step; safe to run concurrently from several replicas.
pub async fn prepare(
    services: &Services,
    issue_setup_link: bool,
) -> Result<Prepared, PrepareError> {
    services.sql.migrate().await?;
    check_secret_key(services).await?;
    ensure_default_signing_key(services).await?;
    seed_default_flows(services).await?;
    bootstrap_admin(services).await?;
    let setup_link = if issue_setup_link && !services.store.superuser_exists().await? {
        Some(issue_setup_link_now(services).await?)
    } else {
        None
    };
    services.prepared.store(true, Ordering::Release);
    Ok(Prepared { setup_link })
}

async fn check_secret_key(services: &Services) -> Result<(), PrepareError> {
    let stored = services
        .store
        .setting_insert_if_absent(SECRET_KEY_CHECK, &services.secret_key_check)
        .await?;
    if stored != services.secret_key_check {
        return Err(PrepareError::Fatal(
            "the secret key differs from the one this database was initialised with; every replica \
             must use the same secret_key (restore the original key, see docs/configuration.md)"
                .into(),
        ));
    }
    Ok(())
}

async fn ensure_default_signing_key(services: &Services) -> Result<(), PrepareError> {
    if !services.store.signing_keys().await?.is_empty() {
        return Ok(());
    }
    let generated =
        tokio::task::spawn_blocking(|| gatehouse_crypto::generate_signing_key(KeyAlgorithm::Rs256))
            .await
            .map_err(|e| PrepareError::Fatal(format!("key generation task failed: {e}")))?
            .map_err(|e| PrepareError::Fatal(format!("key generation failed: {e}")))?;
    let key = NewSigningKey {
        name: DEFAULT_SIGNING_KEY.into(),
        algorithm: KeyAlgorithm::Rs256,
        private_key_sealed: services
            .secret_box
            .seal(&generated.pkcs8_der, SIGNING_KEY_CONTEXT),
        public_key_der: base64_standard(&generated.public_key_der),
    };
    match services
        .store
        .create_signing_key(key, &AuditContext::system())
        .await
    {
        Ok(created) => {
            tracing::info!(kid = %created.id, alg = "RS256", "generated the default signing key");
            Ok(())
        }
        // Another replica created it first.
        Err(StoreError::Conflict(_)) => Ok(()),
        Err(other) => Err(other.into()),
    }
}

/// Stores each default flow that is missing (first start, or a default added by an upgrade);
/// flows already stored, edited or not, are left alone. Admin commands call it too, so
/// `gatehouse flow show` and `apply` work before the first `serve`.
///
/// # Errors
/// The store's error.
pub async fn seed_default_flows(services: &Services) -> Result<(), PrepareError> {
    let mut definitions = Vec::new();
    for flow in gatehouse_flows::default_flows() {
        let definition = serde_json::to_value(&flow)
            .map_err(|e| PrepareError::Fatal(format!("default flow {}: {e}", flow.slug)))?;
        definitions.push((flow.slug, definition));
    }
    let added = services
        .store
        .seed_flow_definitions(definitions, &AuditContext::system())
        .await?;
    if !added.is_empty() {
        tracing::info!(flows = %added.join(", "), "stored the default flows");
    }
    Ok(())
}

async fn bootstrap_admin(services: &Services) -> Result<(), PrepareError> {
    let config = &services.config;
    let password_hash = match (&config.bootstrap_password, &config.bootstrap_password_hash) {
        (Some(password), _) => Some(
            services
                .hasher
                .hash(password.expose().to_owned())
                .await
                .map_err(|e| PrepareError::Fatal(format!("bootstrap_password: {e}")))?,
        ),
        (None, Some(hash)) => Some(hash.expose().to_owned()),
        (None, None) => None,
    };
    if password_hash.is_none() && config.bootstrap_token.is_none() {
        return Ok(());
    }
    if services.store.superuser_exists().await? {
        return Ok(());
    }
    let api_token = config.bootstrap_token.as_ref().map(|token| NewToken {
        intent: TokenIntent::Api,
        user_id: None,
        description: "bootstrap token (GATEHOUSE_BOOTSTRAP_TOKEN)".into(),
        digest: services.digester.digest(token.expose()),
        expires_at: None,
        state: None,
    });
    let admin = FirstAdmin {
        user: NewUser {
            email: config.bootstrap_email.clone(),
            email_verified: config.bootstrap_email.is_some(),
            password_hash,
            name: "Administrator".into(),
            ..NewUser::named(config.bootstrap_username.clone())
        },
        setup_token_digest: None,
        api_token,
    };
    match services
        .store
        .create_first_admin(admin, &AuditContext::system())
        .await
    {
        Ok(user) => {
            tracing::info!(username = %user.username, "created the bootstrap administrator");
            Ok(())
        }
        Err(StoreError::Conflict(_)) => Ok(()),
        Err(StoreError::Invalid(e)) => Err(PrepareError::Fatal(format!("bootstrap {e}"))),
        Err(other) => Err(other.into()),
    }
}

/// Replaces any earlier setup link with a fresh one and returns its URL: only the most recently
/// printed link works.
pub async fn issue_setup_link_now(services: &Services) -> Result<String, PrepareError> {
    let token = generate_token("");
    services
        .store
        .delete_tokens_with_intent(TokenIntent::Setup)
        .await?;
    services
        .store
        .create_token(
            NewToken {
                intent: TokenIntent::Setup,
                user_id: None,
                description: "first-run setup link".into(),
                digest: services.digester.digest(&token),
                expires_at: Some(Utc::now() + Duration::hours(SETUP_LINK_LIFETIME_HOURS)),
                state: None,
            },
            &AuditContext::system(),
        )
        .await?;
    Ok(format!(
        "{}/if/flow/initial-setup/?token={token}",
        services.config.base_url()
    ))
}

fn base64_standard(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
