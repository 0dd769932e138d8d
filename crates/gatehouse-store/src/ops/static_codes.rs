//! Static recovery codes: replacing a user's recovery-code device with a fresh set, spending
//! one code by deleting its row (so a code works once even under concurrent use), and
//! counting what is left. Code digests never appear in events, errors or logs.

use crate::entity::{device, static_code};
use crate::error::db_err;
use crate::ops::devices;
use crate::timestamp;
use chrono::{DateTime, Utc};
use gatehouse_core::store::StoreResult;
use gatehouse_core::{AuditContext, Device, DeviceId, DeviceKind, NewDevice, UserId};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter,
};

/// Removes the user's recovery-code devices and stores a new one with `digests`.
pub(crate) async fn replace<C: ConnectionTrait>(
    conn: &C,
    user: UserId,
    name: &str,
    digests: Vec<String>,
    audit: &AuditContext,
) -> StoreResult<Device> {
    for old in devices::of_user(conn, user).await? {
        if old.kind == DeviceKind::Static {
            devices::delete(conn, old.id, audit).await?;
        }
    }
    let created = devices::create(
        conn,
        NewDevice {
            user_id: user,
            kind: DeviceKind::Static,
            name: name.to_owned(),
            // The codes live in `static_codes`; there is no device-wide secret.
            secret_sealed: String::new(),
            last_used_step: None,
        },
        audit,
    )
    .await?;
    let mut unique = digests;
    unique.sort_unstable();
    unique.dedup();
    if !unique.is_empty() {
        let rows = unique.into_iter().map(|digest| {
            static_code::Model {
                id: uuid::Uuid::now_v7(),
                device_id: created.id.0,
                digest,
            }
            .into_active_model()
        });
        static_code::Entity::insert_many(rows)
            .exec_without_returning(conn)
            .await
            .map_err(db_err)?;
    }
    Ok(created)
}

/// Deletes the code with `digest` from the user's recovery-code devices; returns whether one
/// was deleted, and if so marks the device used.
pub(crate) async fn spend<C: ConnectionTrait>(
    conn: &C,
    user: UserId,
    digest: &str,
    at: DateTime<Utc>,
) -> StoreResult<bool> {
    let owned_devices = Query::select()
        .column(device::Column::Id)
        .from(device::Entity)
        .and_where(device::Column::UserId.eq(user.0))
        .and_where(device::Column::Kind.eq(DeviceKind::Static.as_str()))
        .to_owned();
    let Some(code) = static_code::Entity::find()
        .filter(static_code::Column::Digest.eq(digest))
        .filter(static_code::Column::DeviceId.in_subquery(owned_devices))
        .one(conn)
        .await
        .map_err(db_err)?
    else {
        return Ok(false);
    };
    // Deleting by id decides between concurrent spenders: only one sees a row deleted.
    let deleted = static_code::Entity::delete_by_id(code.id)
        .exec(conn)
        .await
        .map_err(db_err)?;
    if deleted.rows_affected != 1 {
        return Ok(false);
    }
    device::Entity::update_many()
        .col_expr(
            device::Column::LastUsedAt,
            Expr::value(timestamp::stored(at)),
        )
        .filter(device::Column::Id.eq(code.device_id))
        .exec(conn)
        .await
        .map_err(db_err)?;
    Ok(true)
}

/// How many codes a device has left.
pub(crate) async fn left<C: ConnectionTrait>(conn: &C, device: DeviceId) -> StoreResult<u64> {
    static_code::Entity::find()
        .filter(static_code::Column::DeviceId.eq(device.0))
        .count(conn)
        .await
        .map_err(db_err)
}
