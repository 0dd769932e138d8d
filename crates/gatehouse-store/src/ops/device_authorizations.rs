//! RFC 8628 device authorizations by keyed digest: creation with its event, lookups, the
//! compare-and-set answer and redemption (tokens and event in the same transaction), poll
//! bookkeeping and the expiry sweep. Digests never appear in events or errors.

use crate::entity::device_authorization as row;
use crate::error::{conflict_or_db_err, db_err};
use crate::ops::applications::string_list;
use crate::ops::rows::{corrupt, json_object};
use crate::ops::{events, oauth2_tokens};
use crate::timestamp;
use chrono::{DateTime, Utc};
use gatehouse_core::store::StoreResult;
use gatehouse_core::{
    ApplicationId, AuditContext, DeviceAuthorization, DeviceAuthorizationStatus as Status,
    DeviceDecision, NewDeviceAuthorization, NewEvent, NewOAuth2Token, UserId,
};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter};
use serde_json::Value;
use uuid::Uuid;

/// Stores a pending authorization and its event.
pub(crate) async fn create<C: ConnectionTrait>(
    conn: &C,
    new: NewDeviceAuthorization,
    event: NewEvent,
    audit: &AuditContext,
) -> StoreResult<DeviceAuthorization> {
    let model = row::Model {
        id: Uuid::now_v7(),
        application_id: new.application_id.0,
        device_code_digest: new.device_code_digest,
        user_code_digest: new.user_code_digest,
        scopes: Value::from(new.scopes),
        status: Status::Pending.as_str().to_owned(),
        user_id: None,
        data: Value::Object(serde_json::Map::new()),
        interval_secs: new.interval_secs,
        last_polled_at: None,
        expires_at: timestamp::stored(new.expires_at),
        created_at: timestamp::now(),
    };
    row::Entity::insert(model.clone().into_active_model())
        .exec_without_returning(conn)
        .await
        .map_err(|err| conflict_or_db_err(err, || "this device or user code is in use".into()))?;
    events::record(conn, event, audit).await?;
    from_row(model)
}

/// Finds an authorization by device code digest.
pub(crate) async fn by_device_code<C: ConnectionTrait>(
    conn: &C,
    digest: &str,
) -> StoreResult<Option<DeviceAuthorization>> {
    row::Entity::find()
        .filter(row::Column::DeviceCodeDigest.eq(digest))
        .one(conn)
        .await
        .map_err(db_err)?
        .map(from_row)
        .transpose()
}

/// Finds a pending, unexpired authorization by user code digest.
pub(crate) async fn pending_by_user_code<C: ConnectionTrait>(
    conn: &C,
    digest: &str,
    now: DateTime<Utc>,
) -> StoreResult<Option<DeviceAuthorization>> {
    row::Entity::find()
        .filter(row::Column::UserCodeDigest.eq(digest))
        .filter(row::Column::Status.eq(Status::Pending.as_str()))
        .filter(row::Column::ExpiresAt.gt(timestamp::stored(now)))
        .one(conn)
        .await
        .map_err(db_err)?
        .map(from_row)
        .transpose()
}

/// Records the answer if still pending and unexpired (one conditional `UPDATE`), then the
/// event. Returns whether this call answered it.
pub(crate) async fn decide<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    decision: DeviceDecision,
    now: DateTime<Utc>,
    event: NewEvent,
    audit: &AuditContext,
) -> StoreResult<bool> {
    let (status, user, data) = match decision {
        DeviceDecision::Approve { user, data } => (Status::Approved, user, data),
        DeviceDecision::Deny { user } => (Status::Denied, user, serde_json::Map::new()),
    };
    let result = row::Entity::update_many()
        .col_expr(row::Column::Status, Expr::value(status.as_str()))
        .col_expr(row::Column::UserId, Expr::value(Some(user.0)))
        .col_expr(row::Column::Data, Expr::value(Value::Object(data)))
        .filter(row::Column::Id.eq(id))
        .filter(row::Column::Status.eq(Status::Pending.as_str()))
        .filter(row::Column::ExpiresAt.gt(timestamp::stored(now)))
        .exec(conn)
        .await
        .map_err(db_err)?;
    if result.rows_affected != 1 {
        return Ok(false);
    }
    events::record(conn, event, audit).await?;
    Ok(true)
}

/// Records a poll and the interval now in force.
pub(crate) async fn record_poll<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    at: DateTime<Utc>,
    interval_secs: i64,
) -> StoreResult<()> {
    row::Entity::update_many()
        .col_expr(
            row::Column::LastPolledAt,
            Expr::value(Some(timestamp::stored(at))),
        )
        .col_expr(row::Column::IntervalSecs, Expr::value(interval_secs))
        .filter(row::Column::Id.eq(id))
        .exec(conn)
        .await
        .map_err(db_err)?;
    Ok(())
}

/// Marks an approved authorization redeemed (one conditional `UPDATE`), then stores the
/// tokens and the event. Returns whether this call redeemed it.
pub(crate) async fn redeem<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    tokens: Vec<NewOAuth2Token>,
    event: NewEvent,
    audit: &AuditContext,
) -> StoreResult<bool> {
    let result = row::Entity::update_many()
        .col_expr(row::Column::Status, Expr::value(Status::Redeemed.as_str()))
        .filter(row::Column::Id.eq(id))
        .filter(row::Column::Status.eq(Status::Approved.as_str()))
        .exec(conn)
        .await
        .map_err(db_err)?;
    if result.rows_affected != 1 {
        return Ok(false);
    }
    oauth2_tokens::issue(conn, tokens, event, audit).await?;
    Ok(true)
}

/// Deletes authorizations that expired before `now`.
pub(crate) async fn delete_expired<C: ConnectionTrait>(
    conn: &C,
    now: DateTime<Utc>,
) -> StoreResult<u64> {
    let result = row::Entity::delete_many()
        .filter(row::Column::ExpiresAt.lt(timestamp::stored(now)))
        .exec(conn)
        .await
        .map_err(db_err)?;
    Ok(result.rows_affected)
}

fn from_row(model: row::Model) -> StoreResult<DeviceAuthorization> {
    const TABLE: &str = "device_authorizations";
    Ok(DeviceAuthorization {
        id: model.id,
        application_id: ApplicationId(model.application_id),
        scopes: string_list(&model.scopes, TABLE, "scopes")?,
        status: Status::parse(&model.status)
            .ok_or_else(|| corrupt(TABLE, "status", &model.status))?,
        user_id: model.user_id.map(UserId),
        data: json_object(model.data, TABLE, "data")?,
        interval_secs: model.interval_secs,
        last_polled_at: model.last_polled_at,
        expires_at: model.expires_at,
        created_at: model.created_at,
    })
}
