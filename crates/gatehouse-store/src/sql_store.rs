//! [`SqlStore`]: the storage ports of `gatehouse-core` over one sea-orm connection. Each trait
//! method is a thin wrapper: open a write transaction if the operation writes, call the
//! operation in `crate::ops`, commit.

use crate::connect::PoolHandle;
use crate::error::db_err;
use crate::ops::{
    applications, changes, devices, events, flows, groups, keys, memberships, oauth2_tokens,
    outbox, sessions, settings, setup, tokens, users,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use gatehouse_core::store::StoreResult;
use gatehouse_core::{
    Application, ApplicationId, ApplicationStore, GrantFamilyId, IssuedGrant, NewApplication,
    NewOAuth2Token, OAuth2Token, OAuth2TokenId, OAuth2TokenStore,
};
use gatehouse_core::{
    AuditContext, ChangeSet, Device, DeviceId, DeviceStore, EmailId, EmailRequest, Event,
    EventQuery, EventStore, FirstAdmin, FlowDefinition, FlowStore, Group, GroupId, GroupPatch,
    GroupStore, KeyId, KeyStore, ListQuery, NewDevice, NewEvent, NewGroup, NewSigningKey, NewToken,
    NewUser, OutboxStore, Page, QueuedEmail, RetryDecision, RetryPolicy, Session, SessionId,
    SessionStore, SettingStore, SigningKey, SpentLink, Store, Token, TokenId, TokenIntent,
    TokenStore, User, UserId, UserPatch, UserStore,
};
use sea_orm::{
    DatabaseConnection, DatabaseTransaction, SqliteTransactionMode, TransactionOptions,
    TransactionTrait,
};

/// The SQL implementation of every storage port, for SQLite and PostgreSQL alike. Cloning is
/// cheap: clones share one connection pool.
///
/// Usernames are unique exactly as typed, and creation also refuses a name that differs from
/// an existing one only in letter case (`Alice` beside `alice`); lookups stay exact.
#[derive(Clone, Debug)]
pub struct SqlStore {
    pub(crate) db: DatabaseConnection,
    pub(crate) pool: PoolHandle,
}

impl SqlStore {
    pub(crate) fn new(db: DatabaseConnection, pool: PoolHandle) -> Self {
        Self { db, pool }
    }

    /// Starts a transaction that will write. On SQLite it takes the write lock up front
    /// (`BEGIN IMMEDIATE`), so concurrent writers wait in the busy handler instead of failing
    /// when a read lock cannot be upgraded; PostgreSQL ignores the option.
    pub(crate) async fn begin_write(&self) -> StoreResult<DatabaseTransaction> {
        self.db
            .begin_with_options(TransactionOptions {
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                ..TransactionOptions::default()
            })
            .await
            .map_err(db_err)
    }
}

/// Commits, mapping failures.
async fn commit(txn: DatabaseTransaction) -> StoreResult<()> {
    txn.commit().await.map_err(db_err)
}

#[async_trait]
impl UserStore for SqlStore {
    async fn create_user(&self, user: NewUser, audit: &AuditContext) -> StoreResult<User> {
        let txn = self.begin_write().await?;
        let created = users::create(&txn, user, audit).await?;
        commit(txn).await?;
        Ok(created)
    }

    async fn user_by_id(&self, id: UserId) -> StoreResult<Option<User>> {
        users::by_id(&self.db, id).await
    }

    async fn user_by_username(&self, username: &str) -> StoreResult<Option<User>> {
        users::by_username(&self.db, username).await
    }

    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        users::by_email(&self.db, email).await
    }

    async fn list_users(&self, query: &ListQuery) -> StoreResult<Page<User>> {
        users::list(&self.db, query, None).await
    }

    async fn update_user(
        &self,
        id: UserId,
        patch: UserPatch,
        audit: &AuditContext,
    ) -> StoreResult<User> {
        let txn = self.begin_write().await?;
        let updated = users::update(&txn, id, patch, audit).await?;
        commit(txn).await?;
        Ok(updated)
    }

    async fn set_password_hash(
        &self,
        id: UserId,
        hash: Option<String>,
        audit: &AuditContext,
    ) -> StoreResult<()> {
        let txn = self.begin_write().await?;
        users::set_password_hash(&txn, id, hash, audit).await?;
        commit(txn).await
    }

    async fn rehash_password(
        &self,
        id: UserId,
        expected_old: &str,
        new_hash: String,
    ) -> StoreResult<()> {
        users::rehash_password(&self.db, id, expected_old, new_hash).await
    }

    async fn record_login(&self, id: UserId, at: DateTime<Utc>) -> StoreResult<()> {
        users::record_login(&self.db, id, at).await
    }

    async fn delete_user(&self, id: UserId, audit: &AuditContext) -> StoreResult<()> {
        let txn = self.begin_write().await?;
        users::delete(&txn, id, audit).await?;
        commit(txn).await
    }
}

