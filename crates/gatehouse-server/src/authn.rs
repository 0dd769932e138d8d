//! Password authentication, the piece every sign-in path shares (login pages, LDAP binds,
//! the resource-owner checks of later protocols): timing-safe for unknown users, one answer
//! for every failure, audit events for both outcomes, and transparent upgrade of imported
//! bcrypt (or weaker Argon2) hashes to the current Argon2id parameters.

use crate::services::Services;
use chrono::Utc;
use gatehouse_core::{AuditContext, Change, EventAction, NewEvent, StoreError, User};
use gatehouse_crypto::Verification;

/// Why a sign-in failed. Deliberately one variant for "no such user", "wrong password",
/// "no password set" and "deactivated", so callers cannot reveal which.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum LoginError {
    /// The credentials are not valid.
    #[error("invalid username or password")]
    InvalidCredentials,
    /// Storage failed; the caller answers 503 or 500.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Hashing failed (a corrupt stored hash, a crashed blocking task).
    #[error("password verification failed")]
    Hashing,
}

/// Checks `password` for `username`, then records the login (see [`verify_password`] and
/// [`record_login`]); for sign-ins that end with the password.
pub async fn authenticate_password(
    services: &Services,
    username: &str,
    password: &str,
    audit: &AuditContext,
) -> Result<User, LoginError> {
    let user = verify_password(services, username, password, audit).await?;
    record_login(services, &user, "password", audit).await?;
    Ok(user)
}

/// Checks `password` for `username` without signing anyone in (a flow's password stage, which
/// may still be followed by MFA). Failures are audited; when the stored hash uses an older
/// scheme or parameters it is replaced with a fresh Argon2id hash.
pub async fn verify_password(
    services: &Services,
    username: &str,
    password: &str,
    audit: &AuditContext,
) -> Result<User, LoginError> {
    let store = &services.store;
    let user = store.user_by_username(username).await?;
    let stored_hash = user.as_ref().and_then(|u| u.password_hash.clone());
    let (Some(user), Some(stored_hash)) = (user, stored_hash) else {
        // Spend the time a real verification takes, so response times do not reveal
        // whether the account exists.
        let _ = services.hasher.verify_dummy(password.to_owned()).await;
        record_failure(services, username, "unknown user or no password", audit).await;
        return Err(LoginError::InvalidCredentials);
    };
    let verdict = services
        .hasher
        .verify(password.to_owned(), stored_hash.clone())
        .await
        .map_err(|error| {
            tracing::error!(user = %user.username, %error, "stored password hash cannot be verified");
            LoginError::Hashing
        })?;
    let needs_rehash = match verdict {
        Verification::Valid { needs_rehash } => needs_rehash,
        Verification::Invalid => {
            record_failure(services, &user.username, "wrong password", audit).await;
            return Err(LoginError::InvalidCredentials);
        }
    };
    if !user.active {
        record_failure(services, &user.username, "user is deactivated", audit).await;
        return Err(LoginError::InvalidCredentials);
    }
    if needs_rehash {
        match services.hasher.hash(password.to_owned()).await {
            Ok(fresh) => store.rehash_password(user.id, &stored_hash, fresh).await?,
            Err(error) => {
                tracing::warn!(user = %user.username, %error, "could not upgrade the password hash")
            }
        }
    }
    Ok(user)
}

/// Records a completed sign-in: the user's last-login time and a `login` event naming the
/// methods used.
pub async fn record_login(
    services: &Services,
    user: &User,
    methods: &str,
    audit: &AuditContext,
) -> Result<(), StoreError> {
    let changes = vec![
        Change::RecordLogin {
            user: user.id,
            at: Utc::now(),
        },
        Change::RecordEvent(login_event(user, methods)),
    ];
    services
        .apply_changes(&changes, &acting_as(user, audit))
        .await?;
    count_login_success();
    Ok(())
}

/// Counts a completed sign-in for dashboards (`gatehouse_logins_total`); called once the
/// sign-in's changes are committed.
pub fn count_login_success() {
    metrics::counter!("gatehouse_logins_total", "result" => "success").increment(1);
}

/// The `login` event for `user`, signed in with `methods` (comma-separated).
pub fn login_event(user: &User, methods: &str) -> NewEvent {
    NewEvent::about_model(EventAction::Login, "user", user.id, &user.username)
        .with("method", methods)
}

/// `audit` with `user` as the actor (what a signed-in user does to their own account).
pub fn acting_as(user: &User, audit: &AuditContext) -> AuditContext {
    AuditContext {
        actor_id: Some(user.id),
        actor: user.username.clone(),
        ..audit.clone()
    }
}

/// Records a wrong or replayed second-factor code for a user who passed the first factor.
pub async fn record_code_failure(
    services: &Services,
    user: &User,
    reason: &str,
    audit: &AuditContext,
) {
    record_failure(
        services,
        &user.username,
        &format!("second factor: {reason}"),
        audit,
    )
    .await;
}

/// Records an attempt refused by the login throttle (no password was checked).
pub async fn record_throttled(services: &Services, username: &str, audit: &AuditContext) {
    record_failure(services, username, "throttled", audit).await;
}

/// Records a refused service-account credential at the token endpoint (client_credentials
/// with `username` and an app password).
pub async fn record_service_account_failure(
    services: &Services,
    username: &str,
    reason: &str,
    audit: &AuditContext,
) {
    record_failure(
        services,
        username,
        &format!("client_credentials: {reason}"),
        audit,
    )
    .await;
}

/// Records a refused upstream-source login (bad or replayed state, upstream error, invalid
/// ID token, refused by the source's user matching); `username` is the upstream's name or
/// identifier when known.
pub async fn record_source_failure(
    services: &Services,
    source: &str,
    username: &str,
    reason: &str,
    audit: &AuditContext,
) {
    record_failure(
        services,
        username,
        &format!("source {source}: {reason}"),
        audit,
    )
    .await;
}

/// Appends a `login_failed` event; failures to write it are logged, never shown to the client.
async fn record_failure(services: &Services, username: &str, reason: &str, audit: &AuditContext) {
    metrics::counter!("gatehouse_logins_total", "result" => "failure").increment(1);
    let mut event = NewEvent {
        action: EventAction::LoginFailed,
        context: serde_json::Map::new(),
    };
    // The attempted name is useful to operators; it is truncated so the log cannot be flooded.
    let attempted: String = username.chars().take(150).collect();
    event = event.with("username", attempted).with("reason", reason);
    if let Err(error) = services.store.append_event(event, audit).await {
        tracing::warn!(%error, "could not record a failed login");
    }
}
