//! Managing applications and their OAuth2/OIDC providers: create (a generated client secret
//! is returned once), list, show, rotate the secret, delete. Only superusers change them;
//! auditors read them. Providers of other kinds (SAML, LDAP) get their own fields here.

use super::{AdminError, AdminResult, Caller, page_in_memory};
use crate::oidc::{keys, secrets};
use crate::redis::invalidation::Invalidation;
use crate::services::Services;
use gatehouse_core::{AdminArea, Application, ListQuery, NewApplication, Page};

/// A page of applications, searchable by slug, name and client id.
pub async fn list(
    services: &Services,
    caller: &Caller,
    query: &ListQuery,
) -> AdminResult<Page<Application>> {
    caller.require_read(AdminArea::Applications)?;
    let apps = services.store.list_applications().await?;
    Ok(page_in_memory(apps, query, |app| {
        let client_id = app.oauth2.as_ref().map_or("", |p| p.client_id.as_str());
        format!("{} {} {client_id}", app.slug, app.name)
    }))
}

/// One application by slug.
pub async fn get(services: &Services, caller: &Caller, slug: &str) -> AdminResult<Application> {
    caller.require_read(AdminArea::Applications)?;
    find(services, slug).await
}

/// Creates an application. A confidential client gets a generated secret, returned here
/// once; only its keyed digest is stored.
pub async fn create(
    services: &Services,
    caller: &Caller,
    mut app: NewApplication,
) -> AdminResult<(Application, Option<String>)> {
    caller.require_write(AdminArea::Applications)?;
    let mut secret = None;
    if let Some(provider) = app.oauth2.as_mut()
        && provider.client_type == gatehouse_core::ClientType::Confidential
    {
        let generated = secrets::generate_client_secret();
        provider.client_secret_digest = Some(secrets::digest(&services.digester, &generated));
        secret = Some(generated);
    }
    app.validate()?;
    if services
        .store
        .application_by_slug(&app.slug)
        .await?
        .is_some()
    {
        return Err(AdminError::field("slug", "already taken"));
    }
    if let Some(provider) = &app.oauth2
        && services
            .store
            .application_by_client_id(&provider.client_id)
            .await?
            .is_some()
    {
        return Err(AdminError::field("oauth2.client_id", "already taken"));
    }
    let created = services
        .store
        .create_application(app, &caller.audit)
        .await?;
    services.changed(&[Invalidation::Applications]).await;
    Ok((created, secret))
}

/// Replaces a confidential client's secret with a generated one, returned once.
pub async fn rotate_secret(
    services: &Services,
    caller: &Caller,
    slug: &str,
) -> AdminResult<String> {
    caller.require_write(AdminArea::Applications)?;
    let app = find(services, slug).await?;
    match &app.oauth2 {
        Some(p) if p.client_type == gatehouse_core::ClientType::Confidential => {}
        _ => {
            return Err(AdminError::Conflict(
                "only confidential OAuth2 clients have a secret".into(),
            ));
        }
    }
    let secret = secrets::generate_client_secret();
    services
        .store
        .set_client_secret_digest(
            app.id,
            secrets::digest(&services.digester, &secret),
            &caller.audit,
        )
        .await?;
    // The old secret must stop working on every replica now, not after the cache TTL.
    services.changed(&[Invalidation::Applications]).await;
    Ok(secret)
}

/// Deletes an application with its provider and every token issued to it.
pub async fn delete(services: &Services, caller: &Caller, slug: &str) -> AdminResult<()> {
    caller.require_write(AdminArea::Applications)?;
    let app = find(services, slug).await?;
    services
        .store
        .delete_application(app.id, &caller.audit)
        .await?;
    services.changed(&[Invalidation::Applications]).await;
    Ok(())
}

async fn find(services: &Services, slug: &str) -> AdminResult<Application> {
    services
        .store
        .application_by_slug(slug)
        .await?
        .ok_or_else(|| AdminError::not_found("application"))
}

/// What an update may change (the fields of `gatehouse app update`); `None` keeps the
/// stored value. A list, when given, replaces the whole list.
#[derive(Clone, Debug, Default)]
pub struct ApplicationChanges {
    /// Display name.
    pub name: Option<String>,
    /// Launch URL; `Some(None)` removes it.
    pub launch_url: Option<Option<String>>,
    /// Group names allowed to use it; `Some(vec![])` lets everyone.
    pub allowed_groups: Option<Vec<String>>,
    /// Changes to the OAuth2/OIDC provider (the application must have one).
    pub oauth2: Option<ProviderChanges>,
}

