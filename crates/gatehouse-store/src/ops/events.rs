//! The audit log: appending (always inside the caller's transaction) and reading back.

use crate::entity::event;
use crate::error::db_err;
use crate::ops::rows::{corrupt, direction, json_object, page_bounds};
use crate::timestamp;
use gatehouse_core::store::StoreResult;
use gatehouse_core::{
    AuditContext, Event, EventAction, EventId, EventQuery, NewEvent, Page, UserId,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use serde_json::Value;

/// The largest page of events a caller may read.
const MAX_EVENTS: u64 = 500;

/// Appends `event` as done by `audit`'s actor.
pub(crate) async fn record<C: ConnectionTrait>(
    conn: &C,
    event: NewEvent,
    audit: &AuditContext,
) -> StoreResult<()> {
    event::Entity::insert(row(event, audit, timestamp::now()).into_active_model())
        .exec_without_returning(conn)
        .await
        .map_err(db_err)?;
    Ok(())
}

/// Appends several events, each with its own actor, in one statement.
pub(crate) async fn record_many<C: ConnectionTrait>(
    conn: &C,
    events: Vec<(NewEvent, AuditContext)>,
) -> StoreResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    let now = timestamp::now();
    let rows = events
        .into_iter()
        .map(|(event, audit)| row(event, &audit, now).into_active_model());
    event::Entity::insert_many(rows)
        .exec_without_returning(conn)
        .await
        .map_err(db_err)?;
    Ok(())
}

fn row(event: NewEvent, audit: &AuditContext, at: chrono::DateTime<chrono::Utc>) -> event::Model {
    event::Model {
        id: EventId::new().0,
        action: event.action.as_str().to_owned(),
        actor_id: audit.actor_id.map(|id| id.0),
        actor: audit.actor.clone(),
        client_ip: audit.client_ip.clone(),
        user_agent: audit.user_agent.clone(),
        context: Value::Object(event.context),
        created_at: at,
    }
}

/// Events matching `query`, newest first.
pub(crate) async fn list<C: ConnectionTrait>(
    conn: &C,
    query: &EventQuery,
) -> StoreResult<Page<Event>> {
    let mut select = event::Entity::find();
    if let Some(action) = query.action {
        select = select.filter(event::Column::Action.eq(action.as_str()));
    }
    if let Some(actor) = query.actor_id {
        select = select.filter(event::Column::ActorId.eq(actor.0));
    }
    if let Some(ip) = &query.client_ip {
        select = select.filter(event::Column::ClientIp.eq(ip.as_str()));
    }
    if let Some(since) = query.since {
        select = select.filter(event::Column::CreatedAt.gte(timestamp::stored(since)));
    }
    if let Some(until) = query.until {
        select = select.filter(event::Column::CreatedAt.lt(timestamp::stored(until)));
    }
    let total = select.clone().count(conn).await.map_err(db_err)?;
    let (limit, offset) = page_bounds(query.limit.clamp(1, MAX_EVENTS), query.offset);
    let rows = select
        .order_by(event::Column::CreatedAt, direction(!query.oldest_first))
        .order_by(event::Column::Id, direction(!query.oldest_first))
        .limit(limit)
        .offset(offset)
        .all(conn)
        .await
        .map_err(db_err)?;
    let items = rows.into_iter().map(from_row).collect::<StoreResult<_>>()?;
    Ok(Page { items, total })
}

fn from_row(row: event::Model) -> StoreResult<Event> {
    let action =
        EventAction::parse(&row.action).ok_or_else(|| corrupt("events", "action", &row.action))?;
    Ok(Event {
        id: EventId(row.id),
        action,
        actor_id: row.actor_id.map(UserId),
        actor: row.actor,
        client_ip: row.client_ip,
        user_agent: row.user_agent,
        context: json_object(row.context, "events", "context")?,
        created_at: row.created_at,
    })
}
