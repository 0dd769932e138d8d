//! Flow definitions: lookup, listing, seeding the defaults (insert if absent) and replacing one
//! from a change set. Every write records an event naming the flow.

use crate::entity::flow;
use crate::error::db_err;
use crate::ops::events;
use crate::timestamp;
use gatehouse_core::store::StoreResult;
use gatehouse_core::{AuditContext, EventAction, FlowDefinition, NewEvent};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ConnectionTrait, EntityTrait, IntoActiveModel, QueryOrder};
use serde_json::Value;

fn from_row(row: flow::Model) -> FlowDefinition {
    FlowDefinition {
        slug: row.slug,
        definition: row.definition,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

/// The flow with this slug.
pub(crate) async fn by_slug<C: ConnectionTrait>(
    conn: &C,
    slug: &str,
) -> StoreResult<Option<FlowDefinition>> {
    Ok(flow::Entity::find_by_id(slug.to_owned())
        .one(conn)
        .await
        .map_err(db_err)?
        .map(from_row))
}

/// Every flow, by slug.
pub(crate) async fn all<C: ConnectionTrait>(conn: &C) -> StoreResult<Vec<FlowDefinition>> {
    Ok(flow::Entity::find()
        .order_by_asc(flow::Column::Slug)
        .all(conn)
        .await
        .map_err(db_err)?
        .into_iter()
        .map(from_row)
        .collect())
}

/// Adds the flows whose slugs are not stored yet; returns their slugs. Records
/// `model_created` for each.
pub(crate) async fn seed<C: ConnectionTrait>(
    conn: &C,
    flows: Vec<(String, Value)>,
    audit: &AuditContext,
) -> StoreResult<Vec<String>> {
    let mut added = Vec::new();
    for (slug, definition) in flows {
        let now = timestamp::now();
        let row = flow::Model {
            slug: slug.clone(),
            definition,
            created_at: now,
            updated_at: now,
        };
        let inserted = flow::Entity::insert(row.into_active_model())
            .on_conflict(
                OnConflict::column(flow::Column::Slug)
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(conn)
            .await
            .map_err(db_err)?;
        if inserted > 0 {
            events::record(
                conn,
                NewEvent::about_model(EventAction::ModelCreated, "flow", &slug, &slug),
                audit,
            )
            .await?;
            added.push(slug);
        }
    }
    Ok(added)
}

/// Creates or replaces the flow `slug`. Records `model_created` or `model_updated`.
pub(crate) async fn put<C: ConnectionTrait>(
    conn: &C,
    slug: &str,
    definition: &Value,
    audit: &AuditContext,
) -> StoreResult<()> {
    let now = timestamp::now();
    let existing = by_slug(conn, slug).await?;
    let action = if existing.is_some() {
        EventAction::ModelUpdated
    } else {
        EventAction::ModelCreated
    };
    let row = flow::Model {
        slug: slug.to_owned(),
        definition: definition.clone(),
        created_at: existing.map_or(now, |flow| flow.created_at),
        updated_at: now,
    };
    flow::Entity::insert(row.into_active_model())
        .on_conflict(
            OnConflict::column(flow::Column::Slug)
                .update_columns([flow::Column::Definition, flow::Column::UpdatedAt])
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await
        .map_err(db_err)?;
    events::record(
        conn,
        NewEvent::about_model(action, "flow", slug, slug),
        audit,
    )
    .await
}
