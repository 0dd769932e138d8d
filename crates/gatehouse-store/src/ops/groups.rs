//! Groups: creation under a named parent, lookups, search, updates that refuse cycles,
//! deletion that moves children up, and the hierarchy walks behind effective membership.

use crate::entity::{group, group_member, user};
use crate::error::{conflict_or_db_err, db_err};
use crate::ops::events;
use crate::ops::rows::{direction, json_object, page_bounds};
use crate::search;
use crate::timestamp;
use gatehouse_core::group::parent_change_creates_cycle;
use gatehouse_core::store::StoreResult;
use gatehouse_core::{
    AuditContext, EventAction, Group, GroupId, GroupPatch, ListQuery, NewEvent, NewGroup, Page,
    StoreError, UserId, ValidationError, validate,
};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel,
    JoinType, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, RelationDef,
};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

fn name_taken(name: &str) -> String {
    format!("group name {name:?} is already taken")
}

/// Creates a group under its (named) parent.
pub(crate) async fn create<C: ConnectionTrait>(
    conn: &C,
    new: NewGroup,
    audit: &AuditContext,
) -> StoreResult<Group> {
    let new = new.validate()?;
    let parent_id = match &new.parent {
        Some(parent) => Some(parent_by_name(conn, parent).await?.id),
        None => None,
    };
    let row = group::Model {
        id: GroupId::new().0,
        name: new.name,
        parent_id: parent_id.map(|id| id.0),
        is_superuser: new.is_superuser,
        attributes: Value::Object(new.attributes),
        created_at: timestamp::now(),
    };
    group::Entity::insert(row.clone().into_active_model())
        .exec_without_returning(conn)
        .await
        .map_err(|err| conflict_or_db_err(err, || name_taken(&row.name)))?;
    let created = from_row(row)?;
    let mut event = NewEvent::about_model(
        EventAction::ModelCreated,
        "group",
        created.id,
        &created.name,
    );
    if let Some(parent) = &new.parent {
        event = event.with("parent", parent.as_str());
    }
    events::record(conn, event, audit).await?;
    Ok(created)
}

/// The group a `parent` field names; a missing one is a validation error on `parent`.
async fn parent_by_name<C: ConnectionTrait>(conn: &C, name: &str) -> StoreResult<Group> {
    by_name(conn, name).await?.ok_or_else(|| {
        ValidationError::new("parent", format!("there is no group named {name:?}")).into()
    })
}

/// Looks a group up by id.
pub(crate) async fn by_id<C: ConnectionTrait>(conn: &C, id: GroupId) -> StoreResult<Option<Group>> {
    group::Entity::find_by_id(id.0)
        .one(conn)
        .await
        .map_err(db_err)?
        .map(from_row)
        .transpose()
}

/// Looks a group up by id; a missing group is `NotFound`.
pub(crate) async fn require_by_id<C: ConnectionTrait>(conn: &C, id: GroupId) -> StoreResult<Group> {
    by_id(conn, id)
        .await?
        .ok_or_else(|| StoreError::not_found("group", id))
}

/// Looks a group up by exact name.
pub(crate) async fn by_name<C: ConnectionTrait>(
    conn: &C,
    name: &str,
) -> StoreResult<Option<Group>> {
    group::Entity::find()
        .filter(group::Column::Name.eq(name))
        .one(conn)
        .await
        .map_err(db_err)?
        .map(from_row)
        .transpose()
}

/// Looks a group up by exact name; a missing group is `NotFound` naming it.
pub(crate) async fn require_by_name<C: ConnectionTrait>(
    conn: &C,
    name: &str,
) -> StoreResult<Group> {
    by_name(conn, name)
        .await?
        .ok_or_else(|| StoreError::not_found("group", name))
}

/// The groups with these names, in the order given, without repeats; the first missing one
/// is `NotFound`.
pub(crate) async fn require_by_names<C: ConnectionTrait>(
    conn: &C,
    names: &[String],
) -> StoreResult<Vec<Group>> {
    let mut seen = HashSet::new();
    let mut found = Vec::new();
    for name in names {
        if seen.insert(name.as_str()) {
            found.push(require_by_name(conn, name).await?);
        }
    }
    Ok(found)
}

/// A page of groups ordered by name, optionally filtered by a case-insensitive substring.
pub(crate) async fn list<C: ConnectionTrait>(
    conn: &C,
    query: &ListQuery,
) -> StoreResult<Page<Group>> {
    let mut select = group::Entity::find();
    if let Some(pattern) = search::contains_pattern(query.search.as_deref()) {
        select = select.filter(search::lower_like(group::Column::Name, &pattern));
    }
    let total = select.clone().count(conn).await.map_err(db_err)?;
    let (limit, offset) = page_bounds(query.clamped_limit(), query.offset);
    let rows = select
        .order_by(group::Column::Name, direction(query.descending))
        .limit(limit)
        .offset(offset)
        .all(conn)
        .await
        .map_err(db_err)?;
    let items = rows.into_iter().map(from_row).collect::<StoreResult<_>>()?;
    Ok(Page { items, total })
}

