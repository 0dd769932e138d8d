//! Upstream login sources (issue 6): an OAuth2/OpenID Connect provider people may sign in
//! with (Forgejo, Gitea, GitHub, any OIDC provider, a plain OAuth2 server), and the links
//! between Gatehouse users and their upstream accounts. The protocol rules live in
//! `gatehouse-sources`; this module holds the stored shapes and the storage port.

use crate::audit::AuditContext;
use crate::ids::{SourceConnectionId, SourceId, UserId};
use crate::store::StoreResult;
use crate::user::{NewUser, User};
use crate::validate::{self, ValidationError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The most scopes a source may ask for.
const MAX_SCOPES: usize = 32;
/// The longest URL a source may name.
const MAX_URL: usize = 2048;

/// Which upstream software a source talks to; the preset decides default endpoints and how
/// groups are read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// Forgejo: OIDC discovery under the base URL, else `/login/oauth/*` and `/api/v1/user`.
    Forgejo,
    /// Gitea: as Forgejo.
    Gitea,
    /// GitHub (or GitHub Enterprise with a base URL): plain OAuth2, orgs and teams as groups.
    Github,
    /// Any OpenID Connect provider: discovery URL, or endpoints given by hand.
    Oidc,
    /// A plain OAuth2 server: authorize, token and user-info URLs plus claim paths.
    Oauth2,
}

impl SourceKind {
    /// The stable name stored and used in `apply`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Forgejo => "forgejo",
            Self::Gitea => "gitea",
            Self::Github => "github",
            Self::Oidc => "oidc",
            Self::Oauth2 => "oauth2",
        }
    }

    /// Parses a stored or typed name.
    pub fn parse(value: &str) -> Result<Self, ValidationError> {
        [
            Self::Forgejo,
            Self::Gitea,
            Self::Github,
            Self::Oidc,
            Self::Oauth2,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == value)
        .ok_or_else(|| {
            ValidationError::new(
                "type",
                "must be one of forgejo, gitea, github, oidc, oauth2",
            )
        })
    }
}

/// What to do with an upstream account that is not linked to any user yet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserMatching {
    /// Only an existing link signs in; an unlinked account enrols a new user.
    #[default]
    Identifier,
    /// Link to the existing user with the same email, if the upstream says it is verified;
    /// else enrol.
    EmailLink,
    /// Link to the existing user with the same username (only trust this with an upstream
    /// you administer); else enrol.
    UsernameLink,
    /// Only existing links sign in; unlinked accounts are refused.
    Deny,
}

impl UserMatching {
    /// The stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Identifier => "identifier",
            Self::EmailLink => "email_link",
            Self::UsernameLink => "username_link",
            Self::Deny => "deny",
        }
    }

    /// Parses a stored or typed name.
    pub fn parse(value: &str) -> Result<Self, ValidationError> {
        [
            Self::Identifier,
            Self::EmailLink,
            Self::UsernameLink,
            Self::Deny,
        ]
        .into_iter()
        .find(|mode| mode.as_str() == value)
        .ok_or_else(|| {
            ValidationError::new(
                "user_matching",
                "must be one of identifier, email_link, username_link, deny",
            )
        })
    }
}

/// How upstream groups become Gatehouse groups.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupSyncMode {
    /// No group sync.
    #[default]
    Off,
    /// Create missing groups (under the parent, if set) and sync into them.
    Create,
    /// Sync only into groups that already exist.
    Existing,
}

impl GroupSyncMode {
    /// The stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Create => "create",
            Self::Existing => "existing",
        }
    }

    /// Parses a stored or typed name.
    pub fn parse(value: &str) -> Result<Self, ValidationError> {
        [Self::Off, Self::Create, Self::Existing]
            .into_iter()
            .find(|mode| mode.as_str() == value)
            .ok_or_else(|| {
                ValidationError::new("group_sync.mode", "must be one of create, existing, off")
            })
    }
}

