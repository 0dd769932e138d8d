//! Managing upstream login sources (issue 6) and users' connections to them. Sources are
//! changed by superusers only and read by auditors, as applications are: a source decides who
//! may sign in. A user's connections (linked upstream accounts) belong to the user, so user
//! managers may list and remove them too, except a privileged user's, like any other change to
//! an administrator. A client secret is write-only: it is sealed here with the instance secret
//! key and never handed back, only whether one is set.

use super::{AdminError, AdminResult, Caller, page_in_memory, users};
use crate::services::Services;
use gatehouse_core::source::client_secret_context;
use gatehouse_core::{
    AdminArea, AuditContext, ClaimPaths, GroupSyncMode, ListQuery, NewSource, Page, Source,
    SourceConnection, SourceKind, StoreError, User, UserId, UserMatching,
};

/// The longest client secret accepted (as `gatehouse source create`).
const MAX_SECRET: usize = 1024;

/// A page of sources, searchable by slug, name, type, client id and base URL.
pub async fn list(
    services: &Services,
    caller: &Caller,
    query: &ListQuery,
) -> AdminResult<Page<Source>> {
    caller.require_read(AdminArea::Sources)?;
    let sources = services.store.list_sources().await?;
    Ok(page_in_memory(sources, query, |source| {
        let s = &source.settings;
        format!(
            "{} {} {} {} {}",
            s.slug,
            s.name,
            s.kind.as_str(),
            s.client_id,
            s.base_url.as_deref().unwrap_or("")
        )
    }))
}

/// One source by slug.
pub async fn get(services: &Services, caller: &Caller, slug: &str) -> AdminResult<Source> {
    caller.require_read(AdminArea::Sources)?;
    find(services, slug).await
}

/// The callback URL to register at the upstream for `source`.
pub fn callback_url(services: &Services, source: &Source) -> String {
    crate::sources::login::redirect_uri(services, source.slug())
}

/// Creates a source; `client_secret` (in clear) is sealed bound to the slug. A taken slug is
/// a 400 on `slug`; unknown references (enrollment flow, group-sync parent) name their field.
pub async fn create(
    services: &Services,
    caller: &Caller,
    mut settings: NewSource,
    client_secret: Option<String>,
) -> AdminResult<Source> {
    caller.require_write(AdminArea::Sources)?;
    settings.client_secret_sealed = client_secret
        .map(|secret| seal(services, &settings.slug, &secret))
        .transpose()?;
    let settings = settings.validate()?;
    if services
        .store
        .source_by_slug(&settings.slug)
        .await?
        .is_some()
    {
        return Err(AdminError::field("slug", "already taken"));
    }
    Ok(services
        .store
        .create_source(settings, &caller.audit)
        .await?)
}

/// What an update may change; `None` keeps the stored value, `Some(None)` clears an optional
/// one. The slug never changes: it is part of the redirect URI registered upstream and of the
/// sealed secret's binding.
#[derive(Clone, Debug, Default)]
pub struct SourceChanges {
    /// Button label.
    pub name: Option<String>,
    /// The preset.
    pub kind: Option<SourceKind>,
    /// Forgejo/Gitea or GitHub Enterprise base URL.
    pub base_url: Option<Option<String>>,
    /// OIDC discovery document URL.
    pub discovery_url: Option<Option<String>>,
    /// Expected ID-token issuer.
    pub issuer: Option<Option<String>>,
    /// Authorization endpoint.
    pub authorize_url: Option<Option<String>>,
    /// Token endpoint.
    pub token_url: Option<Option<String>>,
    /// User-info endpoint.
    pub userinfo_url: Option<Option<String>>,
    /// JWKS URL.
    pub jwks_url: Option<Option<String>>,
    /// Claim names, each kept when `None`.
    pub claims: ClaimChanges,
    /// Our client id upstream.
    pub client_id: Option<String>,
    /// A new client secret in clear; `Some(None)` removes it (a public client).
    pub client_secret: Option<Option<String>>,
    /// Scopes (empty: the preset's).
    pub scopes: Option<Vec<String>>,
    /// What to do with unlinked upstream accounts.
    pub user_matching: Option<UserMatching>,
    /// Enrollment flow slug.
    pub enrollment_flow: Option<Option<String>>,
    /// Group sync mode.
    pub group_sync_mode: Option<GroupSyncMode>,
    /// Parent of synced groups.
    pub group_sync_parent: Option<Option<String>>,
    /// Whether the source is offered.
    pub enabled: Option<bool>,
}

/// Changes to claim names; `None` keeps the stored one.
#[derive(Clone, Debug, Default)]
pub struct ClaimChanges {
    /// The stable upstream identifier.
    pub subject: Option<String>,
    /// The preferred username.
    pub username: Option<String>,
    /// The email address.
    pub email: Option<String>,
    /// Whether the email is verified.
    pub email_verified: Option<String>,
    /// The display name.
    pub name: Option<String>,
    /// The list of group names.
    pub groups: Option<String>,
}

impl ClaimChanges {
    /// Lays the changes over `claims`.
    pub fn apply_to(self, claims: &mut ClaimPaths) {
        for (change, stored) in [
            (self.subject, &mut claims.subject),
            (self.username, &mut claims.username),
            (self.email, &mut claims.email),
            (self.email_verified, &mut claims.email_verified),
            (self.name, &mut claims.name),
            (self.groups, &mut claims.groups),
        ] {
            if let Some(value) = change {
                *stored = value;
            }
        }
    }
}

