//! The flow executor: authentik's `FlowPlanner` and `FlowExecutorView` as a pure,
//! serialisable state machine. Planning picks the stage bindings whose policies pass; the
//! resulting [`FlowExecution`] is stored with the session (so a flow survives a restart and
//! moves between replicas) and is driven by three calls:
//!
//! 1. [`FlowExecutor::resolve`] on every page view: re-evaluates the policies of the stage
//!    about to run (when its binding asks for it), skips it if they fail, handles deny and
//!    redirect stages, and answers what to show: [`Decision::Challenge`], or the end.
//! 2. The web layer performs the stage's I/O (checks the password, verifies the code, writes
//!    the user) and describes the result as a [`StageOutcome`].
//! 3. [`FlowExecutor::advance`] records that result: the same stage again with errors, the
//!    next stage (the web layer redirects back to the executor URL, post/redirect/get), the
//!    end of the flow, or a denial.

use crate::context::{AuthMethod, FlowContext, InvitationFacts, RequestFacts};
use crate::flow::{Flow, FlowAuthentication, StageBinding};
use crate::next::safe_next;
use crate::policy::{PolicyPorts, PolicyRequest};
use crate::stage::{PromptFieldKind, Stage, StageKind};
use chrono::{DateTime, Duration, Utc};
use gatehouse_core::{StoreError, UserId, ValidationError};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

/// Why the executor refused to plan or continue a flow.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FlowError {
    /// The execution is older than its lifetime; the user starts over.
    #[error("this attempt has expired; please start again")]
    Expired,
    /// The execution was started for another flow.
    #[error("the execution belongs to flow {found:?}, not {expected:?}")]
    WrongFlow {
        /// The flow the caller passed.
        expected: String,
        /// The flow the execution was planned for.
        found: String,
    },
    /// The flow was edited since the execution was planned (a planned stage is gone).
    #[error("the flow was changed while it was running; please start again")]
    FlowChanged,
    /// The execution already ran to its end.
    #[error("the flow has already finished")]
    Finished,
    /// The flow does not apply to this user or request; the message is safe to show.
    #[error("{message}")]
    Denied {
        /// What to show.
        message: String,
    },
    /// The flow requires a signed-in user; the web layer sends the browser to sign in first.
    #[error("sign in to continue")]
    AuthenticationRequired,
    /// A submission arrived for a stage that has not been shown (resolved) yet, e.g. a double
    /// submit; the web layer resolves and shows the current stage instead.
    #[error("the current stage has not been shown yet")]
    StageNotReady,
    /// Storage could not answer a policy question; nothing was decided.
    #[error(transparent)]
    Ports(#[from] StoreError),
}

/// One stage of a plan: which binding it came from, and the stage's name to detect edits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedStage {
    /// Index into [`Flow::bindings`].
    pub binding_index: usize,
    /// The stage's name when planned; a mismatch means the flow changed.
    pub stage_name: String,
    /// Whether the stage has been reached (policies re-evaluated and passed) and shown.
    #[serde(default)]
    pub entered: bool,
}

/// A running flow: the plan, how far along it is, and what earlier stages learned.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FlowExecution {
    /// Identifies the execution (e.g. in an email link that resumes it).
    pub id: Uuid,
    /// The flow it runs.
    pub flow_slug: String,
    /// The stages chosen at planning time, in order.
    pub plan: Vec<PlannedStage>,
    /// Index into `plan` of the current stage; `plan.len()` once complete.
    pub position: usize,
    /// State carried between stages.
    pub context: FlowContext,
    /// When it was planned.
    pub created_at: DateTime<Utc>,
    /// When it stops being accepted.
    pub expires_at: DateTime<Utc>,
    /// Set once a stage denied the flow; the message is shown again on every later step.
    #[serde(default)]
    pub denied: Option<String>,
}

impl FlowExecution {
    /// Whether the execution is past its lifetime at `now`.
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        now >= self.expires_at
    }

    /// Whether every planned stage has passed.
    pub fn is_complete(&self) -> bool {
        self.position >= self.plan.len()
    }

    /// The stage a submission is for: the current one, once [`FlowExecutor::resolve`] has
    /// shown it.
    pub fn current_stage<'f>(&self, flow: &'f Flow) -> Result<&'f Stage, FlowError> {
        self.check_flow(flow)?;
        if let Some(message) = &self.denied {
            return Err(FlowError::Denied {
                message: message.clone(),
            });
        }
        let planned = self.plan.get(self.position).ok_or(FlowError::Finished)?;
        let binding = binding_for(flow, planned)?;
        if !planned.entered {
            return Err(FlowError::StageNotReady);
        }
        Ok(&binding.stage)
    }

    fn check_flow(&self, flow: &Flow) -> Result<(), FlowError> {
        if self.flow_slug != flow.slug {
            return Err(FlowError::WrongFlow {
                expected: flow.slug.clone(),
                found: self.flow_slug.clone(),
            });
        }
        Ok(())
    }

    fn check_usable(&self, flow: &Flow, now: DateTime<Utc>) -> Result<(), FlowError> {
        self.check_flow(flow)?;
        if self.is_expired(now) {
            return Err(FlowError::Expired);
        }
        Ok(())
    }

    fn complete(&mut self, redirect_to: Option<String>) -> Decision {
        self.position = self.plan.len();
        Decision::Complete {
            redirect_to: redirect_to.or_else(|| self.context.next.clone()),
        }
    }
}