/// The per-source group rule.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupSync {
    /// Create, existing-only, or off.
    #[serde(default)]
    pub mode: GroupSyncMode,
    /// Groups created by the sync go under this group (which must exist).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
}

/// Endpoints given by hand; each overrides what the preset or discovery would use.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceEndpoints {
    /// OpenID Connect discovery document URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discovery_url: Option<String>,
    /// Expected `iss` of ID tokens (taken from discovery when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// Authorization endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorize_url: Option<String>,
    /// Token endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_url: Option<String>,
    /// User-info endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userinfo_url: Option<String>,
    /// JWKS of the ID-token signing keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_url: Option<String>,
}

impl SourceEndpoints {
    fn all(&self) -> [(&'static str, &Option<String>); 6] {
        [
            ("discovery_url", &self.discovery_url),
            ("issuer", &self.issuer),
            ("authorize_url", &self.authorize_url),
            ("token_url", &self.token_url),
            ("userinfo_url", &self.userinfo_url),
            ("jwks_url", &self.jwks_url),
        ]
    }
}

/// Where a plain OAuth2 source's user-info document keeps each fact (top-level member names).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimPaths {
    /// The stable upstream identifier.
    pub subject: String,
    /// The preferred username.
    pub username: String,
    /// The email address.
    pub email: String,
    /// Whether the email is verified (absent: not verified).
    pub email_verified: String,
    /// The display name.
    pub name: String,
    /// A list of group names.
    pub groups: String,
}

impl Default for ClaimPaths {
    /// OpenID Connect's standard claim names.
    fn default() -> Self {
        Self {
            subject: "sub".into(),
            username: "preferred_username".into(),
            email: "email".into(),
            email_verified: "email_verified".into(),
            name: "name".into(),
            groups: "groups".into(),
        }
    }
}

/// What is needed to create (or, whole, to replace) a source.
#[derive(Clone, PartialEq, Eq)]
pub struct NewSource {
    /// Natural key, used in the URLs `/source/oauth/login/<slug>/`.
    pub slug: String,
    /// Shown on the "Sign in with …" button.
    pub name: String,
    /// The preset.
    pub kind: SourceKind,
    /// Forgejo/Gitea instance, or GitHub Enterprise, base URL.
    pub base_url: Option<String>,
    /// Endpoints given by hand.
    pub endpoints: SourceEndpoints,
    /// Claim names for plain OAuth2 sources.
    pub claims: ClaimPaths,
    /// Our client id at the upstream.
    pub client_id: String,
    /// Our client secret, sealed by the caller with the secret box (context
    /// [`client_secret_context`]); `None` for a public client.
    pub client_secret_sealed: Option<String>,
    /// Scopes to ask for; empty means the preset's defaults.
    pub scopes: Vec<String>,
    /// What to do with unlinked upstream accounts.
    pub user_matching: UserMatching,
    /// The enrollment flow new users go through; `None` creates them directly.
    pub enrollment_flow: Option<String>,
    /// The group rule.
    pub group_sync: GroupSync,
    /// Whether the login button shows and the endpoints answer.
    pub enabled: bool,
}

impl std::fmt::Debug for NewSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewSource")
            .field("slug", &self.slug)
            .field("kind", &self.kind)
            .field("client_id", &self.client_id)
            .field("has_client_secret", &self.client_secret_sealed.is_some())
            .finish_non_exhaustive()
    }
}

/// The secret-box context a source's client secret is sealed under, bound to its slug so a
/// sealed value cannot be moved to another source.
pub fn client_secret_context(slug: &str) -> String {
    format!("source.client_secret:{slug}")
}

