//! The enrollment flow's I/O for the flow pages: opening an invitation link
//! (`?itoken=…`), the invitation stage, and creating the account in the user-write stage,
//! where the invitation is spent in the same transaction (see
//! [`gatehouse_core::InvitationStore::enroll_with_invitation`]), or, in a source's enrollment
//! flow, the link to the upstream account is made in the same transaction.

use super::pages;
use crate::services::Services;
use crate::sources::login::{self, Failure};
use axum::http::StatusCode;
use axum::response::Response;
use gatehouse_core::{
    AuditContext, Enrollment, InvitationStatus, NewUser, StoreError, ValidationError,
};
use gatehouse_flows::enrollment::new_user_from_context;
use gatehouse_flows::{
    AuthMethod, Effect, Flow, FlowContext, InvitationFacts, PromptField, PromptFieldKind,
    SourceEnrollment, StageKind, StageOutcome,
};
use serde_json::{Map, Value};

/// Longest `itoken` looked up (generated tokens are 46 characters).
const MAX_TOKEN_LEN: usize = 128;

const NOT_VALID: &str =
    "This invitation link is not valid. Check that you copied all of it, or ask for a new one.";
const EXPIRED: &str = "This invitation has expired. Ask the person who invited you for a new one.";
const USED: &str = "This invitation has already been used. If that was you, sign in instead.";
const REQUIRED: &str =
    "You need an invitation to create an account here. Open the link from your invitation.";

fn refusal(status: InvitationStatus) -> &'static str {
    match status {
        InvitationStatus::Usable => NOT_VALID,
        InvitationStatus::Expired => EXPIRED,
        InvitationStatus::Used => USED,
    }
}

/// The invitation an `?itoken=` link names, ready for the flow's context, or the page that
/// explains why it cannot be used (unknown, for another flow, expired or used).
pub(crate) async fn invitation_from_link(
    services: &Services,
    flow: &Flow,
    token: &str,
) -> Result<InvitationFacts, Response> {
    let brand = &services.config.branding;
    let page =
        |status, message: &str| pages::message(status, brand, "Invitation not accepted", message);
    let token = token.trim();
    if token.is_empty() || token.len() > MAX_TOKEN_LEN {
        return Err(page(StatusCode::NOT_FOUND, NOT_VALID));
    }
    let digest = services.digester.digest(token);
    let found = match services.store.invitation_by_digest(&digest).await {
        Ok(found) => found,
        Err(error) => return Err(super::flow::store_error_page(services, error)),
    };
    let Some(invitation) = found.filter(|i| i.flow_slug == flow.slug) else {
        return Err(page(StatusCode::NOT_FOUND, NOT_VALID));
    };
    match invitation.status_at(chrono::Utc::now()) {
        InvitationStatus::Usable => Ok(InvitationFacts {
            token_id: invitation.id,
            fixed_data: invitation.fixed_data,
        }),
        status => Err(page(StatusCode::GONE, refusal(status))),
    }
}

/// The invitation stage: passes with the invitation (its fixed data joins the prompt data)
/// when the flow was opened with a usable one; otherwise refuses, unless the stage allows
/// continuing without.
pub(crate) async fn invitation_stage(
    services: &Services,
    continue_without_invitation: bool,
    context: &FlowContext,
) -> Result<StageOutcome, StoreError> {
    let Some(facts) = &context.invitation else {
        return Ok(if continue_without_invitation {
            StageOutcome::passed([])
        } else {
            StageOutcome::Denied {
                message: Some(REQUIRED.into()),
            }
        });
    };
    let Some(invitation) = services.store.invitation(facts.token_id).await? else {
        return Ok(StageOutcome::Denied {
            message: Some(NOT_VALID.into()),
        });
    };
    Ok(match invitation.status_at(chrono::Utc::now()) {
        InvitationStatus::Usable => StageOutcome::passed([Effect::Invitation(InvitationFacts {
            token_id: invitation.id,
            fixed_data: invitation.fixed_data,
        })]),
        status => StageOutcome::Denied {
            message: Some(refusal(status).into()),
        },
    })
}

/// A field error when a prompt asks for a new username that is already taken (checked again,
/// atomically, when the account is created).
pub(crate) async fn username_taken(
    services: &Services,
    fields: &[PromptField],
    data: &Map<String, Value>,
) -> Result<Option<ValidationError>, StoreError> {
    for field in fields
        .iter()
        .filter(|f| f.kind == PromptFieldKind::Username)
    {
        if let Some(name) = data.get(&field.name).and_then(Value::as_str)
            && is_taken(services, name).await?
        {
            return Ok(Some(ValidationError::new(
                field.name.clone(),
                "This username is taken; choose another.",
            )));
        }
    }
    Ok(None)
}

