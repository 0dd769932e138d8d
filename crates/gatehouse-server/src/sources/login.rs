//! One upstream login, step by step: find the source and its endpoints (discovery when the
//! upstream offers it), build the authorization request, and after the callback exchange the
//! code, validate the ID token, read the upstream account and its groups, match it to a
//! Gatehouse user (link, enrol or refuse) and sync its groups. Each refusal names a reason
//! for the audit log and a message for the page; no token or secret is ever in either.

use crate::services::Services;
use chrono::{DateTime, Utc};
use gatehouse_core::source::client_secret_context;
use gatehouse_core::{
    AuditContext, GroupChanges, GroupSyncMode, NewSourceConnection, NewUser, Source,
    SourceConnection, SourceKind, SourceLogin, StoreError, User, UserId,
};
use gatehouse_flows::SourceEnrollment;
use gatehouse_sources::endpoints::{self, ResolvedEndpoints, UserApi};
use gatehouse_sources::enrollment;
use gatehouse_sources::groups::{self, LocalGroup};
use gatehouse_sources::identity::{self, UpstreamIdentity};
use gatehouse_sources::matching::{self, DenyReason, LocalCandidate, MatchDecision, MatchFacts};
use gatehouse_sources::request::{
    self, AuthorizationRequest, CallbackParams, LoginPurpose, PendingLogin,
};
use gatehouse_sources::{SourceError, id_token};
use serde_json::{Map, Value};

use super::fetch::FetchError;

/// Why a login stopped.
#[derive(Debug)]
pub enum Failure {
    /// No enabled source has this slug.
    UnknownSource,
    /// The upstream is down or too slow: the page offers to try again.
    Unreachable,
    /// The source's settings or the upstream's documents cannot be used (an operator's
    /// problem, logged).
    Misconfigured(String),
    /// The login was refused: `reason` goes to the audit log, `message` to the page.
    Refused {
        /// Short machine-readable reason.
        reason: String,
        /// Safe to show.
        message: String,
    },
    /// Gatehouse's own storage failed.
    Store(StoreError),
}

impl Failure {
    fn refused(reason: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Refused {
            reason: reason.into(),
            message: message.into(),
        }
    }
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Self {
        Self::Store(error)
    }
}

impl From<FetchError> for Failure {
    fn from(error: FetchError) -> Self {
        match error {
            FetchError::Unreachable | FetchError::Status(500..=599) => Self::Unreachable,
            other => Self::Misconfigured(other.to_string()),
        }
    }
}

impl From<SourceError> for Failure {
    fn from(error: SourceError) -> Self {
        let reason = match &error {
            SourceError::BadState => "invalid_state".to_owned(),
            SourceError::UpstreamRefused(code) => format!("upstream_error: {code}"),
            SourceError::BadIdToken(why) => format!("bad_id_token: {why}"),
            SourceError::BadDocument(what) => format!("bad_document: {what}"),
        };
        Self::refused(reason, error.to_string())
    }
}

/// A source ready for a login: its settings and where its endpoints are.
#[derive(Debug)]
pub struct Ready {
    /// The stored source.
    pub source: Source,
    /// Its endpoints after presets, discovery and hand-given overrides.
    pub endpoints: ResolvedEndpoints,
}

/// Loads the enabled source `slug` and resolves its endpoints. Forgejo and Gitea fall back to
/// plain OAuth2 when their discovery document is missing (404); an `oidc` source needs it.
///
/// # Errors
/// Unknown or disabled source, an unreachable upstream, or unusable documents.
pub async fn ready(services: &Services, slug: &str) -> Result<Ready, Failure> {
    let source = services
        .store
        .source_by_slug(slug)
        .await?
        .filter(|s| s.settings.enabled)
        .ok_or(Failure::UnknownSource)?;
    let settings = &source.settings;
    let discovery = match endpoints::discovery_url(settings) {
        Some(url) => {
            let fallback_allowed = matches!(settings.kind, SourceKind::Forgejo | SourceKind::Gitea)
                && settings.endpoints.discovery_url.is_none();
            match services.upstream.cached_json(&url, false).await {
                Ok(document) => Some(
                    endpoints::parse_discovery(&document, &url)
                        .map_err(|e| Failure::Misconfigured(e.to_string()))?,
                ),
                Err(FetchError::Status(404)) if fallback_allowed => None,
                Err(error) => return Err(error.into()),
            }
        }
        None => None,
    };
    let endpoints = endpoints::resolve(settings, discovery.as_ref())
        .map_err(|e| Failure::Misconfigured(e.to_string()))?;
    Ok(Ready { source, endpoints })
}