impl NewSource {
    /// A source of `kind` with defaults: enabled, identifier matching, no group sync.
    pub fn new(
        slug: impl Into<String>,
        name: impl Into<String>,
        kind: SourceKind,
        client_id: impl Into<String>,
    ) -> Self {
        Self {
            slug: slug.into(),
            name: name.into(),
            kind,
            base_url: None,
            endpoints: SourceEndpoints::default(),
            claims: ClaimPaths::default(),
            client_id: client_id.into(),
            client_secret_sealed: None,
            scopes: Vec::new(),
            user_matching: UserMatching::default(),
            enrollment_flow: None,
            group_sync: GroupSync::default(),
            enabled: true,
        }
    }

    /// Checks every field and that the preset has the endpoints it needs.
    pub fn validate(mut self) -> Result<Self, ValidationError> {
        crate::application::slug(&self.slug)?;
        validate::display_name(&self.name)?;
        crate::application::client_id(&self.client_id)?;
        if let Some(base) = &mut self.base_url {
            *base = base.trim_end_matches('/').to_owned();
            check_url("base_url", base)?;
        }
        for (field, value) in self.endpoints.all() {
            if let Some(url) = value {
                check_url(field, url)?;
            }
        }
        let e = &self.endpoints;
        match self.kind {
            SourceKind::Forgejo | SourceKind::Gitea if self.base_url.is_none() => {
                return Err(ValidationError::new(
                    "base_url",
                    "is required for forgejo and gitea sources",
                ));
            }
            SourceKind::Oidc
                if e.discovery_url.is_none()
                    && (e.authorize_url.is_none()
                        || e.token_url.is_none()
                        || e.jwks_url.is_none()
                        || e.issuer.is_none()) =>
            {
                return Err(ValidationError::new(
                    "discovery_url",
                    "is required for oidc sources unless issuer, authorize_url, token_url and \
                     jwks_url are all given",
                ));
            }
            SourceKind::Oauth2
                if e.authorize_url.is_none()
                    || e.token_url.is_none()
                    || e.userinfo_url.is_none() =>
            {
                return Err(ValidationError::new(
                    "authorize_url",
                    "oauth2 sources need authorize_url, token_url and userinfo_url",
                ));
            }
            _ => {}
        }
        if self.scopes.len() > MAX_SCOPES {
            return Err(ValidationError::new(
                "scopes",
                format!("at most {MAX_SCOPES} scopes"),
            ));
        }
        for scope in &self.scopes {
            let ok = !scope.is_empty()
                && scope.len() <= 128
                && scope
                    .bytes()
                    .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\');
            if !ok {
                return Err(ValidationError::new(
                    "scopes",
                    format!("{scope:?} is not a valid scope (RFC 6749 §3.3)"),
                ));
            }
        }
        if let Some(flow) = &self.enrollment_flow {
            crate::application::slug(flow)
                .map_err(|e| ValidationError::new("enrollment_flow", e.message))?;
        }
        if let Some(parent) = &self.group_sync.parent {
            validate::group_name(parent)
                .map_err(|e| ValidationError::new("group_sync.parent", e.message))?;
        }
        for (field, value) in [
            ("claims.subject", &self.claims.subject),
            ("claims.username", &self.claims.username),
            ("claims.email", &self.claims.email),
            ("claims.email_verified", &self.claims.email_verified),
            ("claims.name", &self.claims.name),
            ("claims.groups", &self.claims.groups),
        ] {
            if value.is_empty() || value.len() > 128 {
                return Err(ValidationError::new(field, "must be 1-128 characters"));
            }
        }
        Ok(self)
    }
}

fn check_url(field: &str, url: &str) -> Result<(), ValidationError> {
    let ok = url.len() <= MAX_URL
        && (url.starts_with("https://") || url.starts_with("http://"))
        && url.split_once("://").is_some_and(|(_, rest)| {
            !rest.is_empty() && !rest.starts_with('/') && !rest.contains(['#', ' ', '\\'])
        })
        && !url.chars().any(char::is_control);
    if ok {
        Ok(())
    } else {
        Err(ValidationError::new(
            field,
            "must be an http(s) URL without a fragment, at most 2048 characters",
        ))
    }
}

