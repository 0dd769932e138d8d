//! Managing applications and their OAuth2/OIDC providers: create (a generated client secret
//! is returned once), list, show, rotate the secret, delete. Only superusers change them;
//! auditors read them. Providers of other kinds (SAML, LDAP) get their own fields here.

use super::{AdminError, AdminResult, Caller, page_in_memory};
use crate::oidc::secrets;
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
