//! Users: creation (with direct memberships), lookups, search, updates, password hashes and
//! deletion, each recording its audit event on the connection it is given.
//!
//! Usernames are stored exactly as given and looked up exactly, but creation refuses a name
//! that differs from an existing one only in case (`Alice` when `alice` exists): people and
//! many applications treat those as the same account. A unique index on `LOWER(username)`
//! backs the check so concurrent creates cannot slip past it. (`LOWER` folds ASCII letters on
//! SQLite and all letters on PostgreSQL.)

use crate::entity::{group_member, user};
use crate::error::{conflict_or_db_err, db_err};
use crate::ops::rows::{corrupt, direction, json_object, page_bounds};
use crate::ops::{events, groups, memberships};
use crate::search;
use crate::timestamp;
use chrono::{DateTime, Utc};
use gatehouse_core::store::StoreResult;
use gatehouse_core::{
    AuditContext, EventAction, GroupId, ListQuery, NewEvent, NewUser, Page, StoreError, User,
    UserId, UserPatch, UserType,
};
use sea_orm::ExprTrait;
use sea_orm::sea_query::{Expr, Func, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::Value;

fn username_taken(username: &str) -> StoreError {
    StoreError::Conflict(format!("username {username:?} is already taken"))
}

/// Creates a user and its direct memberships.
pub(crate) async fn create<C: ConnectionTrait>(
    conn: &C,
    new: NewUser,
    audit: &AuditContext,
) -> StoreResult<User> {
    let new = new.validate()?;
    let clash = user::Entity::find()
        .filter(
            Expr::expr(Func::lower(Expr::col(user::Column::Username)))
                .eq(Expr::expr(Func::lower(Expr::val(new.username.as_str())))),
        )
        .one(conn)
        .await
        .map_err(db_err)?;
    if clash.is_some() {
        return Err(username_taken(&new.username));
    }
    let member_of = groups::require_by_names(conn, &new.groups).await?;
    let now = timestamp::now();
    let search_text = search::user_search_text(&new.username, &new.name, new.email.as_deref());
    let row = user::Model {
        id: UserId::new().0,
        username: new.username,
        name: new.name,
        email: new.email,
        email_verified: new.email_verified,
        active: new.active,
        user_type: new.user_type.as_str().to_owned(),
        password_hash: new.password_hash,
        attributes: Value::Object(new.attributes),
        created_at: now,
        updated_at: now,
        last_login: None,
        search_text,
    };
    user::Entity::insert(row.clone().into_active_model())
        .exec_without_returning(conn)
        .await
        .map_err(|err| conflict_or_db_err(err, || username_taken(&row.username).to_string()))?;
    let created = from_row(row)?;
    events::record(
        conn,
        NewEvent::about_model(
            EventAction::ModelCreated,
            "user",
            created.id,
            &created.username,
        ),
        audit,
    )
    .await?;
    for group in &member_of {
        memberships::add(conn, group, &created, audit).await?;
    }
    Ok(created)
}

/// Looks a user up by id.
pub(crate) async fn by_id<C: ConnectionTrait>(conn: &C, id: UserId) -> StoreResult<Option<User>> {
    user::Entity::find_by_id(id.0)
        .one(conn)
        .await
        .map_err(db_err)?
        .map(from_row)
        .transpose()
}

/// Looks a user up by id; a missing user is `NotFound`.
pub(crate) async fn require_by_id<C: ConnectionTrait>(conn: &C, id: UserId) -> StoreResult<User> {
    by_id(conn, id)
        .await?
        .ok_or_else(|| StoreError::not_found("user", id))
}

/// Looks a user up by exact username.
pub(crate) async fn by_username<C: ConnectionTrait>(
    conn: &C,
    username: &str,
) -> StoreResult<Option<User>> {
    user::Entity::find()
        .filter(user::Column::Username.eq(username))
        .one(conn)
        .await
        .map_err(db_err)?
        .map(from_row)
        .transpose()
}

/// The one user whose email matches `email` ignoring case; `None` when none or several do.
pub(crate) async fn by_email<C: ConnectionTrait>(
    conn: &C,
    email: &str,
) -> StoreResult<Option<User>> {
    let mut rows = user::Entity::find()
        .filter(
            Expr::expr(Func::lower(Expr::col(user::Column::Email)))
                .eq(Expr::expr(Func::lower(Expr::val(email)))),
        )
        .limit(2)
        .all(conn)
        .await
        .map_err(db_err)?;
    if rows.len() != 1 {
        return Ok(None);
    }
    rows.pop().map(from_row).transpose()
}

/// Looks a user up by exact username; a missing user is `NotFound` naming it.
pub(crate) async fn require_by_username<C: ConnectionTrait>(
    conn: &C,
    username: &str,
) -> StoreResult<User> {
    by_username(conn, username)
        .await?
        .ok_or_else(|| StoreError::not_found("user", username))
}

/// A page of users ordered by username, optionally filtered by a case-insensitive substring
/// of username, name or email.
///
/// Written for 100,000 users and more on both backends: the page's usernames come from the
/// `(username, search_text)` index alone (a deep page skips index entries, not rows; a search
/// reads that narrow index in username order and stops when the page is full), then only the
/// page's rows are read. The total needs no second scan when the page is not full (the last
/// page, or a rare search term): it is then the offset plus the rows found.
///
/// `members_of` narrows the list to a group's direct members (a subquery, not a list of bound
/// ids: a group of 40,000 members would pass the bound-parameter limits of SQLite and
/// PostgreSQL), so a group's member list pages and searches the same way.
pub(crate) async fn list<C: ConnectionTrait>(
    conn: &C,
    query: &ListQuery,
    members_of: Option<GroupId>,
) -> StoreResult<Page<User>> {
    let mut matching = user::Entity::find();
    if let Some(group) = members_of {
        let member_ids = Query::select()
            .column(group_member::Column::UserId)
            .from(group_member::Entity)
            .and_where(group_member::Column::GroupId.eq(group.0))
            .to_owned();
        matching = matching.filter(user::Column::Id.in_subquery(member_ids));
    }
    if let Some(pattern) = search::contains_pattern(query.search.as_deref()) {
        matching = matching.filter(search::like(user::Column::SearchText, &pattern));
    }
    let (limit, offset) = page_bounds(query.clamped_limit(), query.offset);
    let order = direction(query.descending);
    let usernames: Vec<String> = matching
        .clone()
        .select_only()
        .column(user::Column::Username)
        .order_by(user::Column::Username, order.clone())
        .limit(limit)
        .offset(offset)
        .into_tuple()
        .all(conn)
        .await
        .map_err(db_err)?;
    let found = usernames.len() as u64;
    let total = if found < limit && (found > 0 || offset == 0) {
        offset + found
    } else {
        matching.count(conn).await.map_err(db_err)?
    };
    if usernames.is_empty() {
        return Ok(Page {
            items: Vec::new(),
            total,
        });
    }
    let rows = user::Entity::find()
        .filter(user::Column::Username.is_in(usernames))
        .order_by(user::Column::Username, order)
        .all(conn)
        .await
        .map_err(db_err)?;
    let items = rows.into_iter().map(from_row).collect::<StoreResult<_>>()?;
    Ok(Page { items, total })
}

/// Applies a patch; records `model_updated` with the names of the changed fields.
pub(crate) async fn update<C: ConnectionTrait>(
    conn: &C,
    id: UserId,
    patch: UserPatch,
    audit: &AuditContext,
) -> StoreResult<User> {
    let patch = patch.validate()?;
    let row = find_row(conn, id).await?;
    if patch.is_empty() {
        return from_row(row);
    }
    let fields = patch.field_names();
    let search_text = (patch.name.is_some() || patch.email.is_some()).then(|| {
        let name = patch.name.as_deref().unwrap_or(&row.name);
        let email = match &patch.email {
            Some(email) => email.as_deref(),
            None => row.email.as_deref(),
        };
        search::user_search_text(&row.username, name, email)
    });
    let mut active = row.into_active_model();
    if let Some(search_text) = search_text {
        active.search_text = Set(search_text);
    }
    if let Some(name) = patch.name {
        active.name = Set(name);
    }
    if let Some(email) = patch.email {
        active.email = Set(email);
    }
    if let Some(verified) = patch.email_verified {
        active.email_verified = Set(verified);
    }
    if let Some(is_active) = patch.active {
        active.active = Set(is_active);
    }
    if let Some(user_type) = patch.user_type {
        active.user_type = Set(user_type.as_str().to_owned());
    }
    if let Some(attributes) = patch.attributes {
        active.attributes = Set(Value::Object(attributes));
    }
    active.updated_at = Set(timestamp::now());
    let updated = from_row(active.update(conn).await.map_err(db_err)?)?;
    events::record(
        conn,
        NewEvent::about_model(
            EventAction::ModelUpdated,
            "user",
            updated.id,
            &updated.username,
        )
        .with("fields", fields),
        audit,
    )
    .await?;
    Ok(updated)
}

/// Replaces or removes the password hash; records `password_set` (never the hash).
pub(crate) async fn set_password_hash<C: ConnectionTrait>(
    conn: &C,
    id: UserId,
    hash: Option<String>,
    audit: &AuditContext,
) -> StoreResult<()> {
    let row = find_row(conn, id).await?;
    let username = row.username.clone();
    let removed = hash.is_none();
    let mut active = row.into_active_model();
    active.password_hash = Set(hash);
    active.updated_at = Set(timestamp::now());
    active.update(conn).await.map_err(db_err)?;
    events::record(
        conn,
        NewEvent::about_model(EventAction::PasswordSet, "user", id, &username)
            .with("removed", removed),
        audit,
    )
    .await
}

/// Swaps the hash only while it still equals `expected_old` (a compare-and-set, so an upgrade
/// after login never overwrites a password changed meanwhile). Losing that race is not an
/// error: the newer password stands. A missing user is `NotFound`.
pub(crate) async fn rehash_password<C: ConnectionTrait>(
    conn: &C,
    id: UserId,
    expected_old: &str,
    new_hash: String,
) -> StoreResult<()> {
    let result = user::Entity::update_many()
        .col_expr(user::Column::PasswordHash, Expr::value(new_hash))
        .filter(user::Column::Id.eq(id.0))
        .filter(user::Column::PasswordHash.eq(expected_old))
        .exec(conn)
        .await
        .map_err(db_err)?;
    if result.rows_affected == 0 {
        find_row(conn, id).await?;
        tracing::debug!(user = %id, "password changed before the rehash; keeping the newer hash");
    }
    Ok(())
}

/// Records a successful sign-in time.
pub(crate) async fn record_login<C: ConnectionTrait>(
    conn: &C,
    id: UserId,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    let result = user::Entity::update_many()
        .col_expr(user::Column::LastLogin, Expr::value(timestamp::stored(at)))
        .filter(user::Column::Id.eq(id.0))
        .exec(conn)
        .await
        .map_err(db_err)?;
    if result.rows_affected == 0 {
        return Err(StoreError::not_found("user", id));
    }
    Ok(())
}

/// Deletes a user; memberships, tokens and sessions go with it (foreign-key cascades), and
/// the clients holding grants from its sessions are told (back-channel logout).
pub(crate) async fn delete<C: ConnectionTrait>(
    conn: &C,
    id: UserId,
    audit: &AuditContext,
) -> StoreResult<()> {
    let row = find_row(conn, id).await?;
    crate::ops::sessions::delete_others(conn, id, None).await?;
    user::Entity::delete_by_id(id.0)
        .exec(conn)
        .await
        .map_err(db_err)?;
    events::record(
        conn,
        NewEvent::about_model(EventAction::ModelDeleted, "user", id, &row.username),
        audit,
    )
    .await
}

async fn find_row<C: ConnectionTrait>(conn: &C, id: UserId) -> StoreResult<user::Model> {
    user::Entity::find_by_id(id.0)
        .one(conn)
        .await
        .map_err(db_err)?
        .ok_or_else(|| StoreError::not_found("user", id))
}

/// Converts a row into a [`User`].
pub(crate) fn from_row(row: user::Model) -> StoreResult<User> {
    let user_type = UserType::parse(&row.user_type)
        .map_err(|_| corrupt("users", "user_type", &row.user_type))?;
    Ok(User {
        id: UserId(row.id),
        username: row.username,
        name: row.name,
        email: row.email,
        email_verified: row.email_verified,
        active: row.active,
        user_type,
        password_hash: row.password_hash,
        attributes: json_object(row.attributes, "users", "attributes")?,
        created_at: row.created_at,
        updated_at: row.updated_at,
        last_login: row.last_login,
    })
}