/// A stored source.
#[derive(Clone, PartialEq, Eq)]
pub struct Source {
    /// Stable identifier.
    pub id: SourceId,
    /// Everything else, as created or last replaced.
    pub settings: NewSource,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Source")
            .field("id", &self.id)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Source {
    /// The slug.
    pub fn slug(&self) -> &str {
        &self.settings.slug
    }
}

/// One user's link to one upstream account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceConnection {
    /// Stable identifier.
    pub id: SourceConnectionId,
    /// The source.
    pub source_id: SourceId,
    /// The source's slug (for display).
    pub source_slug: String,
    /// The Gatehouse user.
    pub user_id: UserId,
    /// The upstream's stable identifier (`sub`, or the numeric id of a Forgejo/GitHub user);
    /// unique per source.
    pub upstream_id: String,
    /// The upstream username when last seen (for display only; never used to match).
    pub upstream_username: Option<String>,
    /// Gatehouse groups this source put the user in at the last login; the next sync removes
    /// the ones no longer granted and leaves every other membership alone.
    pub synced_groups: Vec<String>,
    /// When the link was made.
    pub created_at: DateTime<Utc>,
    /// The last sign-in through it.
    pub last_login: Option<DateTime<Utc>>,
}

/// A link about to be made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewSourceConnection {
    /// The source.
    pub source_id: SourceId,
    /// The user.
    pub user_id: UserId,
    /// The upstream identifier.
    pub upstream_id: String,
    /// The upstream username, for display.
    pub upstream_username: Option<String>,
}

/// Group membership changes of one source login, decided by `gatehouse-sources` and applied
/// by the store in the login's transaction.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GroupChanges {
    /// Groups to create first (under `parent`, which must exist).
    pub create: Vec<String>,
    /// The parent of the created groups.
    pub parent: Option<String>,
    /// Groups the user joins (existing or just created).
    pub join: Vec<String>,
    /// Groups the user leaves.
    pub leave: Vec<String>,
    /// The synced set to remember on the connection afterwards.
    pub synced: Vec<String>,
}

/// A sign-in through a linked account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceLogin {
    /// The connection used.
    pub connection: SourceConnectionId,
    /// The upstream username now.
    pub upstream_username: Option<String>,
    /// Group changes to apply.
    pub groups: GroupChanges,
    /// When.
    pub at: DateTime<Utc>,
}