/// Applies a patch; a new parent that is missing, the group itself or one of its descendants
/// is `Invalid` on `parent`.
pub(crate) async fn update<C: ConnectionTrait>(
    conn: &C,
    id: GroupId,
    patch: GroupPatch,
    audit: &AuditContext,
) -> StoreResult<Group> {
    if let Some(name) = &patch.name {
        validate::group_name(name)?;
    }
    let row = group::Entity::find_by_id(id.0)
        .one(conn)
        .await
        .map_err(db_err)?
        .ok_or_else(|| StoreError::not_found("group", id))?;
    if patch.is_empty() {
        return from_row(row);
    }
    let fields = patch.field_names();
    let mut active = row.into_active_model();
    if let Some(parent) = &patch.parent {
        let parent_id = match parent {
            Some(parent_name) => {
                validate::group_name(parent_name)
                    .map_err(|e| ValidationError::new("parent", e.message))?;
                let parent = parent_by_name(conn, parent_name).await?;
                let parents = parent_map(conn).await?;
                let lookup = |g: GroupId| parents.get(&g.0).copied().flatten().map(GroupId);
                if parent_change_creates_cycle(id, parent.id, lookup) {
                    return Err(ValidationError::new(
                        "parent",
                        format!("{parent_name:?} is this group or one of its descendants; that would make a cycle"),
                    )
                    .into());
                }
                Some(parent.id.0)
            }
            None => None,
        };
        active.parent_id = Set(parent_id);
    }
    if let Some(name) = patch.name {
        active.name = Set(name);
    }
    if let Some(is_superuser) = patch.is_superuser {
        active.is_superuser = Set(is_superuser);
    }
    if let Some(attributes) = patch.attributes {
        active.attributes = Set(Value::Object(attributes));
    }
    let new_name = match &active.name {
        Set(name) => name.clone(),
        _ => String::new(),
    };
    let updated = active
        .update(conn)
        .await
        .map_err(|err| conflict_or_db_err(err, || name_taken(&new_name)))?;
    let updated = from_row(updated)?;
    events::record(
        conn,
        NewEvent::about_model(
            EventAction::ModelUpdated,
            "group",
            updated.id,
            &updated.name,
        )
        .with("fields", fields),
        audit,
    )
    .await?;
    Ok(updated)
}

/// Deletes a group: its children move up to its parent, its memberships go with it.
pub(crate) async fn delete<C: ConnectionTrait>(
    conn: &C,
    id: GroupId,
    audit: &AuditContext,
) -> StoreResult<()> {
    let deleted = require_by_id(conn, id).await?;
    group::Entity::update_many()
        .col_expr(
            group::Column::ParentId,
            Expr::value(deleted.parent_id.map(|p| p.0)),
        )
        .filter(group::Column::ParentId.eq(id.0))
        .exec(conn)
        .await
        .map_err(db_err)?;
    group::Entity::delete_by_id(id.0)
        .exec(conn)
        .await
        .map_err(db_err)?;
    events::record(
        conn,
        NewEvent::about_model(EventAction::ModelDeleted, "group", id, &deleted.name),
        audit,
    )
    .await
}

/// The ids of the groups a user is directly in.
pub(crate) async fn direct_group_ids<C: ConnectionTrait>(
    conn: &C,
    user: UserId,
) -> StoreResult<Vec<Uuid>> {
    group_member::Entity::find()
        .select_only()
        .column(group_member::Column::GroupId)
        .filter(group_member::Column::UserId.eq(user.0))
        .into_tuple()
        .all(conn)
        .await
        .map_err(db_err)
}

/// The groups a user is directly in, ordered by name.
pub(crate) async fn direct<C: ConnectionTrait>(conn: &C, user: UserId) -> StoreResult<Vec<Group>> {
    let ids = direct_group_ids(conn, user).await?;
    by_ids(conn, ids).await
}

