//! Remembered consents: reading one by user and application, and granting (insert or
//! replace) with its audit event in the caller's transaction; the nonces of answered consent
//! forms (single use); and the expiry sweep of both.

use crate::entity::{consent, spent_nonce};
use crate::error::db_err;
use crate::ops::applications::string_list;
use crate::ops::events;
use crate::timestamp;
use chrono::{DateTime, Utc};
use gatehouse_core::store::StoreResult;
use gatehouse_core::{ApplicationId, AuditContext, Consent, EventAction, NewEvent, UserId};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
};
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

/// Records a form nonce unless already recorded; whether it was new.
pub(crate) async fn spend_nonce<C: ConnectionTrait>(
    conn: &C,
    nonce: &str,
    expires_at: DateTime<Utc>,
) -> StoreResult<bool> {
    let row = spent_nonce::Model {
        nonce: nonce.to_owned(),
        expires_at: timestamp::stored(expires_at),
    };
    let inserted = spent_nonce::Entity::insert(row.into_active_model())
        .on_conflict(
            OnConflict::column(spent_nonce::Column::Nonce)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await
        .map_err(db_err)?;
    Ok(inserted > 0)
}

/// Deletes consents and form nonces that expired before `now`; returns how many.
pub(crate) async fn delete_expired<C: ConnectionTrait>(
    conn: &C,
    now: DateTime<Utc>,
) -> StoreResult<u64> {
    let stored = timestamp::stored(now);
    let consents = consent::Entity::delete_many()
        .filter(consent::Column::ExpiresAt.lt(stored))
        .exec(conn)
        .await
        .map_err(db_err)?;
    let nonces = spent_nonce::Entity::delete_many()
        .filter(spent_nonce::Column::ExpiresAt.lt(stored))
        .exec(conn)
        .await
        .map_err(db_err)?;
    Ok(consents.rows_affected + nonces.rows_affected)
}
