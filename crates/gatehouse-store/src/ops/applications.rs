//! Applications and their OAuth2 providers: creation, lookups, secret replacement and
//! deletion. The client secret digest never appears in events, errors or logs.

use crate::entity::{application, group, oauth2_provider};
use crate::error::{conflict_or_db_err, db_err};
use crate::ops::rows::corrupt;
use crate::ops::{events, groups};
use crate::timestamp;
use gatehouse_core::store::StoreResult;
use gatehouse_core::{
    AllowedGroup, Application, ApplicationId, AuditContext, ClientType, ConsentMode, EventAction,
    GroupId, KeyAlgorithm, Lifetimes, NewApplication, NewEvent, OAuth2Provider, StoreError,
    SubjectMode, TokenEndpointAuthMethod,
};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
};
use serde_json::Value;
use uuid::Uuid;

/// Stores an application and its provider; records `model_created`.
pub(crate) async fn create<C: ConnectionTrait>(
    conn: &C,
    new: NewApplication,
    audit: &AuditContext,
) -> StoreResult<Application> {
    new.validate()?;
    let mut group_ids = Vec::with_capacity(new.allowed_groups.len());
    for name in &new.allowed_groups {
        let group = groups::by_name(conn, name)
            .await?
            .ok_or_else(|| StoreError::not_found("group", name))?;
        if !group_ids.contains(&group.id.0) {
            group_ids.push(group.id.0);
        }
    }
    let row = application::Model {
        id: ApplicationId::new().0,
        slug: new.slug,
        name: new.name,
        launch_url: new.launch_url,
        allowed_groups: Value::from(
            group_ids
                .iter()
                .map(|id| Value::from(id.to_string()))
                .collect::<Vec<_>>(),
        ),
        created_at: timestamp::now(),
    };
    let slug = row.slug.clone();
    application::Entity::insert(row.clone().into_active_model())
        .exec_without_returning(conn)
        .await
        .map_err(|err| {
            conflict_or_db_err(err, || {
                format!("application slug {slug:?} is already taken")
            })
        })?;
    let mut event =
        NewEvent::about_model(EventAction::ModelCreated, "application", row.id, &row.slug);
    if let Some(provider) = &new.oauth2 {
        let provider_row = provider_to_row(row.id, provider);
        let client_id = provider.client_id.clone();
        oauth2_provider::Entity::insert(provider_row.into_active_model())
            .exec_without_returning(conn)
            .await
            .map_err(|err| {
                conflict_or_db_err(err, || format!("client_id {client_id:?} is already taken"))
            })?;
        event = event
            .with("client_id", provider.client_id.as_str())
            .with("client_type", provider.client_type.as_str());
    }
    events::record(conn, event, audit).await?;
    load(conn, row).await
}

/// Looks an application up by slug.
pub(crate) async fn by_slug<C: ConnectionTrait>(
    conn: &C,
    slug: &str,
) -> StoreResult<Option<Application>> {
    let row = application::Entity::find()
        .filter(application::Column::Slug.eq(slug))
        .one(conn)
        .await
        .map_err(db_err)?;
    match row {
        Some(row) => load(conn, row).await.map(Some),
        None => Ok(None),
    }
}

/// Looks an application up by id.
pub(crate) async fn by_id<C: ConnectionTrait>(
    conn: &C,
    id: ApplicationId,
) -> StoreResult<Option<Application>> {
    let row = application::Entity::find_by_id(id.0)
        .one(conn)
        .await
        .map_err(db_err)?;
    match row {
        Some(row) => load(conn, row).await.map(Some),
        None => Ok(None),
    }
}

/// Looks an application up by its provider's client id.
pub(crate) async fn by_client_id<C: ConnectionTrait>(
    conn: &C,
    client_id: &str,
) -> StoreResult<Option<Application>> {
    let provider = oauth2_provider::Entity::find()
        .filter(oauth2_provider::Column::ClientId.eq(client_id))
        .one(conn)
        .await
        .map_err(db_err)?;
    match provider {
        Some(provider) => by_id(conn, ApplicationId(provider.application_id)).await,
        None => Ok(None),
    }
}