/// The names of the groups each of `users` is directly in, ordered by name, in one query
/// (a list page shows them for every user without a query per row). Users in no group are
/// absent from the map.
pub(crate) async fn direct_names_of<C: ConnectionTrait>(
    conn: &C,
    users: &[UserId],
) -> StoreResult<HashMap<UserId, Vec<String>>> {
    let mut names: HashMap<UserId, Vec<String>> = HashMap::new();
    if users.is_empty() {
        return Ok(names);
    }
    let membership: RelationDef = group_member::Entity::belongs_to(group::Entity)
        .from(group_member::Column::GroupId)
        .to(group::Column::Id)
        .into();
    let rows: Vec<(Uuid, String)> = group_member::Entity::find()
        .select_only()
        .column(group_member::Column::UserId)
        .column(group::Column::Name)
        .join(JoinType::InnerJoin, membership)
        .filter(group_member::Column::UserId.is_in(users.iter().map(|u| u.0)))
        .order_by_asc(group::Column::Name)
        .into_tuple()
        .all(conn)
        .await
        .map_err(db_err)?;
    for (user, name) in rows {
        names.entry(UserId(user)).or_default().push(name);
    }
    Ok(names)
}

/// The groups a user is in directly or through a descendant, ordered by name.
pub(crate) async fn effective<C: ConnectionTrait>(
    conn: &C,
    user: UserId,
) -> StoreResult<Vec<Group>> {
    let direct = direct_group_ids(conn, user).await?;
    if direct.is_empty() {
        return Ok(Vec::new());
    }
    let parents = parent_map(conn).await?;
    let mut all = HashSet::new();
    for start in direct {
        let mut cursor = Some(start);
        // `insert` returning false also stops the walk on a (corrupt) cycle.
        while let Some(current) = cursor {
            if !all.insert(current) {
                break;
            }
            cursor = parents.get(&current).copied().flatten();
        }
    }
    by_ids(conn, all.into_iter().collect()).await
}

/// Whether any active user is effectively in a superuser group, i.e. directly in a superuser
/// group or in one of its descendants.
pub(crate) async fn superuser_exists<C: ConnectionTrait>(conn: &C) -> StoreResult<bool> {
    let rows: Vec<(Uuid, Option<Uuid>, bool)> = group::Entity::find()
        .select_only()
        .column(group::Column::Id)
        .column(group::Column::ParentId)
        .column(group::Column::IsSuperuser)
        .into_tuple()
        .all(conn)
        .await
        .map_err(db_err)?;
    let parents: HashMap<Uuid, Option<Uuid>> =
        rows.iter().map(|(id, parent, _)| (*id, *parent)).collect();
    let superuser: HashSet<Uuid> = rows
        .iter()
        .filter(|(_, _, s)| *s)
        .map(|(id, _, _)| *id)
        .collect();
    if superuser.is_empty() {
        return Ok(false);
    }
    let grants: Vec<Uuid> = parents
        .keys()
        .copied()
        .filter(|start| {
            let mut seen = HashSet::new();
            let mut cursor = Some(*start);
            while let Some(current) = cursor {
                if superuser.contains(&current) {
                    return true;
                }
                if !seen.insert(current) {
                    return false;
                }
                cursor = parents.get(&current).copied().flatten();
            }
            false
        })
        .collect();
    if grants.is_empty() {
        return Ok(false);
    }
    let active_users = Query::select()
        .column(user::Column::Id)
        .from(user::Entity)
        .and_where(user::Column::Active.eq(true))
        .to_owned();
    let found = group_member::Entity::find()
        .filter(group_member::Column::GroupId.is_in(grants))
        .filter(group_member::Column::UserId.in_subquery(active_users))
        .one(conn)
        .await
        .map_err(db_err)?;
    Ok(found.is_some())
}

/// Every group's parent, for walking the hierarchy in memory (groups are few).
async fn parent_map<C: ConnectionTrait>(conn: &C) -> StoreResult<HashMap<Uuid, Option<Uuid>>> {
    let rows: Vec<(Uuid, Option<Uuid>)> = group::Entity::find()
        .select_only()
        .column(group::Column::Id)
        .column(group::Column::ParentId)
        .into_tuple()
        .all(conn)
        .await
        .map_err(db_err)?;
    Ok(rows.into_iter().collect())
}

/// Groups with the given ids, ordered by name.
async fn by_ids<C: ConnectionTrait>(conn: &C, ids: Vec<Uuid>) -> StoreResult<Vec<Group>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    group::Entity::find()
        .filter(group::Column::Id.is_in(ids))
        .order_by_asc(group::Column::Name)
        .all(conn)
        .await
        .map_err(db_err)?
        .into_iter()
        .map(from_row)
        .collect()
}

/// Converts a row into a [`Group`].
pub(crate) fn from_row(row: group::Model) -> StoreResult<Group> {
    Ok(Group {
        id: GroupId(row.id),
        name: row.name,
        parent_id: row.parent_id.map(GroupId),
        is_superuser: row.is_superuser,
        attributes: json_object(row.attributes, "groups", "attributes")?,
        created_at: row.created_at,
    })
}