/// The callback URL registered upstream for source `slug`.
pub fn redirect_uri(services: &Services, slug: &str) -> String {
    format!(
        "{}/source/oauth/callback/{slug}/",
        services.config.base_url()
    )
}

/// The authorization request to send the browser to, and what to remember until the callback.
pub fn begin(
    services: &Services,
    ready: &Ready,
    purpose: LoginPurpose,
    next: Option<String>,
    flow: Option<String>,
) -> AuthorizationRequest {
    let settings = &ready.source.settings;
    let scopes = endpoints::scopes(settings, &ready.endpoints);
    let redirect_uri = redirect_uri(services, &settings.slug);
    let mut request = request::authorization_request(
        request::RequestInput {
            source: &settings.slug,
            endpoints: &ready.endpoints,
            client_id: &settings.client_id,
            redirect_uri: &redirect_uri,
            scopes: &scopes,
        },
        purpose,
        next,
        Utc::now(),
    );
    request.pending.flow = flow;
    request
}

/// Checks the callback against the pending login, spends its `state` (a second use is
/// refused on every replica), exchanges the code and reads the upstream account.
///
/// # Errors
/// Invalid, expired or replayed state, an upstream error, a bad ID token or user document,
/// an unreachable upstream.
pub async fn identify(
    services: &Services,
    ready: &Ready,
    params: &CallbackParams,
    pending: &PendingLogin,
) -> Result<UpstreamIdentity, Failure> {
    let now = Utc::now();
    let settings = &ready.source.settings;
    let code = request::check_callback(
        params,
        pending,
        &settings.slug,
        ready.endpoints.issuer.as_deref(),
        now,
    )?;
    spend_state(services, pending).await?;
    let client_secret = match &settings.client_secret_sealed {
        Some(sealed) => {
            let bytes = services
                .secret_box
                .open(sealed, &client_secret_context(&settings.slug))
                .map_err(|_| {
                    Failure::Misconfigured(
                        "the client secret cannot be decrypted (was the secret key changed?)"
                            .into(),
                    )
                })?;
            Some(
                String::from_utf8(bytes)
                    .map_err(|_| Failure::Misconfigured("the client secret is not text".into()))?,
            )
        }
        None => None,
    };
    let form = request::token_request_form(
        &code,
        &redirect_uri(services, &settings.slug),
        pending,
        &settings.client_id,
        client_secret.as_deref(),
    );
    let document = services
        .upstream
        .post_form(&ready.endpoints.token_url, &form)
        .await?;
    let tokens = request::parse_token_response(&document)?;
    let mut identity = if ready.endpoints.openid {
        openid_identity(services, ready, &tokens, pending, now).await?
    } else {
        api_identity(services, ready, &tokens.access_token).await?
    };
    if settings.group_sync.mode != GroupSyncMode::Off
        && let Some((orgs_url, teams_url)) = ready.endpoints.user_api.group_urls()
        && !ready.endpoints.openid
    {
        let token = Some(tokens.access_token.as_str());
        let orgs = services.upstream.get_json(&orgs_url, token).await?;
        let teams = services.upstream.get_json(&teams_url, token).await?;
        identity.groups = identity::org_team_groups(&orgs, &teams);
    }
    Ok(identity)
}

/// Records the state as used until the pending login would have expired anyway, in the
/// store's single-use registry (shared with `private_key_jwt` assertion ids, keyed apart).
async fn spend_state(services: &Services, pending: &PendingLogin) -> Result<(), Failure> {
    let key = format!("gatehouse-source:{}", pending.source);
    let digest = services.digester.digest(&pending.state);
    let until = pending.created_at
        + chrono::Duration::minutes(request::PENDING_LIFETIME_MINUTES)
        + chrono::Duration::minutes(1);
    if services
        .store
        .record_client_assertion(&key, &digest, until)
        .await?
    {
        Ok(())
    } else {
        Err(Failure::refused(
            "replayed_state",
            SourceError::BadState.to_string(),
        ))
    }
}

