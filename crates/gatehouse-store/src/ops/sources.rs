//! Upstream login sources and their connections: creating, replacing and deleting sources;
//! linking upstream accounts (alone, or with a just-in-time enrolled user); applying a source
//! login's group changes in the login's transaction; unlinking, refused when it would leave
//! the user no way to sign in. Every write records its audit event on the same connection;
//! the sealed client secret never enters an event.

use crate::entity::{source, source_connection, user};
use crate::error::{conflict_or_db_err, db_err, insert_err};
use crate::ops::applications::string_list;
use crate::ops::rows::corrupt;
use crate::ops::{events, flows, groups, memberships, users};
use crate::timestamp;
use gatehouse_core::store::StoreResult;
use gatehouse_core::{
    AuditContext, ClaimPaths, EventAction, GroupSync, GroupSyncMode, NewEvent, NewGroup, NewSource,
    NewSourceConnection, NewUser, Source, SourceConnection, SourceConnectionId, SourceEndpoints,
    SourceId, SourceKind, SourceLogin, StoreError, User, UserId, UserMatching, ValidationError,
};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel,
    PaginatorTrait, QueryFilter, QueryOrder,
};
use serde_json::Value;

const TABLE: &str = "sources";
const CONNECTIONS: &str = "source_connections";

fn slug_taken(slug: &str) -> String {
    format!("source slug {slug:?} is already taken")
}

/// Checks what the source refers to: its enrollment flow and its group-sync parent.
async fn check_references<C: ConnectionTrait>(conn: &C, new: &NewSource) -> StoreResult<()> {
    if let Some(flow) = &new.enrollment_flow
        && flows::by_slug(conn, flow).await?.is_none()
    {
        return Err(ValidationError::new(
            "enrollment_flow",
            format!("there is no flow with slug {flow:?}"),
        )
        .into());
    }
    if let Some(parent) = &new.group_sync.parent
        && groups::by_name(conn, parent).await?.is_none()
    {
        return Err(ValidationError::new(
            "group_sync.parent",
            format!("there is no group named {parent:?}"),
        )
        .into());
    }
    Ok(())
}

fn to_row(
    id: SourceId,
    new: NewSource,
    created_at: chrono::DateTime<chrono::Utc>,
) -> source::Model {
    source::Model {
        id: id.0,
        slug: new.slug,
        name: new.name,
        kind: new.kind.as_str().to_owned(),
        base_url: new.base_url,
        endpoints: serde_json::to_value(&new.endpoints).unwrap_or(Value::Null),
        claims: serde_json::to_value(&new.claims).unwrap_or(Value::Null),
        client_id: new.client_id,
        client_secret_sealed: new.client_secret_sealed,
        scopes: Value::from(new.scopes),
        user_matching: new.user_matching.as_str().to_owned(),
        enrollment_flow: new.enrollment_flow,
        group_sync_mode: new.group_sync.mode.as_str().to_owned(),
        group_sync_parent: new.group_sync.parent,
        enabled: new.enabled,
        created_at,
    }
}

fn event(action: EventAction, source: &Source) -> NewEvent {
    let s = &source.settings;
    NewEvent::about_model(action, "source", source.id, &s.slug)
        .with("type", s.kind.as_str())
        .with("user_matching", s.user_matching.as_str())
        .with("enabled", s.enabled)
}

/// Creates a source.
pub(crate) async fn create<C: ConnectionTrait>(
    conn: &C,
    new: NewSource,
    audit: &AuditContext,
) -> StoreResult<Source> {
    let new = new.validate()?;
    check_references(conn, &new).await?;
    let row = to_row(SourceId::new(), new, timestamp::now());
    source::Entity::insert(row.clone().into_active_model())
        .exec_without_returning(conn)
        .await
        .map_err(|err| conflict_or_db_err(err, || slug_taken(&row.slug)))?;
    let created = from_row(row)?;
    events::record(conn, event(EventAction::ModelCreated, &created), audit).await?;
    Ok(created)
}