#[async_trait]
impl GroupStore for SqlStore {
    async fn create_group(&self, group: NewGroup, audit: &AuditContext) -> StoreResult<Group> {
        let txn = self.begin_write().await?;
        let created = groups::create(&txn, group, audit).await?;
        commit(txn).await?;
        Ok(created)
    }

    async fn group_by_id(&self, id: GroupId) -> StoreResult<Option<Group>> {
        groups::by_id(&self.db, id).await
    }

    async fn group_by_name(&self, name: &str) -> StoreResult<Option<Group>> {
        groups::by_name(&self.db, name).await
    }

    async fn list_groups(&self, query: &ListQuery) -> StoreResult<Page<Group>> {
        groups::list(&self.db, query).await
    }

    async fn update_group(
        &self,
        id: GroupId,
        patch: GroupPatch,
        audit: &AuditContext,
    ) -> StoreResult<Group> {
        let txn = self.begin_write().await?;
        let updated = groups::update(&txn, id, patch, audit).await?;
        commit(txn).await?;
        Ok(updated)
    }

    async fn delete_group(&self, id: GroupId, audit: &AuditContext) -> StoreResult<()> {
        let txn = self.begin_write().await?;
        groups::delete(&txn, id, audit).await?;
        commit(txn).await
    }

    async fn add_member(
        &self,
        group: GroupId,
        user: UserId,
        audit: &AuditContext,
    ) -> StoreResult<()> {
        let txn = self.begin_write().await?;
        let group = groups::require_by_id(&txn, group).await?;
        let user = users::require_by_id(&txn, user).await?;
        memberships::add(&txn, &group, &user, audit).await?;
        commit(txn).await
    }

    async fn remove_member(
        &self,
        group: GroupId,
        user: UserId,
        audit: &AuditContext,
    ) -> StoreResult<()> {
        let txn = self.begin_write().await?;
        let (Some(group), Some(user)) = (
            groups::by_id(&txn, group).await?,
            users::by_id(&txn, user).await?,
        ) else {
            // Either side missing means there is no such membership: nothing to do.
            return Ok(());
        };
        memberships::remove(&txn, &group, &user, audit).await?;
        commit(txn).await
    }

    async fn group_members(&self, group: GroupId, query: &ListQuery) -> StoreResult<Page<User>> {
        users::list(&self.db, query, Some(group)).await
    }

    async fn direct_groups(&self, user: UserId) -> StoreResult<Vec<Group>> {
        groups::direct(&self.db, user).await
    }

    async fn direct_group_names(
        &self,
        users: &[UserId],
    ) -> StoreResult<std::collections::HashMap<UserId, Vec<String>>> {
        groups::direct_names_of(&self.db, users).await
    }

    async fn effective_groups(&self, user: UserId) -> StoreResult<Vec<Group>> {
        groups::effective(&self.db, user).await
    }

    async fn superuser_exists(&self) -> StoreResult<bool> {
        groups::superuser_exists(&self.db).await
    }
}

#[async_trait]
impl EventStore for SqlStore {
    async fn append_event(&self, event: NewEvent, audit: &AuditContext) -> StoreResult<()> {
        events::record(&self.db, event, audit).await
    }

    async fn list_events(&self, query: &EventQuery) -> StoreResult<Page<Event>> {
        events::list(&self.db, query).await
    }

