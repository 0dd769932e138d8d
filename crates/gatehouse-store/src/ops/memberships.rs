//! Direct group memberships: adding, removing and replacing a user's set, each change
//! recorded as a `membership` event.

use crate::entity::group_member;
use crate::error::db_err;
use crate::ops::{events, groups};
use gatehouse_core::store::StoreResult;
use gatehouse_core::{AuditContext, EventAction, Group, NewEvent, User};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter};
use std::collections::HashSet;

fn event(action: EventAction, group: &Group, user: &User) -> NewEvent {
    NewEvent::about_model(
        action,
        "membership",
        format!("{}:{}", group.id, user.id),
        &format!("{} in {}", user.username, group.name),
    )
    .with("group", group.name.as_str())
    .with("user", user.username.as_str())
}

/// Makes `user` a direct member of `group`; returns whether anything changed.
pub(crate) async fn add<C: ConnectionTrait>(
    conn: &C,
    group: &Group,
    user: &User,
    audit: &AuditContext,
) -> StoreResult<bool> {
    let row = group_member::Model {
        group_id: group.id.0,
        user_id: user.id.0,
    };
    let inserted = group_member::Entity::insert(row.into_active_model())
        .on_conflict(
            OnConflict::columns([group_member::Column::GroupId, group_member::Column::UserId])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await
        .map_err(db_err)?;
    if inserted == 0 {
        return Ok(false);
    }
    events::record(conn, event(EventAction::ModelCreated, group, user), audit).await?;
    Ok(true)
}

/// Ends a direct membership; returns whether anything changed.
pub(crate) async fn remove<C: ConnectionTrait>(
    conn: &C,
    group: &Group,
    user: &User,
    audit: &AuditContext,
) -> StoreResult<bool> {
    let result = group_member::Entity::delete_many()
        .filter(group_member::Column::GroupId.eq(group.id.0))
        .filter(group_member::Column::UserId.eq(user.id.0))
        .exec(conn)
        .await
        .map_err(db_err)?;
    if result.rows_affected == 0 {
        return Ok(false);
    }
    events::record(conn, event(EventAction::ModelDeleted, group, user), audit).await?;
    Ok(true)
}

/// Makes `user`'s direct memberships exactly the named groups.
pub(crate) async fn set<C: ConnectionTrait>(
    conn: &C,
    user: &User,
    group_names: &[String],
    audit: &AuditContext,
) -> StoreResult<()> {
    let wanted = groups::require_by_names(conn, group_names).await?;
    let wanted_ids: HashSet<_> = wanted.iter().map(|g| g.id).collect();
    for current in groups::direct(conn, user.id).await? {
        if !wanted_ids.contains(&current.id) {
            remove(conn, &current, user, audit).await?;
        }
    }
    for group in &wanted {
        add(conn, group, user, audit).await?;
    }
    Ok(())
}