/// Looks a source up by slug.
pub(crate) async fn by_slug<C: ConnectionTrait>(
    conn: &C,
    slug: &str,
) -> StoreResult<Option<Source>> {
    source::Entity::find()
        .filter(source::Column::Slug.eq(slug))
        .one(conn)
        .await
        .map_err(db_err)?
        .map(from_row)
        .transpose()
}

async fn require_row<C: ConnectionTrait>(conn: &C, id: SourceId) -> StoreResult<source::Model> {
    source::Entity::find_by_id(id.0)
        .one(conn)
        .await
        .map_err(db_err)?
        .ok_or_else(|| StoreError::not_found("source", id))
}

/// Every source by slug.
pub(crate) async fn list<C: ConnectionTrait>(conn: &C) -> StoreResult<Vec<Source>> {
    source::Entity::find()
        .order_by_asc(source::Column::Slug)
        .all(conn)
        .await
        .map_err(db_err)?
        .into_iter()
        .map(from_row)
        .collect()
}

/// Replaces a source's settings; the slug must stay.
pub(crate) async fn update<C: ConnectionTrait>(
    conn: &C,
    id: SourceId,
    settings: NewSource,
    audit: &AuditContext,
) -> StoreResult<Source> {
    let existing = require_row(conn, id).await?;
    let settings = settings.validate()?;
    if settings.slug != existing.slug {
        return Err(ValidationError::new(
            "slug",
            "cannot change: it is part of the upstream's redirect URI",
        )
        .into());
    }
    check_references(conn, &settings).await?;
    let row = to_row(id, settings, existing.created_at);
    source::Entity::update(row.clone().into_active_model().reset_all())
        .exec(conn)
        .await
        .map_err(db_err)?;
    let updated = from_row(row)?;
    events::record(conn, event(EventAction::ModelUpdated, &updated), audit).await?;
    Ok(updated)
}

/// Deletes a source; its connections go with it (foreign-key cascade).
pub(crate) async fn delete<C: ConnectionTrait>(
    conn: &C,
    id: SourceId,
    audit: &AuditContext,
) -> StoreResult<()> {
    let row = require_row(conn, id).await?;
    let deleted = from_row(row)?;
    source::Entity::delete_by_id(id.0)
        .exec(conn)
        .await
        .map_err(db_err)?;
    events::record(conn, event(EventAction::ModelDeleted, &deleted), audit).await
}

fn from_row(row: source::Model) -> StoreResult<Source> {
    let kind = SourceKind::parse(&row.kind).map_err(|_| corrupt(TABLE, "kind", &row.kind))?;
    let user_matching = UserMatching::parse(&row.user_matching)
        .map_err(|_| corrupt(TABLE, "user_matching", &row.user_matching))?;
    let mode = GroupSyncMode::parse(&row.group_sync_mode)
        .map_err(|_| corrupt(TABLE, "group_sync_mode", &row.group_sync_mode))?;
    let endpoints: SourceEndpoints = serde_json::from_value(row.endpoints.clone())
        .map_err(|_| corrupt(TABLE, "endpoints", &row.endpoints.to_string()))?;
    let claims: ClaimPaths = serde_json::from_value(row.claims.clone())
        .map_err(|_| corrupt(TABLE, "claims", &row.claims.to_string()))?;
    Ok(Source {
        id: SourceId(row.id),
        settings: NewSource {
            slug: row.slug,
            name: row.name,
            kind,
            base_url: row.base_url,
            endpoints,
            claims,
            client_id: row.client_id,
            client_secret_sealed: row.client_secret_sealed,
            scopes: string_list(&row.scopes, TABLE, "scopes")?,
            user_matching,
            enrollment_flow: row.enrollment_flow,
            group_sync: GroupSync {
                mode,
                parent: row.group_sync_parent,
            },
            enabled: row.enabled,
        },
        created_at: row.created_at,
    })
}

/// The connection of `upstream_id` at `source`.
pub(crate) async fn connection<C: ConnectionTrait>(
    conn: &C,
    source: SourceId,
    upstream_id: &str,
) -> StoreResult<Option<SourceConnection>> {
    let Some(row) = source_connection::Entity::find()
        .filter(source_connection::Column::SourceId.eq(source.0))
        .filter(source_connection::Column::UpstreamId.eq(upstream_id))
        .one(conn)
        .await
        .map_err(db_err)?
    else {
        return Ok(None);
    };
    let slug = require_row(conn, source).await?.slug;
    connection_from_row(row, slug).map(Some)
}