    async fn count_events_per_period(
        &self,
        actions: &[gatehouse_core::EventAction],
        boundaries: &[chrono::DateTime<chrono::Utc>],
    ) -> StoreResult<Vec<Vec<u64>>> {
        events::count_per_period(&self.db, actions, boundaries).await
    }
}

#[async_trait]
impl TokenStore for SqlStore {
    async fn create_token(&self, token: NewToken, audit: &AuditContext) -> StoreResult<Token> {
        let txn = self.begin_write().await?;
        let created = tokens::create(&txn, token, audit).await?;
        commit(txn).await?;
        Ok(created)
    }

    async fn token_by_digest(
        &self,
        intent: TokenIntent,
        digest: &str,
    ) -> StoreResult<Option<Token>> {
        tokens::by_digest(&self.db, intent, digest).await
    }

    async fn spend_token(
        &self,
        intent: TokenIntent,
        digest: &str,
        now: DateTime<Utc>,
        audit: &AuditContext,
    ) -> StoreResult<Option<Token>> {
        let txn = self.begin_write().await?;
        let spent = tokens::spend(&txn, intent, digest, now, audit).await?;
        commit(txn).await?;
        Ok(spent)
    }

    async fn verify_email_with_token(
        &self,
        digest: &str,
        now: DateTime<Utc>,
        audit: &AuditContext,
    ) -> StoreResult<Option<SpentLink>> {
        let txn = self.begin_write().await?;
        let spent = tokens::verify_email(&txn, digest, now, audit).await?;
        commit(txn).await?;
        Ok(spent)
    }

    async fn list_tokens(&self, user: Option<UserId>) -> StoreResult<Vec<Token>> {
        tokens::list(&self.db, user).await
    }

    async fn delete_token(&self, id: TokenId, audit: &AuditContext) -> StoreResult<()> {
        let txn = self.begin_write().await?;
        tokens::delete(&txn, id, audit).await?;
        commit(txn).await
    }

    async fn delete_tokens_with_intent(&self, intent: TokenIntent) -> StoreResult<u64> {
        tokens::delete_with_intent(&self.db, intent).await
    }

    async fn delete_expired_tokens(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        tokens::delete_expired(&self.db, now).await
    }
}

#[async_trait]
impl SessionStore for SqlStore {
    async fn create_session(&self, session: Session) -> StoreResult<()> {
        sessions::create(&self.db, session).await
    }

    async fn session_by_digest(
        &self,
        digest: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Session>> {
        sessions::by_digest(&self.db, digest, now).await
    }

    async fn sessions_of(&self, user: UserId) -> StoreResult<Vec<Session>> {
        sessions::of_user(&self.db, user).await
    }

    async fn delete_session(&self, id: SessionId) -> StoreResult<()> {
        let txn = self.begin_write().await?;
        sessions::delete(&txn, id).await?;
        commit(txn).await
    }

    async fn delete_expired_sessions(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        sessions::delete_expired(&self.db, now).await
    }
}

#[async_trait]
impl DeviceStore for SqlStore {
    async fn create_device(&self, device: NewDevice, audit: &AuditContext) -> StoreResult<Device> {
        let txn = self.begin_write().await?;
        let created = devices::create(&txn, device, audit).await?;
        commit(txn).await?;
        Ok(created)
    }

    async fn devices_of(&self, user: UserId) -> StoreResult<Vec<Device>> {
        devices::of_user(&self.db, user).await
    }

    async fn device(&self, id: DeviceId) -> StoreResult<Option<Device>> {
        devices::by_id(&self.db, id).await
    }

    async fn record_totp_step(
        &self,
        id: DeviceId,
        step: i64,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        devices::record_totp_step(&self.db, id, step, at).await
    }

    async fn record_webauthn_use(
        &self,
        id: DeviceId,
        sign_count: i64,
        challenge_issued_at: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        devices::record_webauthn_use(&self.db, id, sign_count, challenge_issued_at, at).await
    }

    async fn rename_device(
        &self,
        id: DeviceId,
        name: &str,
        audit: &AuditContext,
    ) -> StoreResult<()> {
        let txn = self.begin_write().await?;
        devices::rename(&txn, id, name, audit).await?;
        commit(txn).await
    }