/// Stored sources and connections. Writes record their audit events in the same transaction.
#[async_trait]
pub trait SourceStore: Send + Sync {
    /// Creates a source; a taken slug is `Conflict`, an unknown enrollment flow or parent
    /// group `Invalid`.
    async fn create_source(&self, source: NewSource, audit: &AuditContext) -> StoreResult<Source>;
    /// Looks a source up by slug.
    async fn source_by_slug(&self, slug: &str) -> StoreResult<Option<Source>>;
    /// Every source, ordered by slug.
    async fn list_sources(&self) -> StoreResult<Vec<Source>>;
    /// Replaces a source's settings (the slug cannot change: it is bound into the sealed
    /// secret and into the upstream's redirect URI).
    async fn update_source(
        &self,
        id: SourceId,
        settings: NewSource,
        audit: &AuditContext,
    ) -> StoreResult<Source>;
    /// Deletes a source with its connections.
    async fn delete_source(&self, id: SourceId, audit: &AuditContext) -> StoreResult<()>;
    /// The connection of `upstream_id` at `source`.
    async fn source_connection(
        &self,
        source: SourceId,
        upstream_id: &str,
    ) -> StoreResult<Option<SourceConnection>>;
    /// A user's connections, ordered by source slug.
    async fn source_connections_of(&self, user: UserId) -> StoreResult<Vec<SourceConnection>>;
    /// Links an upstream account to an existing user; `Conflict` when the upstream account
    /// is linked already or the user already has a link at this source. Records
    /// `model_created` (model `source_connection`).
    async fn link_source(
        &self,
        connection: NewSourceConnection,
        audit: &AuditContext,
    ) -> StoreResult<SourceConnection>;
    /// Creates a user and its link in one transaction (just-in-time enrollment); a taken
    /// username is `Conflict` and nothing is written.
    async fn enroll_from_source(
        &self,
        user: NewUser,
        source: SourceId,
        upstream_id: &str,
        upstream_username: Option<String>,
        audit: &AuditContext,
    ) -> StoreResult<(User, SourceConnection)>;
    /// Records a sign-in through a connection: applies its group changes, remembers the
    /// synced set, sets the connection's and the user's last login, in one transaction.
    async fn record_source_login(
        &self,
        login: SourceLogin,
        audit: &AuditContext,
    ) -> StoreResult<SourceConnection>;
    /// Removes a user's link at a source. Refused (`Conflict`) when it is the user's last way
    /// to sign in: no password and no other link.
    async fn unlink_source(
        &self,
        user: UserId,
        source: SourceId,
        audit: &AuditContext,
    ) -> StoreResult<()>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_need_their_endpoints() {
        let forgejo = NewSource::new("forgejo", "Forgejo", SourceKind::Forgejo, "id");
        assert_eq!(
            forgejo.clone().validate().expect_err("invalid").field,
            "base_url"
        );
        let mut ok = forgejo;
        ok.base_url = Some("https://git.example.com/".into());
        assert_eq!(
            ok.validate().expect("valid").base_url.as_deref(),
            Some("https://git.example.com")
        );
        let mut oidc = NewSource::new("idp", "IdP", SourceKind::Oidc, "id");
        assert_eq!(
            oidc.clone().validate().expect_err("invalid").field,
            "discovery_url"
        );
        oidc.endpoints.discovery_url =
            Some("https://idp.example.com/.well-known/openid-configuration".into());
        assert!(oidc.validate().is_ok());
        let oauth2 = NewSource::new("plain", "Plain", SourceKind::Oauth2, "id");
        assert_eq!(
            oauth2.validate().expect_err("invalid").field,
            "authorize_url"
        );
        assert!(
            NewSource::new("gh", "GitHub", SourceKind::Github, "id")
                .validate()
                .is_ok()
        );
    }

    #[test]
    fn bad_fields_are_named() {
        let mut source = NewSource::new("gh", "GitHub", SourceKind::Github, "id");
        source.base_url = Some("javascript:alert(1)".into());
        assert_eq!(
            source.clone().validate().expect_err("invalid").field,
            "base_url"
        );
        source.base_url = Some("https:///path".into());
        assert_eq!(
            source.clone().validate().expect_err("invalid").field,
            "base_url"
        );
        source.base_url = None;
        source.scopes = vec!["read:org".into(), "bad scope".into()];
        assert_eq!(
            source.clone().validate().expect_err("invalid").field,
            "scopes"
        );
        source.scopes = vec![];
        source.slug = "Not A Slug".into();
        assert_eq!(source.validate().expect_err("invalid").field, "slug");
    }

    #[test]
    fn names_round_trip() {
        for kind in ["forgejo", "gitea", "github", "oidc", "oauth2"] {
            assert_eq!(SourceKind::parse(kind).expect(kind).as_str(), kind);
        }
        for mode in ["identifier", "email_link", "username_link", "deny"] {
            assert_eq!(UserMatching::parse(mode).expect(mode).as_str(), mode);
        }
        for mode in ["off", "create", "existing"] {
            assert_eq!(GroupSyncMode::parse(mode).expect(mode).as_str(), mode);
        }
        assert!(SourceKind::parse("ldap").is_err());
    }

    #[test]
    fn debug_never_shows_the_sealed_secret() {
        let mut source = NewSource::new("gh", "GitHub", SourceKind::Github, "id");
        source.client_secret_sealed = Some("v1.sealed-bytes".into());
        assert!(!format!("{source:?}").contains("sealed-bytes"));
    }
}