fn binding_for<'f>(flow: &'f Flow, planned: &PlannedStage) -> Result<&'f StageBinding, FlowError> {
    flow.bindings
        .get(planned.binding_index)
        .filter(|binding| binding.stage.name == planned.stage_name)
        .ok_or(FlowError::FlowChanged)
}

/// A change a passed stage makes to the flow context.
#[derive(Clone, PartialEq)]
pub enum Effect {
    /// The user was identified (identification stage, source). A different user than before
    /// discards the authentication methods recorded so far.
    IdentifiedUser(UserId),
    /// The pending user proved themselves this way.
    Authenticated(AuthMethod),
    /// Prompt values (from [`crate::validate_prompt_submission`]); values of the stage's
    /// password fields are dropped even if passed here.
    PromptData(Map<String, Value>),
    /// The hash of a password chosen in a prompt, for the user-write stage.
    PasswordHashed(String),
    /// The flow continues on behalf of an upstream source.
    Source(String),
    /// An invitation was accepted; its fixed data joins the prompt data.
    Invitation(InvitationFacts),
    /// The user-write stage created or updated this user; the password hash is spent.
    UserWritten(UserId),
    /// The execution was resumed from a link (email verification or recovery).
    Restored,
}

impl std::fmt::Debug for Effect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::IdentifiedUser(id) => f.debug_tuple("IdentifiedUser").field(id).finish(),
            Self::Authenticated(method) => f.debug_tuple("Authenticated").field(method).finish(),
            Self::PromptData(data) => f
                .debug_tuple("PromptData")
                .field(&data.keys().collect::<Vec<_>>())
                .finish(),
            Self::PasswordHashed(_) => f.write_str("PasswordHashed(..)"),
            Self::Source(slug) => f.debug_tuple("Source").field(slug).finish(),
            Self::Invitation(invitation) => f
                .debug_tuple("Invitation")
                .field(&invitation.token_id)
                .finish(),
            Self::UserWritten(id) => f.debug_tuple("UserWritten").field(id).finish(),
            Self::Restored => f.write_str("Restored"),
        }
    }
}

/// What the web layer found when it ran the current stage.
#[derive(Clone, Debug, PartialEq)]
pub enum StageOutcome {
    /// The stage is satisfied; apply these effects and move on.
    Passed {
        /// Changes to the context.
        effects: Vec<Effect>,
    },
    /// The input was wrong; show the stage again with these errors (field
    /// [`crate::FORM_ERROR_FIELD`] for errors about the whole form).
    Failed {
        /// What to show next to the inputs.
        errors: Vec<ValidationError>,
    },
    /// The stage refuses to continue (no invitation, no MFA device with "deny").
    Denied {
        /// What to show; the flow's denied message when `None`.
        message: Option<String>,
    },
}

impl StageOutcome {
    /// A pass with the given effects.
    pub fn passed(effects: impl IntoIterator<Item = Effect>) -> Self {
        Self::Passed {
            effects: effects.into_iter().collect(),
        }
    }

    /// A failure with one message about the whole form.
    pub fn form_error(message: impl Into<String>) -> Self {
        Self::Failed {
            errors: vec![ValidationError::new(crate::FORM_ERROR_FIELD, message)],
        }
    }
}

/// What the web layer should do next.
#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    /// Show this stage (the current one), with errors from the last submission if any.
    Challenge {
        /// The stage to render (or, if not interactive, to carry out at once).
        stage: Stage,
        /// Errors to show next to the inputs.
        errors: Vec<ValidationError>,
    },
    /// The stage passed and another follows: redirect to the flow's URL, whose page view
    /// calls [`FlowExecutor::resolve`].
    Next,
    /// The flow is done: send the browser to `redirect_to`, or to the default page for the
    /// flow's designation when `None`.
    Complete {
        /// A validated local path (`next`) or a redirect stage's target.
        redirect_to: Option<String>,
    },
    /// The flow stops here; show the message.
    Denied {
        /// Safe to show.
        message: String,
    },
}

/// Plans and drives flows. Holds only settings, so one instance serves every request.
#[derive(Clone, Debug)]
pub struct FlowExecutor {
    lifetime: Duration,
}