/// The account of an OpenID Connect upstream: the validated ID token, plus user-info.
async fn openid_identity(
    services: &Services,
    ready: &Ready,
    tokens: &request::TokenResponse,
    pending: &PendingLogin,
    now: DateTime<Utc>,
) -> Result<UpstreamIdentity, Failure> {
    let settings = &ready.source.settings;
    let id_token = tokens
        .id_token
        .as_deref()
        .ok_or(SourceError::BadIdToken("the upstream sent no ID token"))?;
    let (Some(jwks_url), Some(issuer)) = (&ready.endpoints.jwks_url, &ready.endpoints.issuer)
    else {
        return Err(Failure::Misconfigured("no JWKS URL or issuer".into()));
    };
    let expected = id_token::Expected {
        issuer,
        client_id: &settings.client_id,
        nonce: &pending.nonce,
        now,
    };
    let jwks = services.upstream.cached_json(jwks_url, false).await?;
    let claims = match id_token::validate(id_token, &jwks, &expected) {
        // The upstream may have rotated its keys since the set was cached: fetch it once more.
        Err(SourceError::BadIdToken(why)) if why.starts_with("no upstream key") => {
            let jwks = services.upstream.cached_json(jwks_url, true).await?;
            id_token::validate(id_token, &jwks, &expected)?
        }
        other => other?,
    };
    let mut identity = identity::from_claims(&claims, &settings.claims)?;
    if let Some(url) = &ready.endpoints.userinfo_url {
        let userinfo = services
            .upstream
            .get_json(url, Some(&tokens.access_token))
            .await?;
        let userinfo = as_object(userinfo, "user-info document")?;
        identity::merge_userinfo(&mut identity, &userinfo, &settings.claims)?;
    }
    Ok(identity)
}

/// The account of a plain OAuth2 upstream: the Forgejo/Gitea or GitHub REST API, or a
/// user-info document read with the source's claim paths.
async fn api_identity(
    services: &Services,
    ready: &Ready,
    access_token: &str,
) -> Result<UpstreamIdentity, Failure> {
    let settings = &ready.source.settings;
    let user_url = ready
        .endpoints
        .user_api
        .user_url(ready.endpoints.userinfo_url.as_deref())
        .ok_or_else(|| Failure::Misconfigured("no user-info URL".into()))?;
    let user = as_object(
        services
            .upstream
            .get_json(&user_url, Some(access_token))
            .await?,
        "user document",
    )?;
    Ok(match &ready.endpoints.user_api {
        UserApi::Forgejo { .. } => identity::forgejo_user(&user)?,
        UserApi::Github { api_base } => {
            let emails = services
                .upstream
                .get_json(&format!("{api_base}/user/emails"), Some(access_token))
                .await
                .ok();
            identity::github_user(&user, emails.as_ref())?
        }
        UserApi::ClaimPaths => identity::from_claims(&user, &settings.claims)?,
    })
}

fn as_object(value: Value, what: &'static str) -> Result<Map<String, Value>, Failure> {
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(SourceError::BadDocument(what).into()),
    }
}

/// What a finished login produced.
#[derive(Debug)]
pub struct SignedIn {
    /// The Gatehouse user the upstream account is (now) linked to.
    pub user: User,
    /// The connection, with its last login and synced groups updated.
    pub connection: SourceConnection,
    /// How the user was found.
    pub outcome: Outcome,
}

/// How the user of a login was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// An existing link.
    Linked,
    /// A new link to an existing user.
    NewLink,
    /// A new user (just-in-time enrollment).
    Enrolled,
}

/// What a callback's upstream account leads to.
#[derive(Debug)]
pub enum Matched {
    /// Signed in: an existing link, a new link, or a user created directly from the claims.
    SignedIn(Box<SignedIn>),
    /// A new user, created through the source's enrollment flow `flow`, which asks for what
    /// is missing or taken. `username_taken`: a local user has the upstream username.
    Enroll {
        /// Slug of the enrollment flow.
        flow: String,
        /// The upstream username is taken here (or missing).
        username_taken: bool,
    },
}

