//! Reading flows (their stages in order); they are changed with `gatehouse apply`.

use super::{AdminError, AdminResult, Caller, page_in_memory};
use crate::services::Services;
use gatehouse_core::{AdminArea, FlowDefinition, ListQuery, Page};

/// A page of flows by slug.
pub async fn list(
    services: &Services,
    caller: &Caller,
    query: &ListQuery,
) -> AdminResult<Page<FlowDefinition>> {
    caller.require_read(AdminArea::Flows)?;
    let flows = services.store.flow_definitions().await?;
    Ok(page_in_memory(flows, query, |f| f.slug.clone()))
}

/// One flow by slug.
pub async fn get(services: &Services, caller: &Caller, slug: &str) -> AdminResult<FlowDefinition> {
    caller.require_read(AdminArea::Flows)?;
    services
        .store
        .flow_definition(slug)
        .await?
        .ok_or_else(|| AdminError::not_found("flow"))
}