impl Default for FlowExecutor {
    /// Executions live 30 minutes (longer when an email stage's links live longer).
    fn default() -> Self {
        Self {
            lifetime: Duration::minutes(30),
        }
    }
}

impl FlowExecutor {
    /// An executor whose executions live `lifetime`.
    pub fn new(lifetime: Duration) -> Self {
        Self { lifetime }
    }

    /// Plans `flow` for `request` with an empty context.
    pub async fn plan(
        &self,
        flow: &Flow,
        request: &RequestFacts,
        ports: &dyn PolicyPorts,
    ) -> Result<FlowExecution, FlowError> {
        self.plan_with_context(flow, request, ports, FlowContext::default())
            .await
    }

    /// Plans `flow` starting from `context` (an upstream source, an application being
    /// authorised, a `next` path; `next` is checked with [`safe_next`] and dropped if unsafe).
    /// Checks the flow's authentication requirement and policies, then keeps each binding
    /// whose policies pass (bindings with `evaluate_on_plan` off are kept and judged later, if
    /// at all).
    pub async fn plan_with_context(
        &self,
        flow: &Flow,
        request: &RequestFacts,
        ports: &dyn PolicyPorts,
        mut context: FlowContext,
    ) -> Result<FlowExecution, FlowError> {
        context.next = context.next.as_deref().and_then(safe_next);
        self.check_authentication(flow, request, ports).await?;

        let mut policies =
            PolicyRequest::new(ports, request, &context, &flow.slug, flow.designation);
        let verdict = policies
            .evaluate_all(&flow.policies, flow.policy_mode)
            .await?;
        if !verdict.passing {
            tracing::info!(
                flow = %flow.slug,
                reasons = ?verdict.reasons,
                errors = ?verdict.errors,
                "flow does not apply"
            );
            return Err(FlowError::Denied {
                message: flow.denied_message().to_owned(),
            });
        }

        let mut plan = Vec::new();
        let mut lifetime = self.lifetime;
        for index in flow.ordered_binding_indexes() {
            let binding = &flow.bindings[index];
            if binding.evaluate_on_plan && !binding.policies.is_empty() {
                let verdict = policies
                    .evaluate_all(&binding.policies, binding.policy_mode)
                    .await?;
                log_verdict(flow, binding, &verdict, "planning");
                if !verdict.passing {
                    continue;
                }
            }
            if let StageKind::Email {
                token_expiry_minutes,
                ..
            } = binding.stage.kind
            {
                lifetime = lifetime.max(Duration::minutes(i64::from(token_expiry_minutes)));
            }
            plan.push(PlannedStage {
                binding_index: index,
                stage_name: binding.stage.name.clone(),
                entered: false,
            });
        }
        drop(policies);

        Ok(FlowExecution {
            id: Uuid::new_v4(),
            flow_slug: flow.slug.clone(),
            plan,
            position: 0,
            context,
            created_at: request.now,
            expires_at: request.now + lifetime,
            denied: None,
        })
    }

    async fn check_authentication(
        &self,
        flow: &Flow,
        request: &RequestFacts,
        ports: &dyn PolicyPorts,
    ) -> Result<(), FlowError> {
        match (flow.authentication, request.user) {
            (FlowAuthentication::None, _) => Ok(()),
            (FlowAuthentication::RequireAuthenticated, Some(_)) => Ok(()),
            (FlowAuthentication::RequireUnauthenticated, None) => Ok(()),
            (FlowAuthentication::RequireUnauthenticated, Some(_)) => Err(FlowError::Denied {
                message: "You are already signed in.".into(),
            }),
            (
                FlowAuthentication::RequireAuthenticated | FlowAuthentication::RequireSuperuser,
                None,
            ) => Err(FlowError::AuthenticationRequired),
            (FlowAuthentication::RequireSuperuser, Some(user)) => {
                let superuser = ports
                    .effective_groups(user)
                    .await?
                    .iter()
                    .any(|group| group.is_superuser);
                if superuser {
                    Ok(())
                } else {
                    Err(FlowError::Denied {
                        message: flow.denied_message().to_owned(),
                    })
                }
            }
        }
    }

