//! The storage ports. Protocol and web code depend on these traits only; `gatehouse-store`
//! implements them once for SQLite and PostgreSQL. Every write takes an [`AuditContext`] and
//! records its audit event in the same transaction.

use crate::application::{Application, NewApplication};
use crate::audit::{AuditContext, Event, EventQuery, NewEvent};
use crate::change::ChangeSet;
use crate::consent::ConsentStore;
use crate::device::{Device, NewDevice};
use crate::device_authorization::DeviceAuthorizationStore;
use crate::group::{Group, GroupPatch, NewGroup};
use crate::ids::{
    ApplicationId, DeviceId, GrantFamilyId, GroupId, KeyId, OAuth2TokenId, SessionId, TokenId,
    UserId,
};
use crate::invitation::InvitationStore;
use crate::key::{NewSigningKey, SigningKey};
use crate::list::{ListQuery, Page};
use crate::oauth2_token::{IssuedGrant, NewOAuth2Token, OAuth2Token};
use crate::outbox::OutboxStore;
use crate::session::Session;
use crate::source::SourceStore;
use crate::static_codes::StaticCodeStore;
use crate::token::{NewToken, SpentLink, Token, TokenIntent};
use crate::user::{NewUser, User, UserPatch};
use crate::validate::ValidationError;
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// Why a store call failed. Messages are safe to show to an operator: they name objects and
/// fields, never SQL, file paths or secrets.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum StoreError {
    /// The input broke a field rule.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// The object does not exist.
    #[error("{kind} {key:?} not found")]
    NotFound {
        /// `user`, `group`, `token`...
        kind: &'static str,
        /// The id or natural key that was looked up.
        key: String,
    },
    /// A uniqueness rule or a state rule forbids the write.
    #[error("{0}")]
    Conflict(String),
    /// The database cannot be reached right now; callers answer 503 and try again later.
    #[error("database unavailable")]
    Unavailable,
    /// Anything else; the details went to the log.
    #[error("internal storage error")]
    Internal,
}

impl StoreError {
    /// A not-found error for `kind` looked up by `key`.
    pub fn not_found(kind: &'static str, key: impl ToString) -> Self {
        Self::NotFound {
            kind,
            key: key.to_string(),
        }
    }
}

/// Shorthand for store results.
pub type StoreResult<T> = Result<T, StoreError>;

/// Users.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Creates a user with its group memberships; fails with `Conflict` on a taken username.
    async fn create_user(&self, user: NewUser, audit: &AuditContext) -> StoreResult<User>;
    /// Looks a user up by id.
    async fn user_by_id(&self, id: UserId) -> StoreResult<Option<User>>;
    /// Looks a user up by exact username.
    async fn user_by_username(&self, username: &str) -> StoreResult<Option<User>>;
    /// Looks a user up by email address, ignoring letter case; `None` when no user or more
    /// than one user has it (recovery must never pick one of several accounts).
    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>>;
    /// Lists users ordered by username; `search` matches username, name and email.
    async fn list_users(&self, query: &ListQuery) -> StoreResult<Page<User>>;
    /// Changes a user's fields.
    async fn update_user(
        &self,
        id: UserId,
        patch: UserPatch,
        audit: &AuditContext,
    ) -> StoreResult<User>;
    /// Replaces (or with `None` removes) a user's password hash; records `password_set`.
    async fn set_password_hash(
        &self,
        id: UserId,
        hash: Option<String>,
        audit: &AuditContext,
    ) -> StoreResult<()>;
    /// Upgrades a hash after a successful login (bcrypt to Argon2id) without an audit event,
    /// only if the stored hash is still `expected_old`.
    async fn rehash_password(
        &self,
        id: UserId,
        expected_old: &str,
        new_hash: String,
    ) -> StoreResult<()>;
    /// Records a successful sign-in time.
    async fn record_login(&self, id: UserId, at: DateTime<Utc>) -> StoreResult<()>;
    /// Deletes a user with its memberships, tokens and sessions.
    async fn delete_user(&self, id: UserId, audit: &AuditContext) -> StoreResult<()>;
}

