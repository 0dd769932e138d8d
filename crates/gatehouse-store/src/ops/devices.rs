//! MFA devices: creation, listing, the TOTP and WebAuthn replay guards, renaming and deletion. Sealed secrets
//! are stored and returned as given and never appear in events, errors or logs.

use crate::entity::device;
use crate::error::{db_err, insert_err};
use crate::ops::events;
use crate::ops::rows::corrupt;
use crate::timestamp;
use chrono::{DateTime, Utc};
use gatehouse_core::store::StoreResult;
use gatehouse_core::{
    AuditContext, Device, DeviceId, DeviceKind, EventAction, NewDevice, NewEvent, StoreError,
    UserId, ValidationError,
};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
};

/// The longest device name, in characters.
const MAX_NAME: usize = 64;

/// Device names: 1-64 printable characters without leading or trailing spaces.
fn validate_name(name: &str) -> Result<(), ValidationError> {
    let err = |message: &str| Err(ValidationError::new("name", message));
    if name.trim().is_empty() {
        return err("must not be empty");
    }
    if name.trim() != name {
        return err("must not start or end with spaces");
    }
    if name.chars().count() > MAX_NAME {
        return err("must be at most 64 characters");
    }
    if name.chars().any(char::is_control) {
        return err("must not contain control characters");
    }
    Ok(())
}

/// The audit event for `device` (id, name, kind and owner; never the secret).
fn event_about(action: EventAction, row: &device::Model) -> NewEvent {
    NewEvent::about_model(action, "device", row.id, &row.name)
        .with("kind", row.kind.as_str())
        .with("user_id", row.user_id.to_string())
}

/// Stores a device; an unknown owner is `NotFound("user")`. Records `model_created`.
pub(crate) async fn create<C: ConnectionTrait>(
    conn: &C,
    new: NewDevice,
    audit: &AuditContext,
) -> StoreResult<Device> {
    validate_name(&new.name)?;
    let owner = new.user_id;
    let row = device::Model {
        id: DeviceId::new().0,
        user_id: new.user_id.0,
        kind: new.kind.as_str().to_owned(),
        name: new.name,
        secret_sealed: new.secret_sealed,
        last_used_step: new.last_used_step,
        created_at: timestamp::now(),
        last_used_at: None,
    };
    device::Entity::insert(row.clone().into_active_model())
        .exec_without_returning(conn)
        .await
        .map_err(|err| {
            insert_err(
                err,
                || "this device already exists".into(),
                || StoreError::not_found("user", owner),
            )
        })?;
    events::record(conn, event_about(EventAction::ModelCreated, &row), audit).await?;
    from_row(row)
}

/// A user's devices, oldest first.
pub(crate) async fn of_user<C: ConnectionTrait>(
    conn: &C,
    user: UserId,
) -> StoreResult<Vec<Device>> {
    device::Entity::find()
        .filter(device::Column::UserId.eq(user.0))
        .order_by_asc(device::Column::CreatedAt)
        .order_by_asc(device::Column::Id)
        .all(conn)
        .await
        .map_err(db_err)?
        .into_iter()
        .map(from_row)
        .collect()
}

/// Looks a device up by id.
pub(crate) async fn by_id<C: ConnectionTrait>(
    conn: &C,
    id: DeviceId,
) -> StoreResult<Option<Device>> {
    device::Entity::find_by_id(id.0)
        .one(conn)
        .await
        .map_err(db_err)?
        .map(from_row)
        .transpose()
}

/// Spends TOTP time step `step` on a device: one conditional `UPDATE` that succeeds only if
/// the stored step is absent or older, so of several concurrent callers with the same step
/// exactly one sees a row updated (PostgreSQL re-checks the condition after waiting for the
/// row lock; SQLite runs writers one at a time). Returns whether the step was recorded; an
/// unknown device records nothing and returns `false`.
pub(crate) async fn record_totp_step<C: ConnectionTrait>(
    conn: &C,
    id: DeviceId,
    step: i64,
    at: DateTime<Utc>,
) -> StoreResult<bool> {
    let result = device::Entity::update_many()
        .col_expr(device::Column::LastUsedStep, Expr::value(step))
        .col_expr(
            device::Column::LastUsedAt,
            Expr::value(timestamp::stored(at)),
        )
        .filter(device::Column::Id.eq(id.0))
        .filter(
            Condition::any()
                .add(device::Column::LastUsedStep.is_null())
                .add(device::Column::LastUsedStep.lt(step)),
        )
        .exec(conn)
        .await
        .map_err(db_err)?;
    Ok(result.rows_affected == 1)
}