/// A user's connections by source slug.
pub(crate) async fn connections_of<C: ConnectionTrait>(
    conn: &C,
    user: UserId,
) -> StoreResult<Vec<SourceConnection>> {
    let rows = source_connection::Entity::find()
        .filter(source_connection::Column::UserId.eq(user.0))
        .all(conn)
        .await
        .map_err(db_err)?;
    let mut found = Vec::with_capacity(rows.len());
    for row in rows {
        let slug = require_row(conn, SourceId(row.source_id)).await?.slug;
        found.push(connection_from_row(row, slug)?);
    }
    found.sort_by(|a, b| a.source_slug.cmp(&b.source_slug));
    Ok(found)
}

fn connection_from_row(
    row: source_connection::Model,
    source_slug: String,
) -> StoreResult<SourceConnection> {
    Ok(SourceConnection {
        id: SourceConnectionId(row.id),
        source_id: SourceId(row.source_id),
        source_slug,
        user_id: UserId(row.user_id),
        upstream_id: row.upstream_id,
        upstream_username: row.upstream_username,
        synced_groups: string_list(&row.synced_groups, CONNECTIONS, "synced_groups")?,
        created_at: row.created_at,
        last_login: row.last_login,
    })
}

fn connection_event(action: EventAction, connection: &SourceConnection, user: &str) -> NewEvent {
    NewEvent::about_model(
        action,
        "source_connection",
        connection.id,
        &format!("{user} at {}", connection.source_slug),
    )
    .with("source", connection.source_slug.as_str())
    .with("user", user)
    .with("user_id", connection.user_id.to_string())
}

/// Links an upstream account to an existing user.
pub(crate) async fn link<C: ConnectionTrait>(
    conn: &C,
    new: NewSourceConnection,
    audit: &AuditContext,
) -> StoreResult<SourceConnection> {
    let user = users::require_by_id(conn, new.user_id).await?;
    insert_connection(conn, new, &user, audit).await
}

async fn insert_connection<C: ConnectionTrait>(
    conn: &C,
    new: NewSourceConnection,
    user: &User,
    audit: &AuditContext,
) -> StoreResult<SourceConnection> {
    if new.upstream_id.is_empty() || new.upstream_id.len() > 255 {
        return Err(ValidationError::new("upstream_id", "must be 1-255 characters").into());
    }
    let slug = require_row(conn, new.source_id).await?.slug;
    let row = source_connection::Model {
        id: SourceConnectionId::new().0,
        source_id: new.source_id.0,
        user_id: new.user_id.0,
        upstream_id: new.upstream_id,
        upstream_username: new.upstream_username,
        synced_groups: Value::Array(Vec::new()),
        created_at: timestamp::now(),
        last_login: None,
    };
    source_connection::Entity::insert(row.clone().into_active_model())
        .exec_without_returning(conn)
        .await
        .map_err(|err| {
            insert_err(
                err,
                || {
                    format!(
                        "this upstream account or this user is already linked at source {slug:?}"
                    )
                },
                || StoreError::not_found("user", new.user_id),
            )
        })?;
    let created = connection_from_row(row, slug)?;
    events::record(
        conn,
        connection_event(EventAction::ModelCreated, &created, &user.username),
        audit,
    )
    .await?;
    Ok(created)
}

/// Creates `user` and links it.
pub(crate) async fn enroll<C: ConnectionTrait>(
    conn: &C,
    user: NewUser,
    source: SourceId,
    upstream_id: &str,
    upstream_username: Option<String>,
    audit: &AuditContext,
) -> StoreResult<(User, SourceConnection)> {
    let created = users::create(conn, user, audit).await?;
    let connection = insert_connection(
        conn,
        NewSourceConnection {
            source_id: source,
            user_id: created.id,
            upstream_id: upstream_id.to_owned(),
            upstream_username,
        },
        &created,
        audit,
    )
    .await?;
    Ok((created, connection))
}

