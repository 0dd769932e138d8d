//! Remembered consents: reading one by user and application, and granting (insert or
//! replace) with its audit event in the caller's transaction.

use crate::entity::consent;
use crate::error::db_err;
use crate::ops::applications::string_list;
use crate::ops::events;
use crate::timestamp;
use gatehouse_core::store::StoreResult;
use gatehouse_core::{ApplicationId, AuditContext, Consent, EventAction, NewEvent, UserId};
use sea_orm::{ActiveValue, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde_json::Value;

/// The consent of `user` for `application`.
pub(crate) async fn find<C: ConnectionTrait>(
    conn: &C,
    user: UserId,
    application: ApplicationId,
) -> StoreResult<Option<Consent>> {
    consent::Entity::find()
        .filter(consent::Column::UserId.eq(user.0))
        .filter(consent::Column::ApplicationId.eq(application.0))
        .one(conn)
        .await
        .map_err(db_err)?
        .map(from_row)
        .transpose()
}

/// Stores `consent` in place of any earlier one, with its event.
pub(crate) async fn grant<C: ConnectionTrait>(
    conn: &C,
    consent: Consent,
    app_slug: &str,
    audit: &AuditContext,
) -> StoreResult<()> {
    let existing = consent::Entity::find()
        .filter(consent::Column::UserId.eq(consent.user_id.0))
        .filter(consent::Column::ApplicationId.eq(consent.application_id.0))
        .one(conn)
        .await
        .map_err(db_err)?;
    let scopes = Value::from(consent.scopes.clone());
    let granted_at = timestamp::stored(consent.granted_at);
    let expires_at = consent.expires_at.map(timestamp::stored);
    let action = match existing {
        Some(row) => {
            let update = consent::ActiveModel {
                id: ActiveValue::Unchanged(row.id),
                scopes: ActiveValue::Set(scopes),
                granted_at: ActiveValue::Set(granted_at),
                expires_at: ActiveValue::Set(expires_at),
                ..Default::default()
            };
            consent::Entity::update(update)
                .exec(conn)
                .await
                .map_err(db_err)?;
            EventAction::ModelUpdated
        }
        None => {
            let row = consent::ActiveModel {
                id: ActiveValue::Set(uuid::Uuid::now_v7()),
                user_id: ActiveValue::Set(consent.user_id.0),
                application_id: ActiveValue::Set(consent.application_id.0),
                scopes: ActiveValue::Set(scopes),
                granted_at: ActiveValue::Set(granted_at),
                expires_at: ActiveValue::Set(expires_at),
            };
            consent::Entity::insert(row)
                .exec_without_returning(conn)
                .await
                .map_err(|err| {
                    crate::error::conflict_or_db_err(err, || {
                        "a consent for this user and application was stored concurrently".into()
                    })
                })?;
            EventAction::ModelCreated
        }
    };
    let event = NewEvent::about_model(action, "consent", consent.application_id, app_slug)
        .with("user_id", consent.user_id.to_string())
        .with("application", app_slug)
        .with("scopes", consent.scopes.join(" "));
    events::record(conn, event, audit).await
}

fn from_row(row: consent::Model) -> StoreResult<Consent> {
    let scopes = string_list(&row.scopes, "consents", "scopes")?;
    Ok(Consent {
        user_id: UserId(row.user_id),
        application_id: ApplicationId(row.application_id),
        scopes,
        granted_at: row.granted_at,
        expires_at: row.expires_at,
    })
}