/// Groups and memberships.
#[async_trait]
pub trait GroupStore: Send + Sync {
    /// Creates a group; the parent must exist.
    async fn create_group(&self, group: NewGroup, audit: &AuditContext) -> StoreResult<Group>;
    /// Looks a group up by id.
    async fn group_by_id(&self, id: GroupId) -> StoreResult<Option<Group>>;
    /// Looks a group up by exact name.
    async fn group_by_name(&self, name: &str) -> StoreResult<Option<Group>>;
    /// Lists groups ordered by name.
    async fn list_groups(&self, query: &ListQuery) -> StoreResult<Page<Group>>;
    /// Changes a group; a parent change that would close a cycle is `Invalid`.
    async fn update_group(
        &self,
        id: GroupId,
        patch: GroupPatch,
        audit: &AuditContext,
    ) -> StoreResult<Group>;
    /// Deletes a group; its children move up to its parent.
    async fn delete_group(&self, id: GroupId, audit: &AuditContext) -> StoreResult<()>;
    /// Adds a direct membership (no-op if present).
    async fn add_member(
        &self,
        group: GroupId,
        user: UserId,
        audit: &AuditContext,
    ) -> StoreResult<()>;
    /// Removes a direct membership (no-op if absent).
    async fn remove_member(
        &self,
        group: GroupId,
        user: UserId,
        audit: &AuditContext,
    ) -> StoreResult<()>;
    /// A page of a group's direct members, searched and ordered like [`UserStore::list_users`]
    /// (groups of tens of thousands of members are paged by the database, not in memory).
    async fn group_members(&self, group: GroupId, query: &ListQuery) -> StoreResult<Page<User>>;
    /// The groups a user is directly in, ordered by name.
    async fn direct_groups(&self, user: UserId) -> StoreResult<Vec<Group>>;
    /// The names of the groups each of `users` is directly in (ordered by name), in one query,
    /// so a list page can show them without a query per user. Users in no group are absent.
    async fn direct_group_names(
        &self,
        users: &[UserId],
    ) -> StoreResult<std::collections::HashMap<UserId, Vec<String>>>;
    /// The groups a user is in directly or through a descendant, ordered by name.
    async fn effective_groups(&self, user: UserId) -> StoreResult<Vec<Group>>;
    /// Whether any active user is effectively in a superuser group.
    async fn superuser_exists(&self) -> StoreResult<bool>;
}

/// The audit log.
#[async_trait]
pub trait EventStore: Send + Sync {
    /// Appends an event on its own (for events with no accompanying change, like a failed login).
    async fn append_event(&self, event: NewEvent, audit: &AuditContext) -> StoreResult<()>;
    /// Reads events newest first.
    async fn list_events(&self, query: &EventQuery) -> StoreResult<Page<Event>>;
    /// How many events of each of `actions` fall in each period between consecutive
    /// `boundaries` (`[b0, b1)`, `[b1, b2)`, ...): `counts[action][period]`. One query
    /// for a whole chart, however many bars it has, so the admin overview stays one round
    /// trip. Fewer than two boundaries give no periods.
    async fn count_events_per_period(
        &self,
        actions: &[crate::EventAction],
        boundaries: &[chrono::DateTime<chrono::Utc>],
    ) -> StoreResult<Vec<Vec<u64>>>;
}