    async fn delete_device(&self, id: DeviceId, audit: &AuditContext) -> StoreResult<()> {
        let txn = self.begin_write().await?;
        devices::delete(&txn, id, audit).await?;
        commit(txn).await
    }
}

#[async_trait]
impl OutboxStore for SqlStore {
    async fn enqueue_email(
        &self,
        request: EmailRequest,
        audit: &AuditContext,
    ) -> StoreResult<EmailId> {
        let txn = self.begin_write().await?;
        let id = outbox::enqueue(&txn, request, audit).await?;
        commit(txn).await?;
        Ok(id)
    }

    async fn claim_due_emails(
        &self,
        worker: uuid::Uuid,
        now: DateTime<Utc>,
        lease: chrono::Duration,
        limit: u64,
    ) -> StoreResult<Vec<QueuedEmail>> {
        outbox::claim_due(&self.db, worker, now, lease, limit).await
    }

    async fn mark_email_sent(
        &self,
        id: EmailId,
        worker: uuid::Uuid,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        outbox::mark_sent(&self.db, id, worker, now).await
    }

    async fn mark_email_failed(
        &self,
        id: EmailId,
        worker: uuid::Uuid,
        now: DateTime<Utc>,
        error: &str,
        policy: &RetryPolicy,
        audit: &AuditContext,
    ) -> StoreResult<Option<RetryDecision>> {
        let txn = self.begin_write().await?;
        let decision = outbox::mark_failed(&txn, id, worker, now, error, policy, audit).await?;
        commit(txn).await?;
        Ok(decision)
    }

    async fn delete_sent_emails(&self, cutoff: DateTime<Utc>) -> StoreResult<u64> {
        outbox::delete_sent(&self.db, cutoff).await
    }

    async fn email(&self, id: EmailId) -> StoreResult<Option<QueuedEmail>> {
        outbox::by_id(&self.db, id).await
    }
}

#[async_trait]
impl KeyStore for SqlStore {
    async fn create_signing_key(
        &self,
        key: NewSigningKey,
        audit: &AuditContext,
    ) -> StoreResult<SigningKey> {
        let txn = self.begin_write().await?;
        let created = keys::create(&txn, key, audit).await?;
        commit(txn).await?;
        Ok(created)
    }

    async fn signing_keys(&self) -> StoreResult<Vec<SigningKey>> {
        keys::list(&self.db).await
    }

    async fn signing_key(&self, id: KeyId) -> StoreResult<Option<SigningKey>> {
        keys::by_id(&self.db, id).await
    }

    async fn rotate_signing_key(
        &self,
        key: NewSigningKey,
        verify_until: DateTime<Utc>,
        audit: &AuditContext,
    ) -> StoreResult<(SigningKey, Vec<SigningKey>)> {
        let txn = self.begin_write().await?;
        let rotated = keys::rotate(&txn, key, verify_until, audit).await?;
        commit(txn).await?;
        Ok(rotated)
    }

    async fn delete_unverifiable_signing_keys(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        keys::delete_unverifiable(&self.db, now).await
    }
}

#[async_trait]
impl ApplicationStore for SqlStore {
    async fn create_application(
        &self,
        app: NewApplication,
        audit: &AuditContext,
    ) -> StoreResult<Application> {
        let txn = self.begin_write().await?;
        let created = applications::create(&txn, app, audit).await?;
        commit(txn).await?;
        Ok(created)
    }

    async fn application_by_slug(&self, slug: &str) -> StoreResult<Option<Application>> {
        applications::by_slug(&self.db, slug).await
    }

    async fn application_by_client_id(&self, client_id: &str) -> StoreResult<Option<Application>> {
        applications::by_client_id(&self.db, client_id).await
    }

    async fn application_by_id(&self, id: ApplicationId) -> StoreResult<Option<Application>> {
        applications::by_id(&self.db, id).await
    }

    async fn list_applications(&self) -> StoreResult<Vec<Application>> {
        applications::list(&self.db).await
    }

    async fn set_client_secret_digest(
        &self,
        id: ApplicationId,
        digest: String,
        audit: &AuditContext,
    ) -> StoreResult<()> {
        let txn = self.begin_write().await?;
        applications::set_client_secret_digest(&txn, id, digest, audit).await?;
        commit(txn).await
    }

