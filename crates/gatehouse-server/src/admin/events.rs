//! Reading the audit log, filtered by action, actor, client address and time range.

use super::{AdminResult, Caller};
use crate::services::Services;
use chrono::{DateTime, Utc};
use gatehouse_core::{AdminArea, Event, EventAction, EventQuery, Page};

/// A page of events matching `query` (newest first unless asked otherwise).
pub async fn list(
    services: &Services,
    caller: &Caller,
    query: &EventQuery,
) -> AdminResult<Page<Event>> {
    caller.require_read(AdminArea::Events)?;
    Ok(services.store.list_events(query).await?)
}

/// How many events of each of `actions` fall in each period between consecutive
/// `boundaries`, as `counts[action][period]`: the data of a chart, in one query.
pub async fn count_per_period(
    services: &Services,
    caller: &Caller,
    actions: &[EventAction],
    boundaries: &[DateTime<Utc>],
) -> AdminResult<Vec<Vec<u64>>> {
    caller.require_read(AdminArea::Events)?;
    Ok(services
        .store
        .count_events_per_period(actions, boundaries)
        .await?)
}
