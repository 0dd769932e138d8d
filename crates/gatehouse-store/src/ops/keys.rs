//! Signing keys: storing sealed private keys and listing them for JWKS and signing.

use crate::entity::signing_key;
use crate::error::{conflict_or_db_err, db_err};
use crate::ops::events;
use crate::ops::rows::corrupt;
use crate::timestamp;
use gatehouse_core::store::StoreResult;
use gatehouse_core::{
    AuditContext, EventAction, KeyAlgorithm, KeyId, NewEvent, NewSigningKey, SigningKey,
};
use sea_orm::{ConnectionTrait, EntityTrait, IntoActiveModel, QueryOrder};

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
    })
}
