//! Enrollment invitations: links that open an enrollment flow, optionally with a fixed
//! email address and groups the new account joins. Inviting into a group that grants
//! administrative rights is reserved to superusers.

use super::{AdminError, AdminResult, Caller, page_in_memory, require_joinable};
use crate::invitations::{InvitationRequest, IssuedInvitation, issue_invitation};
use crate::services::Services;
use gatehouse_core::{AdminArea, Invitation, ListQuery, Page, TokenId};

/// A page of invitations, searchable by flow, email and creator.
pub async fn list(
    services: &Services,
    caller: &Caller,
    query: &ListQuery,
) -> AdminResult<Page<Invitation>> {
    caller.require_read(AdminArea::Invitations)?;
    let all = services.store.list_invitations().await?;
    Ok(page_in_memory(all, query, |i| {
        let email = i
            .fixed_data
            .get("email")
            .and_then(|v| v.as_str())
            .unwrap_or("");
        format!("{} {email} {}", i.flow_slug, i.created_by_name)
    }))
}

/// Creates an invitation; returns it with its link (shown once).
pub async fn create(
    services: &Services,
    caller: &Caller,
    mut request: InvitationRequest,
) -> AdminResult<IssuedInvitation> {
    caller.require_write(AdminArea::Invitations)?;
    if let Some(email) = &request.email {
        request.email = Some(gatehouse_core::validate::email(email)?);
    }
    let flow = request
        .flow
        .clone()
        .unwrap_or_else(|| gatehouse_flows::defaults::DEFAULT_ENROLLMENT_FLOW.to_owned());
    if services.store.flow_definition(&flow).await?.is_none() {
        return Err(AdminError::field("flow", format!("no flow named {flow:?}")));
    }
    require_joinable(services, caller, &request.groups, "invite into").await?;
    if request
        .expires_at
        .is_some_and(|at| at <= chrono::Utc::now())
    {
        return Err(AdminError::field("expires_at", "must be in the future"));
    }
    request.created_by = Some(caller.user.id);
    Ok(issue_invitation(services, request, &caller.audit).await?)
}

/// Deletes an invitation; its link stops working.
pub async fn delete(services: &Services, caller: &Caller, id: TokenId) -> AdminResult<()> {
    caller.require_write(AdminArea::Invitations)?;
    if !services
        .store
        .list_invitations()
        .await?
        .iter()
        .any(|i| i.id == id)
    {
        return Err(AdminError::not_found("invitation"));
    }
    Ok(services.store.delete_invitation(id, &caller.audit).await?)
}

/// The slugs of the flows an invitation can open (designation `enrollment`), for the
/// creation form.
pub async fn enrollment_flows(services: &Services, caller: &Caller) -> AdminResult<Vec<String>> {
    caller.require_read(AdminArea::Invitations)?;
    Ok(services
        .store
        .flow_definitions()
        .await?
        .into_iter()
        .filter(|f| f.definition.get("designation").and_then(|d| d.as_str()) == Some("enrollment"))
        .map(|f| f.slug)
        .collect())
}