/// Tokens, by keyed digest.
#[async_trait]
pub trait TokenStore: Send + Sync {
    /// Stores a token.
    async fn create_token(&self, token: NewToken, audit: &AuditContext) -> StoreResult<Token>;
    /// Finds a token of `intent` by digest, whether expired or not.
    async fn token_by_digest(
        &self,
        intent: TokenIntent,
        digest: &str,
    ) -> StoreResult<Option<Token>>;
    /// Spends a single-use token: if one of `intent` with this digest exists and is unexpired
    /// at `now`, deletes it, records `token_used` and returns it; otherwise `None`. The delete
    /// is conditional, so of two concurrent spenders only one gets the token.
    async fn spend_token(
        &self,
        intent: TokenIntent,
        digest: &str,
        now: DateTime<Utc>,
        audit: &AuditContext,
    ) -> StoreResult<Option<Token>>;
    /// Follows an email-verification link: spends the token (as [`Self::spend_token`]) and,
    /// in the same transaction, marks its user's address verified (recording
    /// `model_updated`). `None`, writing nothing, for an unknown, used or expired link.
    async fn verify_email_with_token(
        &self,
        digest: &str,
        now: DateTime<Utc>,
        audit: &AuditContext,
    ) -> StoreResult<Option<SpentLink>>;
    /// Lists tokens, optionally of one user.
    async fn list_tokens(&self, user: Option<UserId>) -> StoreResult<Vec<Token>>;
    /// Deletes a token.
    async fn delete_token(&self, id: TokenId, audit: &AuditContext) -> StoreResult<()>;
    /// Deletes every token of an intent (e.g. stale setup links); returns how many.
    async fn delete_tokens_with_intent(&self, intent: TokenIntent) -> StoreResult<u64>;
    /// Deletes tokens that expired before `now`; returns how many.
    async fn delete_expired_tokens(&self, now: DateTime<Utc>) -> StoreResult<u64>;
}

/// Server-side sessions.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Stores a session.
    async fn create_session(&self, session: Session) -> StoreResult<()>;
    /// Finds an unexpired session by cookie digest.
    async fn session_by_digest(
        &self,
        digest: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Session>>;
    /// Lists a user's sessions.
    async fn sessions_of(&self, user: UserId) -> StoreResult<Vec<Session>>;
    /// Ends a session, queuing its back-channel logouts in the same transaction (as
    /// [`crate::Change::EndSession`]).
    async fn delete_session(&self, id: SessionId) -> StoreResult<()>;
    /// Deletes sessions that expired before `now`; returns how many.
    async fn delete_expired_sessions(&self, now: DateTime<Utc>) -> StoreResult<u64>;
}

