//! Issuing invitations: a fresh random token, its keyed digest stored with the invitation,
//! and the link (`<base_url>/if/flow/<flow>/?itoken=<token>`) that is the only place the
//! token ever appears. Shared by the CLI and, later, the admin API and email delivery.

use crate::services::Services;
use chrono::{DateTime, Utc};
use gatehouse_core::{AuditContext, Invitation, NewInvitation, StoreError, UserId};
use gatehouse_crypto::generate_token;
use gatehouse_flows::defaults::DEFAULT_ENROLLMENT_FLOW;
use serde_json::{Map, Value};

/// What an administrator asks for.
#[derive(Clone, Debug, Default)]
pub struct InvitationRequest {
    /// The enrollment flow; `default-enrollment-flow` when `None`.
    pub flow: Option<String>,
    /// The email address the new account gets (it cannot be changed on the form).
    pub email: Option<String>,
    /// Groups the new account joins; they must exist.
    pub groups: Vec<String>,
    /// When the link stops working; `None` never.
    pub expires_at: Option<DateTime<Utc>>,
    /// Whether several accounts may be created with the link.
    pub multi_use: bool,
    /// The administrator issuing it, when a user.
    pub created_by: Option<UserId>,
}

/// A stored invitation and its link (shown once: only the digest is kept).
#[derive(Clone, Debug)]
pub struct IssuedInvitation {
    /// The stored invitation.
    pub invitation: Invitation,
    /// The link to send to the invitee.
    pub link: String,
}

/// Creates an invitation and returns it with its link.
pub async fn issue_invitation(
    services: &Services,
    request: InvitationRequest,
    audit: &AuditContext,
) -> Result<IssuedInvitation, StoreError> {
    let flow = request
        .flow
        .unwrap_or_else(|| DEFAULT_ENROLLMENT_FLOW.to_owned());
    let token = generate_token("");
    let mut fixed_data = Map::new();
    if let Some(email) = request.email {
        fixed_data.insert("email".into(), Value::String(email));
    }
    let invitation = services
        .store
        .create_invitation(
            NewInvitation {
                flow_slug: flow.clone(),
                single_use: !request.multi_use,
                fixed_data,
                groups: request.groups,
                expires_at: request.expires_at,
                created_by: request.created_by,
                digest: services.digester.digest(&token),
            },
            audit,
        )
        .await?;
    let link = invitation_link(&services.config.base_url(), &flow, &token);
    Ok(IssuedInvitation { invitation, link })
}

/// The link for `token` into `flow` (tokens are base64url, so they need no escaping).
pub fn invitation_link(base_url: &str, flow: &str, token: &str) -> String {
    format!("{base_url}/if/flow/{flow}/?itoken={token}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn links_open_the_flow_with_the_token() {
        assert_eq!(
            super::invitation_link(
                "https://id.example.com",
                "default-enrollment-flow",
                "abc_-1"
            ),
            "https://id.example.com/if/flow/default-enrollment-flow/?itoken=abc_-1"
        );
    }
}