/// Applies a login's group changes and bookkeeping.
pub(crate) async fn record_login<C: ConnectionTrait>(
    conn: &C,
    login: SourceLogin,
    audit: &AuditContext,
) -> StoreResult<SourceConnection> {
    let row = source_connection::Entity::find_by_id(login.connection.0)
        .one(conn)
        .await
        .map_err(db_err)?
        .ok_or_else(|| StoreError::not_found("source_connection", login.connection))?;
    let user = users::require_by_id(conn, UserId(row.user_id)).await?;
    let changes = login.groups;
    for name in &changes.create {
        if groups::by_name(conn, name).await?.is_none() {
            let mut group = NewGroup::named(name.clone());
            group.parent = changes.parent.clone();
            groups::create(conn, group, audit).await?;
        }
    }
    let mut joined = Vec::new();
    for name in &changes.join {
        if let Some(group) = groups::by_name(conn, name).await?
            && memberships::add(conn, &group, &user, audit).await?
        {
            joined.push(name.clone());
        }
    }
    let mut left = Vec::new();
    for name in &changes.leave {
        if let Some(group) = groups::by_name(conn, name).await?
            && memberships::remove(conn, &group, &user, audit).await?
        {
            left.push(name.clone());
        }
    }
    let update = source_connection::ActiveModel {
        id: ActiveValue::Unchanged(row.id),
        upstream_username: ActiveValue::Set(login.upstream_username),
        synced_groups: ActiveValue::Set(Value::from(changes.synced)),
        last_login: ActiveValue::Set(Some(timestamp::stored(login.at))),
        ..Default::default()
    };
    let updated = source_connection::Entity::update(update)
        .exec(conn)
        .await
        .map_err(db_err)?;
    users::record_login(conn, user.id, login.at).await?;
    let slug = require_row(conn, SourceId(updated.source_id)).await?.slug;
    let connection = connection_from_row(updated, slug)?;
    if !joined.is_empty() || !left.is_empty() {
        let event = connection_event(EventAction::ModelUpdated, &connection, &user.username)
            .with("group_sync_joined", joined)
            .with("group_sync_left", left);
        events::record(conn, event, audit).await?;
    }
    Ok(connection)
}

/// Removes `user`'s link at `source`, unless it is their last way in.
pub(crate) async fn unlink<C: ConnectionTrait>(
    conn: &C,
    user_id: UserId,
    source: SourceId,
    audit: &AuditContext,
) -> StoreResult<()> {
    // Lock the user's row first (a no-op update): two concurrent unlinks of the same user's
    // last two links then run one after the other on PostgreSQL, and the second one counts
    // what the first left. SQLite's write transactions are serial already.
    user::Entity::update_many()
        .col_expr(user::Column::UpdatedAt, Expr::col(user::Column::UpdatedAt))
        .filter(user::Column::Id.eq(user_id.0))
        .exec(conn)
        .await
        .map_err(db_err)?;
    let user = users::require_by_id(conn, user_id).await?;
    let row = source_connection::Entity::find()
        .filter(source_connection::Column::UserId.eq(user_id.0))
        .filter(source_connection::Column::SourceId.eq(source.0))
        .one(conn)
        .await
        .map_err(db_err)?
        .ok_or_else(|| StoreError::not_found("source_connection", source))?;
    let links = source_connection::Entity::find()
        .filter(source_connection::Column::UserId.eq(user_id.0))
        .count(conn)
        .await
        .map_err(db_err)?;
    if user.password_hash.is_none() && links <= 1 {
        return Err(StoreError::Conflict(
            "this is the account's only way to sign in: set a password first".into(),
        ));
    }
    let slug = require_row(conn, source).await?.slug;
    let removed = connection_from_row(row, slug)?;
    source_connection::Entity::delete_by_id(removed.id.0)
        .exec(conn)
        .await
        .map_err(db_err)?;
    events::record(
        conn,
        connection_event(EventAction::ModelDeleted, &removed, &user.username),
        audit,
    )
    .await
}