/// Changes to an OAuth2/OIDC provider; `None` keeps the stored value. The client id, type and
/// secret are not here: a new client id is a new client, and the secret has `rotate_secret`.
#[derive(Clone, Debug, Default)]
pub struct ProviderChanges {
    /// Allowed redirect URIs.
    pub redirect_uris: Option<Vec<String>>,
    /// Post-logout redirect URIs.
    pub post_logout_redirect_uris: Option<Vec<String>>,
    /// Allowed scopes (mapped scopes stay allowed).
    pub scopes: Option<Vec<String>>,
    /// ID and access token signing algorithm.
    pub signing_alg: Option<gatehouse_core::KeyAlgorithm>,
    /// How the `sub` claim is derived.
    pub subject_mode: Option<gatehouse_core::SubjectMode>,
    /// When the consent page shows.
    pub consent_mode: Option<gatehouse_core::ConsentMode>,
    /// Whether a confidential client must use PKCE (public clients always must).
    pub require_pkce: Option<bool>,
    /// The one client authentication method allowed; `Some(None)` allows any.
    pub token_endpoint_auth_method: Option<Option<gatehouse_core::TokenEndpointAuthMethod>>,
    /// Authorization code lifetime in seconds.
    pub authorization_code_lifetime: Option<i64>,
    /// Access and ID token lifetime in seconds.
    pub access_token_lifetime: Option<i64>,
    /// Refresh token lifetime in seconds.
    pub refresh_token_lifetime: Option<i64>,
}

impl ProviderChanges {
    /// Lays the changes over `provider`.
    fn apply_to(self, provider: &mut gatehouse_core::OAuth2Provider) {
        if let Some(uris) = self.redirect_uris {
            provider.redirect_uris = uris;
        }
        if let Some(uris) = self.post_logout_redirect_uris {
            provider.post_logout_redirect_uris = uris;
        }
        if let Some(scopes) = self.scopes {
            provider.scopes = scopes;
        }
        provider.allow_mapped_scopes();
        if let Some(alg) = self.signing_alg {
            provider.signing_alg = alg;
        }
        if let Some(mode) = self.subject_mode {
            provider.subject_mode = mode;
        }
        if let Some(mode) = self.consent_mode {
            provider.consent_mode = mode;
        }
        if let Some(require) = self.require_pkce {
            provider.require_pkce =
                require || provider.client_type == gatehouse_core::ClientType::Public;
        }
        if let Some(method) = self.token_endpoint_auth_method {
            provider.token_endpoint_auth_method = method;
        }
        if let Some(secs) = self.authorization_code_lifetime {
            provider.lifetimes.authorization_code = secs;
        }
        if let Some(secs) = self.access_token_lifetime {
            provider.lifetimes.access_token = secs;
        }
        if let Some(secs) = self.refresh_token_lifetime {
            provider.lifetimes.refresh_token = secs;
        }
    }
}

/// Changes an application and its provider in one transaction with its `model_updated`
/// event (naming the changed fields as `apply` does); unchanged input writes nothing.
/// Provider changes on an application without a provider are a conflict (409).
pub async fn update(
    services: &Services,
    caller: &Caller,
    slug: &str,
    changes: ApplicationChanges,
) -> AdminResult<Application> {
    caller.require_write(AdminArea::Applications)?;
    let app = find(services, slug).await?;
    let mut provider = app.oauth2.clone();
    if let Some(provider_changes) = changes.oauth2 {
        let Some(provider) = provider.as_mut() else {
            return Err(AdminError::Conflict(
                "this application has no OAuth2/OIDC provider to change".into(),
            ));
        };
        provider_changes.apply_to(provider);
    }
    if let Some(groups) = &changes.allowed_groups {
        for name in groups {
            if services.store.group_by_name(name).await?.is_none() {
                return Err(AdminError::field(
                    "allowed_groups",
                    format!("no group named {name:?}"),
                ));
            }
        }
    }
    let wanted = NewApplication {
        slug: app.slug.clone(),
        name: changes.name.unwrap_or_else(|| app.name.clone()),
        launch_url: changes.launch_url.unwrap_or_else(|| app.launch_url.clone()),
        allowed_groups: changes.allowed_groups.clone().unwrap_or_default(),
        oauth2: provider,
    };
    wanted.validate()?;
    let alg = wanted.oauth2.as_ref().map(|p| p.signing_alg);
    let Some(change) = crate::declarative::application_update(&app, wanted, changes.allowed_groups)
    else {
        return Ok(app);
    };
    services.apply_changes(&vec![change], &caller.audit).await?;
    if let Some(alg) = alg {
        keys::ensure_key(services, alg)
            .await
            .map_err(|error| match error {
                keys::KeyError::Store(store) => store.into(),
                other => {
                    tracing::error!(error = %other, "no signing key for the new algorithm");
                    AdminError::Internal
                }
            })?;
    }
    services.changed(&[Invalidation::Applications]).await;
    find(services, slug).await
}