/// Every application, ordered by slug.
pub(crate) async fn list<C: ConnectionTrait>(conn: &C) -> StoreResult<Vec<Application>> {
    let rows = application::Entity::find()
        .order_by_asc(application::Column::Slug)
        .all(conn)
        .await
        .map_err(db_err)?;
    let mut apps = Vec::with_capacity(rows.len());
    for row in rows {
        apps.push(load(conn, row).await?);
    }
    Ok(apps)
}

/// Replaces the client secret digest of a confidential client; records `model_updated`.
pub(crate) async fn set_client_secret_digest<C: ConnectionTrait>(
    conn: &C,
    id: ApplicationId,
    digest: String,
    audit: &AuditContext,
) -> StoreResult<()> {
    let app = by_id(conn, id)
        .await?
        .ok_or_else(|| StoreError::not_found("application", id))?;
    match &app.oauth2 {
        Some(provider) if provider.client_type == ClientType::Confidential => {}
        Some(_) => return Err(StoreError::Conflict("public clients have no secret".into())),
        None => {
            return Err(StoreError::Conflict(format!(
                "application {:?} has no OAuth2 provider",
                app.slug
            )));
        }
    }
    oauth2_provider::Entity::update_many()
        .col_expr(
            oauth2_provider::Column::ClientSecretDigest,
            Expr::value(Some(digest)),
        )
        .filter(oauth2_provider::Column::ApplicationId.eq(id.0))
        .exec(conn)
        .await
        .map_err(db_err)?;
    events::record(
        conn,
        NewEvent::about_model(EventAction::ModelUpdated, "application", id, &app.slug)
            .with("fields", vec!["client_secret"]),
        audit,
    )
    .await
}

/// Deletes an application; its provider and tokens go with it (foreign keys cascade).
pub(crate) async fn delete<C: ConnectionTrait>(
    conn: &C,
    id: ApplicationId,
    audit: &AuditContext,
) -> StoreResult<()> {
    let row = application::Entity::find_by_id(id.0)
        .one(conn)
        .await
        .map_err(db_err)?
        .ok_or_else(|| StoreError::not_found("application", id))?;
    application::Entity::delete_by_id(id.0)
        .exec(conn)
        .await
        .map_err(db_err)?;
    events::record(
        conn,
        NewEvent::about_model(EventAction::ModelDeleted, "application", id, &row.slug),
        audit,
    )
    .await
}

/// Reads the provider and the allowed groups' current names.
async fn load<C: ConnectionTrait>(conn: &C, row: application::Model) -> StoreResult<Application> {
    let ids = uuid_list(&row.allowed_groups, "applications", "allowed_groups")?;
    let mut allowed_groups = Vec::with_capacity(ids.len());
    if !ids.is_empty() {
        let found = group::Entity::find()
            .filter(group::Column::Id.is_in(ids.clone()))
            .all(conn)
            .await
            .map_err(db_err)?;
        // Keep the configured order; a deleted group simply drops out.
        for id in ids {
            if let Some(group) = found.iter().find(|g| g.id == id) {
                allowed_groups.push(AllowedGroup {
                    id: GroupId(id),
                    name: group.name.clone(),
                });
            }
        }
    }
    let provider = oauth2_provider::Entity::find_by_id(row.id)
        .one(conn)
        .await
        .map_err(db_err)?
        .map(provider_from_row)
        .transpose()?;
    Ok(Application {
        id: ApplicationId(row.id),
        slug: row.slug,
        name: row.name,
        launch_url: row.launch_url,
        allowed_groups,
        oauth2: provider,
        created_at: row.created_at,
    })
}