/// Matches the upstream account to a user per the source's `user_matching` (linking or
/// enrolling as it decides), then records the login with its group sync in one transaction.
/// A new user of a source with an enrollment flow is not created here: the caller runs the
/// flow ([`Matched::Enroll`]), whose user-write stage calls [`enroll_through_flow`].
///
/// # Errors
/// A refusal by the matching rules, a taken or missing username at direct enrollment, storage.
pub async fn sign_in(
    services: &Services,
    ready: &Ready,
    identity: &UpstreamIdentity,
    purpose: &LoginPurpose,
    audit: &AuditContext,
) -> Result<Matched, Failure> {
    let source = &ready.source;
    let store = &services.store;
    let existing = store
        .source_connection(source.id, &identity.subject)
        .await?;
    let facts = MatchFacts {
        linked_user: existing.as_ref().map(|c| c.user_id),
        by_email: match identity.email.as_deref() {
            Some(email) => candidate(services, source, store.user_by_email(email).await?).await?,
            None => None,
        },
        by_username: match identity.username.as_deref() {
            Some(name) => candidate(services, source, store.user_by_username(name).await?).await?,
            None => None,
        },
        current_user_linked_here: match purpose {
            LoginPurpose::Link { user } => linked_here(services, source, *user).await?,
            LoginPurpose::SignIn => false,
        },
    };
    let decision = matching::decide(source.settings.user_matching, purpose, identity, &facts);
    let (user, connection, outcome) = match decision {
        MatchDecision::SignIn(user) => {
            let connection = existing.ok_or(Failure::Store(StoreError::Internal))?;
            (
                require_user(services, user).await?,
                connection,
                Outcome::Linked,
            )
        }
        MatchDecision::Link(user) => {
            let connection = store
                .link_source(
                    NewSourceConnection {
                        source_id: source.id,
                        user_id: user,
                        upstream_id: identity.subject.clone(),
                        upstream_username: identity.username.clone(),
                    },
                    audit,
                )
                .await?;
            (
                require_user(services, user).await?,
                connection,
                Outcome::NewLink,
            )
        }
        MatchDecision::Enroll { username_taken } => {
            if let Some(flow) = &source.settings.enrollment_flow {
                return Ok(Matched::Enroll {
                    flow: flow.clone(),
                    username_taken,
                });
            }
            let (user, connection) =
                enroll(services, ready, identity, username_taken, audit).await?;
            (user, connection, Outcome::Enrolled)
        }
        MatchDecision::Deny(reason) => return Err(denied(reason)),
    };
    if !user.active {
        return Err(denied(DenyReason::Inactive));
    }
    let connection = record_login(
        services,
        source,
        &user,
        (identity.username.clone(), &identity.groups),
        &connection,
        audit,
    )
    .await?;
    Ok(Matched::SignedIn(Box::new(SignedIn {
        user,
        connection,
        outcome,
    })))
}

/// Records a sign-in through `connection` with the group sync of `upstream_groups`, in one
/// transaction, as `user`'s action.
async fn record_login(
    services: &Services,
    source: &Source,
    user: &User,
    (upstream_username, upstream_groups): (Option<String>, &[String]),
    connection: &SourceConnection,
    audit: &AuditContext,
) -> Result<SourceConnection, Failure> {
    let changes = group_changes(services, source, upstream_groups, connection).await?;
    Ok(services
        .store
        .record_source_login(
            SourceLogin {
                connection: connection.id,
                upstream_username,
                groups: changes,
                at: Utc::now(),
            },
            &crate::authn::acting_as(user, audit),
        )
        .await?)
}

/// The user-write stage of a source's enrollment flow: creates `user` (what the flow's
/// prompt gathered) with its link to the upstream account in one transaction, marks the
/// email verified only when it is the address the upstream verified, then records the login
/// with its group sync. A username taken meanwhile is refused, never merged.
///
/// # Errors
/// The source is gone or disabled, the username or upstream account was taken meanwhile,
/// storage.
pub async fn enroll_through_flow(
    services: &Services,
    enrollment: &SourceEnrollment,
    mut user: NewUser,
    audit: &AuditContext,
) -> Result<User, Failure> {
    let source = services
        .store
        .source_by_slug(&enrollment.source)
        .await?
        .filter(|s| s.settings.enabled)
        .ok_or(Failure::UnknownSource)?;
    user.attributes.extend(enrollment::user_attributes(
        &enrollment.upstream_id,
        source.slug(),
    ));
    user.email_verified =
        enrollment::email_verified(enrollment.verified_email.as_deref(), user.email.as_deref());
    let (user, connection) = match services
        .store
        .enroll_from_source(
            user,
            source.id,
            &enrollment.upstream_id,
            enrollment.upstream_username.clone(),
            audit,
        )
        .await
    {
        Err(StoreError::Conflict(_)) => {
            return Err(Failure::refused(
                "username_taken",
                "That username, or this upstream account, was taken while you were choosing; \
                 no account was created. Sign in again.",
            ));
        }
        other => other?,
    };
    record_login(
        services,
        &source,
        &user,
        (enrollment.upstream_username.clone(), &enrollment.groups),
        &connection,
        audit,
    )
    .await?;
    Ok(user)
}