impl SourceChanges {
    /// Lays the changes over `settings`; the secret is handled by [`update`] (or the
    /// creation's caller).
    pub fn apply_to(self, settings: &mut NewSource) {
        fn set<T>(stored: &mut T, change: Option<T>) {
            if let Some(value) = change {
                *stored = value;
            }
        }
        let e = &mut settings.endpoints;
        set(&mut settings.name, self.name);
        set(&mut settings.kind, self.kind);
        set(&mut settings.base_url, self.base_url);
        set(&mut e.discovery_url, self.discovery_url);
        set(&mut e.issuer, self.issuer);
        set(&mut e.authorize_url, self.authorize_url);
        set(&mut e.token_url, self.token_url);
        set(&mut e.userinfo_url, self.userinfo_url);
        set(&mut e.jwks_url, self.jwks_url);
        self.claims.apply_to(&mut settings.claims);
        set(&mut settings.client_id, self.client_id);
        set(&mut settings.scopes, self.scopes);
        set(&mut settings.user_matching, self.user_matching);
        set(&mut settings.enrollment_flow, self.enrollment_flow);
        set(&mut settings.group_sync.mode, self.group_sync_mode);
        set(&mut settings.group_sync.parent, self.group_sync_parent);
        set(&mut settings.enabled, self.enabled);
    }
}

/// Changes a source in one transaction with its `model_updated` event; unchanged input
/// writes nothing.
pub async fn update(
    services: &Services,
    caller: &Caller,
    slug: &str,
    mut changes: SourceChanges,
) -> AdminResult<Source> {
    caller.require_write(AdminArea::Sources)?;
    let source = find(services, slug).await?;
    let mut wanted = source.settings.clone();
    let secret = changes.client_secret.take();
    changes.apply_to(&mut wanted);
    match secret {
        Some(Some(clear)) => {
            wanted.client_secret_sealed = Some(seal(services, &wanted.slug, &clear)?);
        }
        Some(None) => wanted.client_secret_sealed = None,
        None => {}
    }
    let wanted = wanted.validate()?;
    if wanted == source.settings {
        return Ok(source);
    }
    Ok(services
        .store
        .update_source(source.id, wanted, &caller.audit)
        .await?)
}

/// Deletes a source with every connection to it.
pub async fn delete(services: &Services, caller: &Caller, slug: &str) -> AdminResult<()> {
    caller.require_write(AdminArea::Sources)?;
    let source = find(services, slug).await?;
    Ok(services
        .store
        .delete_source(source.id, &caller.audit)
        .await?)
}

/// A user's connections (linked upstream accounts), by source slug.
pub async fn connections(
    services: &Services,
    caller: &Caller,
    user: UserId,
) -> AdminResult<Vec<SourceConnection>> {
    caller.require_read(AdminArea::Users)?;
    let user = users::find(services, user).await?;
    Ok(services.store.source_connections_of(user.id).await?)
}

/// Removes a user's connection at the source `slug` (records `model_deleted`, model
/// `source_connection`). Refused (409) when it is the user's last way to sign in.
pub async fn remove_connection(
    services: &Services,
    caller: &Caller,
    user: UserId,
    slug: &str,
) -> AdminResult<()> {
    let user = users::writable(services, caller, user).await?;
    unlink_of(services, &user, slug, &caller.audit).await
}

/// Removes `user`'s connection at the source `slug` (the admin service after its rights
/// check, and the CLI); `NotFound` when there is no such link, `Conflict` for the last way in.
pub async fn unlink_of(
    services: &Services,
    user: &User,
    slug: &str,
    audit: &AuditContext,
) -> AdminResult<()> {
    let not_linked = || AdminError::not_found("connection");
    let source = services
        .store
        .source_by_slug(slug)
        .await?
        .ok_or_else(not_linked)?;
    match services
        .store
        .unlink_source(user.id, source.id, audit)
        .await
    {
        Err(StoreError::NotFound { .. }) => Err(not_linked()),
        other => Ok(other?),
    }
}

async fn find(services: &Services, slug: &str) -> AdminResult<Source> {
    services
        .store
        .source_by_slug(slug)
        .await?
        .ok_or_else(|| AdminError::not_found("source"))
}

/// Seals a client secret for the source `slug`, checking its length first.
fn seal(services: &Services, slug: &str, secret: &str) -> AdminResult<String> {
    if secret.is_empty() || secret.len() > MAX_SECRET || secret.chars().any(char::is_control) {
        return Err(AdminError::field(
            "client_secret",
            format!("must be 1-{MAX_SECRET} characters, without control characters"),
        ));
    }
    Ok(services
        .secret_box
        .seal(secret.as_bytes(), &client_secret_context(slug)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_keep_what_they_do_not_name_and_clear_what_is_null() {
        let mut settings = NewSource::new("idp", "IdP", SourceKind::Oidc, "client");
        settings.endpoints.discovery_url = Some("https://idp.example/.well-known/x".into());
        settings.base_url = Some("https://idp.example".into());
        let changes = SourceChanges {
            name: Some("Renamed".into()),
            base_url: Some(None),
            claims: ClaimChanges {
                groups: Some("roles".into()),
                ..ClaimChanges::default()
            },
            enabled: Some(false),
            ..SourceChanges::default()
        };
        changes.apply_to(&mut settings);
        assert_eq!(settings.name, "Renamed");
        assert_eq!(settings.base_url, None);
        assert!(settings.endpoints.discovery_url.is_some());
        assert_eq!(settings.claims.groups, "roles");
        assert_eq!(settings.claims.subject, "sub");
        assert!(!settings.enabled);
        assert_eq!(settings.client_id, "client");
    }
}