    async fn delete_application(&self, id: ApplicationId, audit: &AuditContext) -> StoreResult<()> {
        let txn = self.begin_write().await?;
        applications::delete(&txn, id, audit).await?;
        commit(txn).await
    }
}

#[async_trait]
impl OAuth2TokenStore for SqlStore {
    async fn issue_oauth2_tokens(
        &self,
        tokens: Vec<NewOAuth2Token>,
        event: NewEvent,
        audit: &AuditContext,
    ) -> StoreResult<()> {
        let txn = self.begin_write().await?;
        oauth2_tokens::issue(&txn, tokens, event, audit).await?;
        commit(txn).await
    }

    async fn issue_oauth2_token_batch(&self, grants: Vec<IssuedGrant>) -> StoreResult<()> {
        if grants.is_empty() {
            return Ok(());
        }
        let txn = self.begin_write().await?;
        oauth2_tokens::issue_batch(&txn, grants).await?;
        commit(txn).await
    }

    async fn exchange_oauth2_token(
        &self,
        spent: OAuth2TokenId,
        at: DateTime<Utc>,
        tokens: Vec<NewOAuth2Token>,
        event: NewEvent,
        audit: &AuditContext,
    ) -> StoreResult<bool> {
        let txn = self.begin_write().await?;
        let spent = oauth2_tokens::exchange(&txn, spent, at, tokens, event, audit).await?;
        commit(txn).await?;
        Ok(spent)
    }

    async fn oauth2_token_by_digest(&self, digest: &str) -> StoreResult<Option<OAuth2Token>> {
        oauth2_tokens::by_digest(&self.db, digest).await
    }

    async fn revoke_oauth2_token(&self, id: OAuth2TokenId, at: DateTime<Utc>) -> StoreResult<bool> {
        oauth2_tokens::revoke(&self.db, id, at).await
    }

    async fn revoke_oauth2_family(
        &self,
        family: GrantFamilyId,
        at: DateTime<Utc>,
        event: NewEvent,
        audit: &AuditContext,
    ) -> StoreResult<u64> {
        let txn = self.begin_write().await?;
        let revoked = oauth2_tokens::revoke_family(&txn, family, at, event, audit).await?;
        commit(txn).await?;
        Ok(revoked)
    }

    async fn delete_expired_oauth2_tokens(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        oauth2_tokens::delete_expired(&self.db, now).await
    }
}

#[async_trait]
impl SettingStore for SqlStore {
    async fn setting(&self, name: &str) -> StoreResult<Option<String>> {
        settings::get(&self.db, name).await
    }

    async fn setting_insert_if_absent(&self, name: &str, value: &str) -> StoreResult<String> {
        settings::insert_if_absent(&self.db, name, value).await
    }
}

#[async_trait]
impl FlowStore for SqlStore {
    async fn flow_definition(&self, slug: &str) -> StoreResult<Option<FlowDefinition>> {
        flows::by_slug(&self.db, slug).await
    }

    async fn flow_definitions(&self) -> StoreResult<Vec<FlowDefinition>> {
        flows::all(&self.db).await
    }

    async fn seed_flow_definitions(
        &self,
        definitions: Vec<(String, serde_json::Value)>,
        audit: &AuditContext,
    ) -> StoreResult<Vec<String>> {
        let txn = self.begin_write().await?;
        let added = flows::seed(&txn, definitions, audit).await?;
        commit(txn).await?;
        Ok(added)
    }
}

#[async_trait]
impl Store for SqlStore {
    async fn ping(&self) -> StoreResult<()> {
        self.db.ping().await.map_err(db_err)
    }

    async fn create_first_admin(
        &self,
        admin: FirstAdmin,
        audit: &AuditContext,
    ) -> StoreResult<User> {
        let txn = self.begin_write().await?;
        let created = setup::create_first_admin(&txn, admin, audit).await?;
        commit(txn).await?;
        Ok(created)
    }

    async fn apply_changes(&self, changes: &ChangeSet, audit: &AuditContext) -> StoreResult<()> {
        let txn = self.begin_write().await?;
        changes::apply(&txn, changes, audit).await?;
        commit(txn).await
    }
}