fn denied(reason: DenyReason) -> Failure {
    Failure::refused(reason.as_str(), reason.message())
}

async fn require_user(services: &Services, id: UserId) -> Result<User, Failure> {
    services
        .store
        .user_by_id(id)
        .await?
        .ok_or(Failure::Store(StoreError::not_found("user", id)))
}

async fn linked_here(services: &Services, source: &Source, user: UserId) -> Result<bool, Failure> {
    Ok(services
        .store
        .source_connections_of(user)
        .await?
        .iter()
        .any(|c| c.source_id == source.id))
}

async fn candidate(
    services: &Services,
    source: &Source,
    user: Option<User>,
) -> Result<Option<LocalCandidate>, Failure> {
    Ok(match user {
        Some(user) => Some(LocalCandidate {
            id: user.id,
            linked_here: linked_here(services, source, user.id).await?,
            active: user.active,
        }),
        None => None,
    })
}

/// Creates the user from the upstream's claims (a source without an enrollment flow). Never
/// merges: a taken or missing username is refused; with an enrollment flow the person would
/// be asked for another.
async fn enroll(
    services: &Services,
    ready: &Ready,
    identity: &UpstreamIdentity,
    username_taken: bool,
    audit: &AuditContext,
) -> Result<(User, SourceConnection), Failure> {
    let source = &ready.source;
    let Some(username) = identity.username.clone().filter(|_| !username_taken) else {
        return Err(Failure::refused(
            "username_taken",
            "Your upstream username is missing or already used by another account here, so \
             no account was created. Ask an administrator to create or link your account.",
        ));
    };
    let attributes = enrollment::user_attributes(&identity.subject, source.slug());
    let user = NewUser {
        name: identity.name.clone().unwrap_or_default(),
        email: identity.email.clone(),
        email_verified: identity.email_verified && identity.email.is_some(),
        attributes: attributes.clone(),
        ..NewUser::named(username)
    };
    let user = match user.validate() {
        Ok(user) => user,
        // An unusable email is left out rather than refusing the person.
        Err(error) if error.field == "email" => NewUser {
            email: None,
            email_verified: false,
            attributes,
            ..NewUser::named(identity.username.clone().unwrap_or_default())
        }
        .validate()
        .map_err(|e| Failure::refused("invalid_username", e.to_string()))?,
        Err(error) => return Err(Failure::refused("invalid_username", error.to_string())),
    };
    match services
        .store
        .enroll_from_source(
            user,
            source.id,
            &identity.subject,
            identity.username.clone(),
            audit,
        )
        .await
    {
        Err(StoreError::Conflict(_)) => Err(Failure::refused(
            "username_taken",
            "Your upstream username is already used by another account here, so no account \
             was created. Ask an administrator to link your account.",
        )),
        other => Ok(other?),
    }
}

/// The group-sync plan of this login against the groups that exist now.
async fn group_changes(
    services: &Services,
    source: &Source,
    upstream_groups: &[String],
    connection: &SourceConnection,
) -> Result<GroupChanges, Failure> {
    let rule = &source.settings.group_sync;
    if rule.mode == GroupSyncMode::Off {
        return Ok(groups::plan(rule, &[], &[], &connection.synced_groups));
    }
    let store = &services.store;
    let parent_id = match &rule.parent {
        Some(name) => Some(
            store
                .group_by_name(name)
                .await?
                .ok_or_else(|| {
                    Failure::Misconfigured(format!("the group-sync parent {name:?} is missing"))
                })?
                .id,
        ),
        None => None,
    };
    let mut existing = Vec::new();
    for name in upstream_groups {
        if let Some(group) = store.group_by_name(name).await? {
            existing.push(LocalGroup {
                parent: match (parent_id, group.parent_id) {
                    (Some(wanted), Some(actual)) if wanted == actual => rule.parent.clone(),
                    _ => None,
                },
                name: group.name,
                is_superuser: group.is_superuser,
            });
        }
    }
    Ok(groups::plan(
        rule,
        upstream_groups,
        &existing,
        &connection.synced_groups,
    ))
}
