//! Gatehouse's flow engine, modelled on authentik's flows, stages and policies.
//!
//! A [`Flow`] is an ordered list of [`StageBinding`]s, each guarded by [`PolicyBinding`]s. The
//! [`FlowExecutor`] plans a flow for a request into a serialisable [`FlowExecution`] (stored
//! with the session so it survives restarts and works across replicas) and moves it forward
//! as the web layer reports what each stage found ([`StageOutcome`] → [`Decision`]).
//!
//! The crate is pure: no HTTP, no SQL, no runtime. Storage is reached through the
//! [`PolicyPorts`] trait; passwords, codes and mail are handled by the caller.

pub mod context;
pub mod defaults;
pub mod email;
pub mod enrollment;
pub mod executor;
pub mod expression;
pub mod flow;
pub mod next;
pub mod policy;
pub mod stage;

pub use context::{AuthMethod, FlowContext, InvitationFacts, RequestFacts, SourceEnrollment};
pub use defaults::default_flows;
pub use executor::{
    Decision, Effect, FlowError, FlowExecution, FlowExecutor, PlannedStage, StageOutcome,
};
pub use expression::{EvalError, Expression, ExpressionError};
pub use flow::{DEFAULT_DENIED_MESSAGE, Flow, FlowAuthentication, FlowDesignation, StageBinding};
pub use next::safe_next;
pub use policy::{Policy, PolicyBinding, PolicyMode, PolicyPorts, PolicyVerdict};
pub use stage::{
    ConsentMode, DeviceClass, EmailPurpose, FORM_ERROR_FIELD, NotConfiguredAction, PromptField,
    PromptFieldKind, PromptSubmission, RedirectTarget, Stage, StageKind, UserCreationMode,
    UserField, validate_prompt_submission,
};

#[cfg(test)]
mod tests;
