//! The email stage in verification mode: the flow waits on a "check your inbox" page while a
//! single-use link travels by mail; following the link (in any browser) resumes the stored
//! execution here. This module decides whether a stored execution may resume for the user the
//! link was issued to; sending mail and spending the link's token are the caller's I/O.

use crate::executor::{Effect, FlowExecution, StageOutcome};
use crate::flow::Flow;
use crate::stage::{EmailPurpose, StageKind};
use chrono::{DateTime, Utc};
use gatehouse_core::UserId;

/// Why a followed verification link cannot resume the flow it was sent from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LinkRefusal {
    /// The execution belongs to another flow (a link pasted into the wrong URL).
    #[error("the link belongs to another flow")]
    WrongFlow,
    /// The execution outlived its lifetime.
    #[error("the flow has expired")]
    Expired,
    /// The execution is not waiting at a verification email stage (the flow was edited, or
    /// the state is not one this stage stored).
    #[error("the flow is not waiting for this link")]
    NotWaiting,
    /// The link was issued to another user than the one the flow is about.
    #[error("the link was issued for another account")]
    WrongUser,
}

/// Checks that `execution`, stored with a verification link issued to `link_user`, is waiting
/// at a verification email stage of `flow` for that user at `now`, and returns the outcome
/// that moves it past the stage (marked as restored from a link).
pub fn resume_after_verification(
    flow: &Flow,
    execution: &FlowExecution,
    link_user: UserId,
    now: DateTime<Utc>,
) -> Result<StageOutcome, LinkRefusal> {
    if execution.flow_slug != flow.slug {
        return Err(LinkRefusal::WrongFlow);
    }
    if execution.is_expired(now) {
        return Err(LinkRefusal::Expired);
    }
    if execution.denied.is_some() {
        return Err(LinkRefusal::NotWaiting);
    }
    let waiting = execution
        .current_stage(flow)
        .map(|stage| is_verification(&stage.kind))
        .unwrap_or(false);
    if !waiting {
        return Err(LinkRefusal::NotWaiting);
    }
    if execution.context.pending_user != Some(link_user) {
        return Err(LinkRefusal::WrongUser);
    }
    Ok(StageOutcome::passed([Effect::Restored]))
}

/// Whether a stage is an email stage that verifies an address.
pub fn is_verification(kind: &StageKind) -> bool {
    matches!(
        kind,
        StageKind::Email {
            purpose: EmailPurpose::Verification,
            ..
        }
    )
}