/// Whether `name` is taken, also in another letter case (the store refuses `Alice` beside
/// `alice`). The search is a substring match, so the exact comparison is made here.
pub(crate) async fn is_taken(services: &Services, name: &str) -> Result<bool, StoreError> {
    if services.store.user_by_username(name).await?.is_some() {
        return Ok(true);
    }
    let similar = services
        .store
        .list_users(&gatehouse_core::ListQuery {
            search: Some(name.to_owned()),
            limit: 500,
            offset: 0,
            ..gatehouse_core::ListQuery::default()
        })
        .await?;
    let lower = name.to_lowercase();
    Ok(similar
        .items
        .iter()
        .any(|u| u.username.to_lowercase() == lower))
}

/// The user-write stage when the flow has no user yet: creates the account from the prompt
/// data (spending the invitation in the same transaction when there is one). The new user
/// counts as authenticated by the password they just chose, so a user-login stage can follow.
pub(crate) async fn create_account(
    services: &Services,
    stage: &StageKind,
    context: &FlowContext,
    audit: &AuditContext,
) -> Result<StageOutcome, StoreError> {
    let denied = |message: String| StageOutcome::Denied {
        message: Some(message),
    };
    let user = match new_user_from_context(stage, context) {
        None => return Ok(denied("There is no account to update.".into())),
        Some(Err(error)) => return Ok(denied(format!("The account cannot be created: {error}"))),
        Some(Ok(user)) => user,
    };
    let actor = AuditContext {
        actor: format!("enrollment:{}", user.username),
        ..audit.clone()
    };
    if let Some(enrollment) = &context.source_enrollment {
        return source_account(services, enrollment, user, &actor).await;
    }
    let created = match &context.invitation {
        Some(invitation) => {
            services
                .store
                .enroll_with_invitation(
                    Enrollment {
                        invitation: invitation.token_id,
                        user,
                        now: chrono::Utc::now(),
                    },
                    &actor,
                )
                .await
        }
        None => services.store.create_user(user, &actor).await,
    };
    match created {
        Ok(user) => {
            tracing::info!(user = %user.id, "account created by enrollment");
            let mut effects = vec![Effect::UserWritten(user.id)];
            if user.password_hash.is_some() {
                effects.push(Effect::Authenticated(AuthMethod::Password));
            }
            Ok(StageOutcome::Passed { effects })
        }
        Err(StoreError::Invalid(error)) if error.field == "invitation" => Ok(denied(error.message)),
        Err(StoreError::Conflict(_)) => Ok(denied(
            "That username is already taken. Open your invitation link again and choose another \
             (the invitation was not used)."
                .into(),
        )),
        Err(StoreError::Invalid(error)) => {
            Ok(denied(format!("The account cannot be created: {error}")))
        }
        Err(StoreError::NotFound { kind: "group", key }) => {
            tracing::error!(group = %key, "an enrollment names a group that does not exist");
            Ok(denied(
                "This invitation names a group that no longer exists. Ask for a new invitation."
                    .into(),
            ))
        }
        Err(error) => Err(error),
    }
}

/// The user-write stage of a source's enrollment flow: the user is created with its link to
/// the upstream account (see [`login::enroll_through_flow`]); a refusal is audited like any
/// refused upstream login and stops the flow with its message.
async fn source_account(
    services: &Services,
    enrollment: &SourceEnrollment,
    user: NewUser,
    audit: &AuditContext,
) -> Result<StageOutcome, StoreError> {
    let username = user.username.clone();
    let message = match login::enroll_through_flow(services, enrollment, user, audit).await {
        Ok(user) => {
            tracing::info!(user = %user.id, source = %enrollment.source, "account created through a source's enrollment flow");
            return Ok(StageOutcome::passed([Effect::UserWritten(user.id)]));
        }
        Err(Failure::Store(error)) => return Err(error),
        Err(Failure::Refused { reason, message }) => {
            crate::authn::record_source_failure(
                services,
                &enrollment.source,
                &username,
                &reason,
                audit,
            )
            .await;
            message
        }
        Err(Failure::UnknownSource) => "This sign-in method is no longer available.".to_owned(),
        Err(Failure::Misconfigured(why)) => {
            tracing::error!(source = %enrollment.source, problem = %why, "source enrollment failed");
            "Signing in with this service does not work right now.".to_owned()
        }
        Err(Failure::Unreachable) => "The service you sign in with did not answer.".to_owned(),
    };
    Ok(StageOutcome::Denied {
        message: Some(message),
    })
}