pub(crate) fn provider_to_row(application_id: Uuid, p: &OAuth2Provider) -> oauth2_provider::Model {
    oauth2_provider::Model {
        application_id,
        client_type: p.client_type.as_str().to_owned(),
        client_id: p.client_id.clone(),
        client_secret_digest: p.client_secret_digest.clone(),
        redirect_uris: Value::from(p.redirect_uris.clone()),
        scopes: Value::from(p.scopes.clone()),
        signing_alg: p.signing_alg.as_str().to_owned(),
        authorization_code_lifetime: p.lifetimes.authorization_code,
        access_token_lifetime: p.lifetimes.access_token,
        refresh_token_lifetime: p.lifetimes.refresh_token,
        subject_mode: p.subject_mode.as_str().to_owned(),
        consent_mode: p.consent_mode.as_str().to_owned(),
        require_pkce: p.require_pkce,
        post_logout_redirect_uris: Value::from(p.post_logout_redirect_uris.clone()),
        jwks: p.jwks.clone(),
        token_endpoint_auth_method: p.token_endpoint_auth_method.map(|m| m.as_str().to_owned()),
        backchannel_logout_uri: p.backchannel_logout_uri.clone(),
        backchannel_logout_session_required: p.backchannel_logout_session_required,
        scope_mappings: serde_json::to_value(&p.scope_mappings).unwrap_or_default(),
    }
}

fn provider_from_row(row: oauth2_provider::Model) -> StoreResult<OAuth2Provider> {
    const TABLE: &str = "oauth2_providers";
    Ok(OAuth2Provider {
        client_type: ClientType::parse(&row.client_type)
            .ok_or_else(|| corrupt(TABLE, "client_type", &row.client_type))?,
        client_id: row.client_id,
        client_secret_digest: row.client_secret_digest,
        redirect_uris: string_list(&row.redirect_uris, TABLE, "redirect_uris")?,
        scopes: string_list(&row.scopes, TABLE, "scopes")?,
        signing_alg: KeyAlgorithm::parse(&row.signing_alg)
            .ok_or_else(|| corrupt(TABLE, "signing_alg", &row.signing_alg))?,
        lifetimes: Lifetimes {
            authorization_code: row.authorization_code_lifetime,
            access_token: row.access_token_lifetime,
            refresh_token: row.refresh_token_lifetime,
        },
        subject_mode: SubjectMode::parse(&row.subject_mode)
            .ok_or_else(|| corrupt(TABLE, "subject_mode", &row.subject_mode))?,
        consent_mode: ConsentMode::parse(&row.consent_mode)
            .ok_or_else(|| corrupt(TABLE, "consent_mode", &row.consent_mode))?,
        require_pkce: row.require_pkce,
        post_logout_redirect_uris: string_list(
            &row.post_logout_redirect_uris,
            TABLE,
            "post_logout_redirect_uris",
        )?,
        jwks: row.jwks,
        token_endpoint_auth_method: row
            .token_endpoint_auth_method
            .map(|m| {
                TokenEndpointAuthMethod::parse(&m)
                    .ok_or_else(|| corrupt(TABLE, "token_endpoint_auth_method", &m))
            })
            .transpose()?,
        backchannel_logout_uri: row.backchannel_logout_uri,
        backchannel_logout_session_required: row.backchannel_logout_session_required,
        scope_mappings: serde_json::from_value(row.scope_mappings.clone())
            .map_err(|_| corrupt(TABLE, "scope_mappings", &row.scope_mappings.to_string()))?,
    })
}

/// A JSON column holding an array of strings.
pub(crate) fn string_list(value: &Value, table: &str, column: &str) -> StoreResult<Vec<String>> {
    let Value::Array(items) = value else {
        return Err(corrupt(table, column, &value.to_string()));
    };
    items
        .iter()
        .map(|item| {
            item.as_str()
                .map(str::to_owned)
                .ok_or_else(|| corrupt(table, column, &item.to_string()))
        })
        .collect()
}

fn uuid_list(value: &Value, table: &str, column: &str) -> StoreResult<Vec<Uuid>> {
    string_list(value, table, column)?
        .iter()
        .map(|text| Uuid::parse_str(text).map_err(|_| corrupt(table, column, text)))
        .collect()
}
