//! Single use of `private_key_jwt` client assertions (RFC 7523 §3 item 7): the `jti` of each
//! accepted assertion is inserted under its client id; the primary key makes a second insert
//! fail on both backends, so of two concurrent uses exactly one wins. Rows live until the
//! assertion expires and are then swept.

use crate::entity::oauth2_client_assertion;
use crate::error::db_err;
use crate::timestamp;
use chrono::{DateTime, Utc};
use gatehouse_core::store::StoreResult;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, SqlErr};

/// Records `jti` for `client_id` until `expires_at`; `false` when it was already recorded
/// and has not expired (a replay).
pub(crate) async fn record<C: ConnectionTrait>(
    conn: &C,
    client_id: &str,
    jti: &str,
    expires_at: DateTime<Utc>,
) -> StoreResult<bool> {
    // A row left over from an expired assertion with the same jti does not make a replay.
    oauth2_client_assertion::Entity::delete_many()
        .filter(oauth2_client_assertion::Column::ClientId.eq(client_id))
        .filter(oauth2_client_assertion::Column::Jti.eq(jti))
        .filter(oauth2_client_assertion::Column::ExpiresAt.lt(timestamp::now()))
        .exec(conn)
        .await
        .map_err(db_err)?;
    let row = oauth2_client_assertion::Model {
        client_id: client_id.to_owned(),
        jti: jti.to_owned(),
        expires_at: timestamp::stored(expires_at),
    };
    match oauth2_client_assertion::Entity::insert(row.into_active_model())
        .exec_without_returning(conn)
        .await
    {
        Ok(_) => Ok(true),
        Err(err) if matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
            Ok(false)
        }
        Err(err) => Err(db_err(err)),
    }
}

/// Deletes the records of assertions that expired before `now`; returns how many.
pub(crate) async fn delete_expired<C: ConnectionTrait>(
    conn: &C,
    now: DateTime<Utc>,
) -> StoreResult<u64> {
    let result = oauth2_client_assertion::Entity::delete_many()
        .filter(oauth2_client_assertion::Column::ExpiresAt.lt(timestamp::stored(now)))
        .exec(conn)
        .await
        .map_err(db_err)?;
    Ok(result.rows_affected)
}