/// Records a WebAuthn assertion on a device: one conditional `UPDATE` that stores the new
/// signature counter and the time of use only if the device was not used since the challenge
/// was issued. A second response to the same challenge (a replay, or a concurrent request)
/// finds `last_used_at` at or after `challenge_issued_at` and updates nothing.
pub(crate) async fn record_webauthn_use<C: ConnectionTrait>(
    conn: &C,
    id: DeviceId,
    sign_count: i64,
    challenge_issued_at: DateTime<Utc>,
    at: DateTime<Utc>,
) -> StoreResult<bool> {
    let result = device::Entity::update_many()
        .col_expr(device::Column::LastUsedStep, Expr::value(sign_count))
        .col_expr(
            device::Column::LastUsedAt,
            Expr::value(timestamp::stored(at)),
        )
        .filter(device::Column::Id.eq(id.0))
        .filter(device::Column::Kind.eq(DeviceKind::Webauthn.as_str()))
        .filter(
            Condition::any()
                .add(device::Column::LastUsedAt.is_null())
                .add(device::Column::LastUsedAt.lt(timestamp::stored(challenge_issued_at))),
        )
        .exec(conn)
        .await
        .map_err(db_err)?;
    Ok(result.rows_affected == 1)
}

/// Renames a device; records `model_updated` (field `name`). The same name is a no-op.
pub(crate) async fn rename<C: ConnectionTrait>(
    conn: &C,
    id: DeviceId,
    name: &str,
    audit: &AuditContext,
) -> StoreResult<()> {
    validate_name(name)?;
    let row = find_row(conn, id).await?;
    if row.name == name {
        return Ok(());
    }
    let result = device::Entity::update_many()
        .col_expr(device::Column::Name, Expr::value(name))
        .filter(device::Column::Id.eq(id.0))
        .exec(conn)
        .await
        .map_err(db_err)?;
    if result.rows_affected == 0 {
        // Deleted between the read and the write.
        return Err(StoreError::not_found("device", id));
    }
    let updated = device::Model {
        name: name.to_owned(),
        ..row
    };
    events::record(
        conn,
        event_about(EventAction::ModelUpdated, &updated).with("fields", vec!["name"]),
        audit,
    )
    .await
}

/// Deletes a device; records `model_deleted`.
pub(crate) async fn delete<C: ConnectionTrait>(
    conn: &C,
    id: DeviceId,
    audit: &AuditContext,
) -> StoreResult<()> {
    let row = find_row(conn, id).await?;
    device::Entity::delete_by_id(id.0)
        .exec(conn)
        .await
        .map_err(db_err)?;
    events::record(conn, event_about(EventAction::ModelDeleted, &row), audit).await
}

async fn find_row<C: ConnectionTrait>(conn: &C, id: DeviceId) -> StoreResult<device::Model> {
    device::Entity::find_by_id(id.0)
        .one(conn)
        .await
        .map_err(db_err)?
        .ok_or_else(|| StoreError::not_found("device", id))
}

fn from_row(row: device::Model) -> StoreResult<Device> {
    let kind = DeviceKind::parse(&row.kind).ok_or_else(|| corrupt("devices", "kind", &row.kind))?;
    Ok(Device {
        id: DeviceId(row.id),
        user_id: UserId(row.user_id),
        kind,
        name: row.name,
        secret_sealed: row.secret_sealed,
        last_used_step: row.last_used_step,
        created_at: row.created_at,
        last_used_at: row.last_used_at,
    })
}

#[cfg(test)]
mod tests {
    use super::validate_name;

    #[test]
    fn device_names() {
        for ok in ["Phone", "YubiKey 5C", "é", &"x".repeat(64)] {
            assert!(validate_name(ok).is_ok(), "{ok:?}");
        }
        for bad in [
            "",
            "   ",
            " Phone",
            "Phone ",
            "tab\there",
            "new\nline",
            "nul\u{0}",
            &"x".repeat(65),
        ] {
            let err = validate_name(bad).expect_err(bad);
            assert_eq!(err.field, "name");
        }
    }
}
