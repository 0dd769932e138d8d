//! Changing an existing application in place (`gatehouse apply`): display fields, the access
//! list and the whole OAuth2 provider, checked by the same rules as creation. The secret
//! digest is never part of an event or an error.

use crate::entity::{application, oauth2_provider};
use crate::error::{conflict_or_db_err, db_err};
use crate::ops::applications::provider_to_row;
use crate::ops::{events, groups};
use gatehouse_core::store::StoreResult;
use gatehouse_core::{
    ApplicationPatch, AuditContext, EventAction, NewApplication, NewEvent, StoreError,
};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use serde_json::Value;

/// Applies `patch` to the application with `slug`; records `model_updated` with the field
/// names. Unknown allowed groups are `NotFound`, a taken client id is `Conflict`.
pub(crate) async fn update<C: ConnectionTrait>(
    conn: &C,
    slug: &str,
    patch: &ApplicationPatch,
    audit: &AuditContext,
) -> StoreResult<()> {
    let row = application::Entity::find()
        .filter(application::Column::Slug.eq(slug))
        .one(conn)
        .await
        .map_err(db_err)?
        .ok_or_else(|| StoreError::not_found("application", slug))?;
    if patch.is_empty() {
        return Ok(());
    }
    NewApplication {
        slug: row.slug.clone(),
        name: patch.name.clone().unwrap_or_else(|| row.name.clone()),
        launch_url: patch
            .launch_url
            .clone()
            .unwrap_or_else(|| row.launch_url.clone()),
        allowed_groups: Vec::new(),
        oauth2: patch.oauth2.clone(),
    }
    .validate()?;

    let id = row.id;
    let mut active: application::ActiveModel = row.clone().into();
    if let Some(name) = &patch.name {
        active.name = Set(name.clone());
    }
    if let Some(launch_url) = &patch.launch_url {
        active.launch_url = Set(launch_url.clone());
    }
    if let Some(names) = &patch.allowed_groups {
        let mut ids: Vec<Value> = Vec::with_capacity(names.len());
        for name in names {
            let group = groups::by_name(conn, name)
                .await?
                .ok_or_else(|| StoreError::not_found("group", name))?;
            let id = Value::from(group.id.0.to_string());
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        active.allowed_groups = Set(Value::from(ids));
    }
    if active.is_changed() {
        active.update(conn).await.map_err(db_err)?;
    }

    if let Some(provider) = &patch.oauth2 {
        let exists = oauth2_provider::Entity::find_by_id(id)
            .one(conn)
            .await
            .map_err(db_err)?
            .is_some();
        let client_id = provider.client_id.clone();
        let taken =
            |err| conflict_or_db_err(err, || format!("client_id {client_id:?} is already taken"));
        let mut provider_row: oauth2_provider::ActiveModel = provider_to_row(id, provider).into();
        if exists {
            provider_row = provider_row.reset_all();
            provider_row.update(conn).await.map_err(taken)?;
        } else {
            oauth2_provider::Entity::insert(provider_row)
                .exec_without_returning(conn)
                .await
                .map_err(taken)?;
        }
    }
    events::record(
        conn,
        NewEvent::about_model(EventAction::ModelUpdated, "application", id, slug)
            .with("fields", patch.field_names()),
        audit,
    )
    .await
}
