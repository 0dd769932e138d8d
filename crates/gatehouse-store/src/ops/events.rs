//! The audit log: appending (always inside the caller's transaction) and reading back.

use crate::entity::event;
use crate::error::db_err;
use crate::ops::rows::{corrupt, direction, json_object, page_bounds};
use crate::timestamp;
use chrono::{DateTime, Utc};
use gatehouse_core::store::StoreResult;
use gatehouse_core::{
    AuditContext, Event, EventAction, EventId, EventQuery, NewEvent, Page, UserId,
};
use sea_orm::sea_query::{Cond, Expr, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, ExprTrait, IntoActiveModel, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect,
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

/// Counts per action and period in one scan of the range (served by the `(action,
/// created_at)` index): a `COUNT(CASE WHEN <in this period and of this action> THEN 1 END)`
/// column per cell, which both backends answer as a 64-bit integer and never as NULL.
pub(crate) async fn count_per_period<C: ConnectionTrait>(
    conn: &C,
    actions: &[EventAction],
    boundaries: &[DateTime<Utc>],
) -> StoreResult<Vec<Vec<u64>>> {
    let (Some(first), Some(last)) = (boundaries.first(), boundaries.last()) else {
        return Ok(vec![Vec::new(); actions.len()]);
    };
    let periods = boundaries.len().saturating_sub(1);
    if actions.is_empty() || periods == 0 {
        return Ok(vec![Vec::new(); actions.len()]);
    }
    let mut select = Query::select();
    select.from(event::Entity);
    for action in actions {
        for window in boundaries.windows(2) {
            let in_cell = Cond::all()
                .add(event::Column::Action.eq(action.as_str()))
                .add(event::Column::CreatedAt.gte(timestamp::stored(window[0])))
                .add(event::Column::CreatedAt.lt(timestamp::stored(window[1])));
            select.expr(Expr::case(in_cell, 1).count());
        }
    }
    select
        .and_where(event::Column::Action.is_in(actions.iter().map(|a| a.as_str())))
        .and_where(event::Column::CreatedAt.gte(timestamp::stored(*first)))
        .and_where(event::Column::CreatedAt.lt(timestamp::stored(*last)));
    let row = conn
        .query_one(&select)
        .await
        .map_err(db_err)?
        .ok_or_else(|| corrupt("events", "count", "no row"))?;
    let mut counts = Vec::with_capacity(actions.len());
    for a in 0..actions.len() {
        let mut per_period = Vec::with_capacity(periods);
        for p in 0..periods {
            let cell: i64 = row.try_get_by_index(a * periods + p).map_err(db_err)?;
            per_period.push(u64::try_from(cell).unwrap_or(0));
        }
        counts.push(per_period);
    }
    Ok(counts)
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
