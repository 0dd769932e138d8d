//! Signing keys: storing sealed private keys and listing them for JWKS and signing.

use crate::entity::signing_key;
use crate::error::{conflict_or_db_err, db_err};
use crate::ops::events;
use crate::ops::rows::corrupt;
use crate::timestamp;
use chrono::{DateTime, Utc};
use gatehouse_core::store::StoreResult;
use gatehouse_core::{
    AuditContext, EventAction, KeyAlgorithm, KeyId, NewEvent, NewSigningKey, SigningKey,
};
use sea_orm::ActiveValue::Set;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder,
};

/// Stores a key; records `model_created` without any key material.
pub(crate) async fn create<C: ConnectionTrait>(
    conn: &C,
    new: NewSigningKey,
    audit: &AuditContext,
) -> StoreResult<SigningKey> {
    let row = signing_key::Model {
        id: KeyId::new().0,
        name: new.name,
        algorithm: new.algorithm.as_str().to_owned(),
        private_key_sealed: new.private_key_sealed,
        public_key_der: new.public_key_der,
        created_at: timestamp::now(),
        retired_at: None,
        verify_until: None,
    };
    signing_key::Entity::insert(row.clone().into_active_model())
        .exec_without_returning(conn)
        .await
        .map_err(|err| {
            conflict_or_db_err(err, || {
                format!("signing key name {:?} is already taken", row.name)
            })
        })?;
    let created = from_row(row)?;
    events::record(
        conn,
        NewEvent::about_model(
            EventAction::ModelCreated,
            "signing_key",
            created.id,
            &created.name,
        )
        .with("algorithm", created.algorithm.as_str()),
        audit,
    )
    .await?;
    Ok(created)
}

/// Retires every active key of `new`'s algorithm (published until `verify_until`) and
/// stores `new`, in the caller's transaction; records `model_updated` per retired key and
/// `model_created` for the new one.
pub(crate) async fn rotate<C: ConnectionTrait>(
    conn: &C,
    new: NewSigningKey,
    verify_until: DateTime<Utc>,
    audit: &AuditContext,
) -> StoreResult<(SigningKey, Vec<SigningKey>)> {
    let now = timestamp::now();
    let active = signing_key::Entity::find()
        .filter(signing_key::Column::Algorithm.eq(new.algorithm.as_str()))
        .filter(signing_key::Column::RetiredAt.is_null())
        .all(conn)
        .await
        .map_err(db_err)?;
    let mut retired = Vec::with_capacity(active.len());
    for row in active {
        let mut row = row.into_active_model();
        row.retired_at = Set(Some(now));
        row.verify_until = Set(Some(timestamp::stored(verify_until)));
        let row = row.update(conn).await.map_err(db_err)?;
        let key = from_row(row)?;
        events::record(
            conn,
            NewEvent::about_model(EventAction::ModelUpdated, "signing_key", key.id, &key.name)
                .with("fields", vec!["retired_at"])
                .with("verify_until", verify_until.to_rfc3339()),
            audit,
        )
        .await?;
        retired.push(key);
    }
    let created = create(conn, new, audit).await?;
    Ok((created, retired))
}

/// Deletes retired keys whose `verify_until` is before `now`; returns how many.
pub(crate) async fn delete_unverifiable<C: ConnectionTrait>(
    conn: &C,
    now: DateTime<Utc>,
) -> StoreResult<u64> {
    let result = signing_key::Entity::delete_many()
        .filter(signing_key::Column::RetiredAt.is_not_null())
        .filter(signing_key::Column::VerifyUntil.lt(timestamp::stored(now)))
        .exec(conn)
        .await
        .map_err(db_err)?;
    Ok(result.rows_affected)
}

/// All keys, newest first.
pub(crate) async fn list<C: ConnectionTrait>(conn: &C) -> StoreResult<Vec<SigningKey>> {
    signing_key::Entity::find()
        .order_by_desc(signing_key::Column::CreatedAt)
        .order_by_desc(signing_key::Column::Id)
        .all(conn)
        .await
        .map_err(db_err)?
        .into_iter()
        .map(from_row)
        .collect()
}

/// Looks a key up by id.
pub(crate) async fn by_id<C: ConnectionTrait>(
    conn: &C,
    id: KeyId,
) -> StoreResult<Option<SigningKey>> {
    signing_key::Entity::find_by_id(id.0)
        .one(conn)
        .await
        .map_err(db_err)?
        .map(from_row)
        .transpose()
}

fn from_row(row: signing_key::Model) -> StoreResult<SigningKey> {
    let algorithm = KeyAlgorithm::parse(&row.algorithm)
        .ok_or_else(|| corrupt("signing_keys", "algorithm", &row.algorithm))?;
    Ok(SigningKey {
        id: KeyId(row.id),
        name: row.name,
        algorithm,
        private_key_sealed: row.private_key_sealed,
        public_key_der: row.public_key_der,
        created_at: row.created_at,
        retired_at: row.retired_at,
        verify_until: row.verify_until,
    })
}
