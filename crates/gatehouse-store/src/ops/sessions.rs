//! Server-side sessions by cookie digest, and their expiry sweep.

use crate::entity::session;
use crate::error::{db_err, insert_err};
use crate::ops::backchannel;
use crate::timestamp;
use chrono::{DateTime, Utc};
use gatehouse_core::store::StoreResult;
use gatehouse_core::{AuthenticationMethod, Session, SessionId, StoreError, UserId};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde_json::Value;

/// Stores a session.
pub(crate) async fn create<C: ConnectionTrait>(conn: &C, new: Session) -> StoreResult<()> {
    let owner = new.user_id;
    let row = session::Model {
        id: new.id.0,
        user_id: new.user_id.0,
        digest: new.digest,
        created_at: timestamp::stored(new.created_at),
        expires_at: timestamp::stored(new.expires_at),
        client_ip: new.client_ip,
        user_agent: new.user_agent,
        auth_time: Some(timestamp::stored(new.auth_time)),
        auth_methods: Value::from(
            new.auth_methods
                .iter()
                .map(|m| m.as_str())
                .collect::<Vec<_>>(),
        ),
    };
    session::Entity::insert(row.into_active_model())
        .exec_without_returning(conn)
        .await
        .map_err(|err| {
            insert_err(
                err,
                || "this session already exists".into(),
                || StoreError::not_found("user", owner),
            )
        })?;
    Ok(())
}

/// Finds a session by digest that is still valid at `now`.
pub(crate) async fn by_digest<C: ConnectionTrait>(
    conn: &C,
    digest: &str,
    now: DateTime<Utc>,
) -> StoreResult<Option<Session>> {
    Ok(session::Entity::find()
        .filter(session::Column::Digest.eq(digest))
        .filter(session::Column::ExpiresAt.gt(timestamp::stored(now)))
        .one(conn)
        .await
        .map_err(db_err)?
        .map(from_row))
}

/// A user's sessions, oldest first.
pub(crate) async fn of_user<C: ConnectionTrait>(
    conn: &C,
    user: UserId,
) -> StoreResult<Vec<Session>> {
    Ok(session::Entity::find()
        .filter(session::Column::UserId.eq(user.0))
        .order_by_asc(session::Column::CreatedAt)
        .order_by_asc(session::Column::Id)
        .all(conn)
        .await
        .map_err(db_err)?
        .into_iter()
        .map(from_row)
        .collect())
}

/// Ends a session, queuing its back-channel logouts on the same connection (the caller's
/// transaction); ending one that is already gone is not an error (logout is idempotent) and
/// queues nothing again.
pub(crate) async fn delete<C: ConnectionTrait>(conn: &C, id: SessionId) -> StoreResult<()> {
    let result = session::Entity::delete_by_id(id.0)
        .exec(conn)
        .await
        .map_err(db_err)?;
    if result.rows_affected == 1 {
        backchannel::queue_for_sessions(conn, &[id]).await?;
    }
    Ok(())
}

/// Ends every session of `user` except `keep`, with their back-channel logouts; returns how
/// many.
pub(crate) async fn delete_others<C: ConnectionTrait>(
    conn: &C,
    user: UserId,
    keep: Option<SessionId>,
) -> StoreResult<u64> {
    let mut ending = Condition::all().add(session::Column::UserId.eq(user.0));
    if let Some(keep) = keep {
        ending = ending.add(session::Column::Id.ne(keep.0));
    }
    let ids: Vec<SessionId> = session::Entity::find()
        .select_only()
        .column(session::Column::Id)
        .filter(ending.clone())
        .into_tuple::<uuid::Uuid>()
        .all(conn)
        .await
        .map_err(db_err)?
        .into_iter()
        .map(SessionId)
        .collect();
    backchannel::queue_for_sessions(conn, &ids).await?;
    let result = session::Entity::delete_many()
        .filter(ending)
        .exec(conn)
        .await
        .map_err(db_err)?;
    Ok(result.rows_affected)
}

/// Deletes sessions that expired before `now`; returns how many.
pub(crate) async fn delete_expired<C: ConnectionTrait>(
    conn: &C,
    now: DateTime<Utc>,
) -> StoreResult<u64> {
    let result = session::Entity::delete_many()
        .filter(session::Column::ExpiresAt.lt(timestamp::stored(now)))
        .exec(conn)
        .await
        .map_err(db_err)?;
    Ok(result.rows_affected)
}

fn from_row(row: session::Model) -> Session {
    Session {
        id: SessionId(row.id),
        user_id: UserId(row.user_id),
        digest: row.digest,
        created_at: row.created_at,
        expires_at: row.expires_at,
        client_ip: row.client_ip,
        user_agent: row.user_agent,
        auth_time: row.auth_time.unwrap_or(row.created_at),
        auth_methods: row
            .auth_methods
            .as_array()
            .map(|names| {
                names
                    .iter()
                    .filter_map(|n| n.as_str().and_then(AuthenticationMethod::parse))
                    .collect()
            })
            .unwrap_or_default(),
    }
}
