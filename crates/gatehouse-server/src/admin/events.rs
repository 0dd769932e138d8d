//! Reading the audit log, filtered by action, actor, client address and time range.

use super::{AdminResult, Caller};
use crate::services::Services;
use gatehouse_core::{AdminArea, Event, EventQuery, Page};

/// A page of events matching `query` (newest first unless asked otherwise).
pub async fn list(
    services: &Services,
    caller: &Caller,
    query: &EventQuery,
) -> AdminResult<Page<Event>> {
    caller.require_read(AdminArea::Events)?;
    Ok(services.store.list_events(query).await?)
}