/// MFA devices.
#[async_trait]
pub trait DeviceStore: Send + Sync {
    /// Stores a confirmed device; records `model_created` (model `device`, never the secret).
    async fn create_device(&self, device: NewDevice, audit: &AuditContext) -> StoreResult<Device>;
    /// A user's devices, oldest first.
    async fn devices_of(&self, user: UserId) -> StoreResult<Vec<Device>>;
    /// Looks a device up by id.
    async fn device(&self, id: DeviceId) -> StoreResult<Option<Device>>;
    /// Records a TOTP code's time step as used, only if it is later than the stored one
    /// (compare-and-set in one statement), so two concurrent requests cannot both spend one
    /// code. Returns whether it was recorded; also sets `last_used_at`.
    async fn record_totp_step(
        &self,
        id: DeviceId,
        step: i64,
        at: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Records a WebAuthn sign-in: stores the new signature counter and `at`, only if the
    /// device was not used at or after `challenge_issued_at` (compare-and-set in one
    /// statement), so one challenge's response cannot sign in twice, even with authenticators
    /// that do not count. Returns whether it was recorded.
    async fn record_webauthn_use(
        &self,
        id: DeviceId,
        sign_count: i64,
        challenge_issued_at: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Renames a device; records `model_updated`.
    async fn rename_device(
        &self,
        id: DeviceId,
        name: &str,
        audit: &AuditContext,
    ) -> StoreResult<()>;
    /// Removes a device; records `model_deleted`.
    async fn delete_device(&self, id: DeviceId, audit: &AuditContext) -> StoreResult<()>;
}

/// Signing keys.
#[async_trait]
pub trait KeyStore: Send + Sync {
    /// Stores a key.
    async fn create_signing_key(
        &self,
        key: NewSigningKey,
        audit: &AuditContext,
    ) -> StoreResult<SigningKey>;
    /// All keys, newest first, retired ones included.
    async fn signing_keys(&self) -> StoreResult<Vec<SigningKey>>;
    /// Looks a key up by id.
    async fn signing_key(&self, id: KeyId) -> StoreResult<Option<SigningKey>>;
    /// In one transaction: retires every active key of `key`'s algorithm, to stay published
    /// until `verify_until`, and stores `key` as the new active one. Returns the new key and
    /// the retired ones; each is an audit event.
    async fn rotate_signing_key(
        &self,
        key: NewSigningKey,
        verify_until: DateTime<Utc>,
        audit: &AuditContext,
    ) -> StoreResult<(SigningKey, Vec<SigningKey>)>;
    /// Deletes retired keys whose `verify_until` passed before `now`; returns how many.
    async fn delete_unverifiable_signing_keys(&self, now: DateTime<Utc>) -> StoreResult<u64>;
}

/// Applications and their OAuth2 providers.
#[async_trait]
pub trait ApplicationStore: Send + Sync {
    /// Creates an application (and its provider); a taken slug or client id is `Conflict`, an
    /// unknown allowed group `NotFound`. Records `model_created` (never the secret digest).
    async fn create_application(
        &self,
        app: NewApplication,
        audit: &AuditContext,
    ) -> StoreResult<Application>;
    /// Looks an application up by slug.
    async fn application_by_slug(&self, slug: &str) -> StoreResult<Option<Application>>;
    /// Looks an application up by its provider's client id.
    async fn application_by_client_id(&self, client_id: &str) -> StoreResult<Option<Application>>;
    /// Looks an application up by id.
    async fn application_by_id(&self, id: ApplicationId) -> StoreResult<Option<Application>>;
    /// Every application, ordered by slug.
    async fn list_applications(&self) -> StoreResult<Vec<Application>>;
    /// Replaces the client secret digest; records `model_updated` (field `client_secret`).
    async fn set_client_secret_digest(
        &self,
        id: ApplicationId,
        digest: String,
        audit: &AuditContext,
    ) -> StoreResult<()>;
    /// Deletes an application with its provider and every token issued to it.
    async fn delete_application(&self, id: ApplicationId, audit: &AuditContext) -> StoreResult<()>;
}

/// OAuth2 authorization codes, refresh tokens and access-token ids, by keyed digest.
#[async_trait]
pub trait OAuth2TokenStore: Send + Sync {
    /// Stores artefacts and `event` in one transaction (an authorization, a client_credentials
    /// grant).
    async fn issue_oauth2_tokens(
        &self,
        tokens: Vec<NewOAuth2Token>,
        event: NewEvent,
        audit: &AuditContext,
    ) -> StoreResult<()>;
    /// Stores several independent grants, each with its event, in one transaction: all or
    /// nothing. The token endpoint gathers concurrent client_credentials grants this way, so
    /// a burst of tokens costs one commit instead of one each.
    async fn issue_oauth2_token_batch(&self, grants: Vec<IssuedGrant>) -> StoreResult<()>;
    /// Spends `spent` (compare-and-set: only if unspent and unrevoked) and, in the same
    /// transaction, stores `tokens` and `event`. Returns `false`, writing nothing, when
    /// `spent` was already spent or revoked, so of two concurrent redemptions one wins.
    async fn exchange_oauth2_token(
        &self,
        spent: OAuth2TokenId,
        at: DateTime<Utc>,
        tokens: Vec<NewOAuth2Token>,
        event: NewEvent,
        audit: &AuditContext,
    ) -> StoreResult<bool>;
    /// Finds an artefact by digest, whatever its state.
    async fn oauth2_token_by_digest(&self, digest: &str) -> StoreResult<Option<OAuth2Token>>;
    /// Revokes one artefact (RFC 7009); returns whether it was unrevoked. No audit event:
    /// revocation is the client's housekeeping, not a security decision.
    async fn revoke_oauth2_token(&self, id: OAuth2TokenId, at: DateTime<Utc>) -> StoreResult<bool>;
    /// Revokes every artefact of a family (replay and reuse detection) with `event`; returns
    /// how many were still unrevoked.
    async fn revoke_oauth2_family(
        &self,
        family: GrantFamilyId,
        at: DateTime<Utc>,
        event: NewEvent,
        audit: &AuditContext,
    ) -> StoreResult<u64>;
    /// Deletes artefacts that expired before `now`; returns how many.
    async fn delete_expired_oauth2_tokens(&self, now: DateTime<Utc>) -> StoreResult<u64>;
}

/// Single-use `private_key_jwt` client assertions (RFC 7523 §3 item 7).
#[async_trait]
pub trait ClientAssertionStore: Send + Sync {
    /// Records an accepted assertion's `jti` for `client_id` until `expires_at`. Returns
    /// `false` when the same client already used that `jti` in an unexpired assertion; of two
    /// concurrent calls with the same pair exactly one gets `true`.
    async fn record_client_assertion(
        &self,
        client_id: &str,
        jti: &str,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Deletes records of assertions that expired before `now`; returns how many.
    async fn delete_expired_client_assertions(&self, now: DateTime<Utc>) -> StoreResult<u64>;
}

/// Small installation-wide values (schema facts, the secret-key check value).
#[async_trait]
pub trait SettingStore: Send + Sync {
    /// Reads a setting.
    async fn setting(&self, name: &str) -> StoreResult<Option<String>>;
    /// Writes a setting only if it is absent; returns the value now stored (so concurrent
    /// replicas agree on one).
    async fn setting_insert_if_absent(&self, name: &str, value: &str) -> StoreResult<String>;
}

/// Flow definitions (see [`crate::FlowDefinition`]).
#[async_trait]
pub trait FlowStore: Send + Sync {
    /// The flow with this slug.
    async fn flow_definition(&self, slug: &str) -> StoreResult<Option<crate::FlowDefinition>>;
    /// Every stored flow, by slug.
    async fn flow_definitions(&self) -> StoreResult<Vec<crate::FlowDefinition>>;
    /// Stores each `(slug, definition)` whose slug is not stored yet and leaves the others as
    /// they are (an administrator's edits survive upgrades), in one transaction; returns the
    /// slugs it added. Concurrent replicas may both call it: each slug is added once.
    async fn seed_flow_definitions(
        &self,
        flows: Vec<(String, serde_json::Value)>,
        audit: &AuditContext,
    ) -> StoreResult<Vec<String>>;
}

/// What the first-run setup (page or bootstrap variables) creates, as one transaction.
#[derive(Clone, Debug)]
pub struct FirstAdmin {
    /// The administrator (its `groups` are ignored: it joins the default admin group).
    pub user: NewUser,
    /// The setup token being spent, by digest; it must exist, be unexpired, and is deleted.
    pub setup_token_digest: Option<String>,
    /// An API token to create for the administrator (bootstrap automation).
    pub api_token: Option<NewToken>,
}

/// The whole storage surface, plus the operations that span several kinds of object.
#[async_trait]
pub trait Store:
    UserStore
    + GroupStore
    + EventStore
    + TokenStore
    + SessionStore
    + KeyStore
    + SettingStore
    + DeviceStore
    + FlowStore
    + InvitationStore
    + StaticCodeStore
    + OutboxStore
    + ApplicationStore
    + OAuth2TokenStore
    + ConsentStore
    + DeviceAuthorizationStore
    + ClientAssertionStore
    + crate::backchannel::BackchannelLogoutStore
    + SourceStore
    + crate::worker::WorkerHeartbeatStore
{
    /// Checks that the database answers (readiness).
    async fn ping(&self) -> StoreResult<()>;
    /// Creates the first administrator, its superuser group (if missing) and optional API token,
    /// spending the setup token. Fails with `Conflict` if a superuser already exists, so two
    /// racing setup requests cannot both succeed.
    async fn create_first_admin(
        &self,
        admin: FirstAdmin,
        audit: &AuditContext,
    ) -> StoreResult<User>;
    /// Applies a change set atomically: on any error nothing is written.
    async fn apply_changes(&self, changes: &ChangeSet, audit: &AuditContext) -> StoreResult<()>;
}