    /// Brings the execution to a stage to show: re-evaluates the policies of the stage being
    /// reached when its binding has `re_evaluate` (skipping it, and the next, while they fail),
    /// carries out deny and redirect stages, and reports the result. Calling it again without
    /// a submission in between shows the same stage.
    pub async fn resolve(
        &self,
        flow: &Flow,
        execution: &mut FlowExecution,
        request: &RequestFacts,
        ports: &dyn PolicyPorts,
    ) -> Result<Decision, FlowError> {
        execution.check_usable(flow, request.now)?;
        if let Some(message) = &execution.denied {
            return Ok(Decision::Denied {
                message: message.clone(),
            });
        }
        loop {
            let Some(planned) = execution.plan.get(execution.position) else {
                return Ok(execution.complete(None));
            };
            let binding = binding_for(flow, planned)?;
            if !planned.entered {
                if binding.re_evaluate && !binding.policies.is_empty() {
                    let verdict = PolicyRequest::new(
                        ports,
                        request,
                        &execution.context,
                        &flow.slug,
                        flow.designation,
                    )
                    .evaluate_all(&binding.policies, binding.policy_mode)
                    .await?;
                    log_verdict(flow, binding, &verdict, "re-evaluation");
                    if !verdict.passing {
                        execution.position += 1;
                        continue;
                    }
                }
                if let Some(planned) = execution.plan.get_mut(execution.position) {
                    planned.entered = true;
                }
            }
            return Ok(match &binding.stage.kind {
                StageKind::Deny { message } => {
                    let message = if message.trim().is_empty() {
                        flow.denied_message().to_owned()
                    } else {
                        message.clone()
                    };
                    execution.denied = Some(message.clone());
                    Decision::Denied { message }
                }
                StageKind::Redirect { to } => execution.complete(Some(to.location())),
                _ => Decision::Challenge {
                    stage: binding.stage.clone(),
                    errors: Vec::new(),
                },
            });
        }
    }

    /// Records the outcome of the current stage (which [`FlowExecutor::resolve`] must have
    /// shown) and says what happens next.
    pub fn advance(
        &self,
        flow: &Flow,
        execution: &mut FlowExecution,
        outcome: StageOutcome,
        now: DateTime<Utc>,
    ) -> Result<Decision, FlowError> {
        execution.check_usable(flow, now)?;
        if let Some(message) = &execution.denied {
            return Ok(Decision::Denied {
                message: message.clone(),
            });
        }
        let stage = execution.current_stage(flow)?;
        match outcome {
            StageOutcome::Failed { errors } => Ok(Decision::Challenge {
                stage: stage.clone(),
                errors,
            }),
            StageOutcome::Denied { message } => {
                let message = message
                    .filter(|m| !m.trim().is_empty())
                    .unwrap_or_else(|| flow.denied_message().to_owned());
                tracing::info!(flow = %flow.slug, stage = %stage.name, "stage denied the flow");
                execution.denied = Some(message.clone());
                Ok(Decision::Denied { message })
            }
            StageOutcome::Passed { effects } => {
                let secret_fields: Vec<&str> = match &stage.kind {
                    StageKind::Prompt { fields } => fields
                        .iter()
                        .filter(|f| f.kind == PromptFieldKind::Password)
                        .map(|f| f.name.as_str())
                        .collect(),
                    _ => Vec::new(),
                };
                for effect in effects {
                    apply(&mut execution.context, effect, &secret_fields);
                }
                execution.position += 1;
                if execution.is_complete() {
                    Ok(execution.complete(None))
                } else {
                    Ok(Decision::Next)
                }
            }
        }
    }
}

fn apply(context: &mut FlowContext, effect: Effect, secret_fields: &[&str]) {
    match effect {
        Effect::IdentifiedUser(user) => {
            if context.pending_user != Some(user) {
                context.authenticated_methods.clear();
            }
            context.pending_user = Some(user);
        }
        Effect::Authenticated(method) => {
            if !context.authenticated_methods.contains(&method) {
                context.authenticated_methods.push(method);
            }
        }
        Effect::PromptData(data) => {
            for (key, value) in data {
                if !secret_fields.contains(&key.as_str()) {
                    context.prompt_data.insert(key, value);
                }
            }
        }
        Effect::PasswordHashed(hash) => context.password_hash = Some(hash),
        Effect::Source(slug) => context.source = Some(slug),
        Effect::Invitation(invitation) => {
            for (key, value) in &invitation.fixed_data {
                context.prompt_data.insert(key.clone(), value.clone());
            }
            context.invitation = Some(invitation);
        }
        Effect::UserWritten(user) => {
            context.pending_user = Some(user);
            context.password_hash = None;
        }
        Effect::Restored => context.is_restored = true,
    }
}

fn log_verdict(
    flow: &Flow,
    binding: &StageBinding,
    verdict: &crate::policy::PolicyVerdict,
    when: &str,
) {
    if !verdict.errors.is_empty() {
        tracing::warn!(
            flow = %flow.slug,
            stage = %binding.stage.name,
            errors = ?verdict.errors,
            "policy could not be evaluated during {when}; it counts as not passing"
        );
    }
    if !verdict.passing {
        tracing::debug!(
            flow = %flow.slug,
            stage = %binding.stage.name,
            reasons = ?verdict.reasons,
            "stage skipped during {when}: its policies did not pass"
        );
    }
}
