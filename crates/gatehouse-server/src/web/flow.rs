//! The flow executor's pages (`/if/flow/<slug>/`): plans a flow, keeps its state in an
//! encrypted cookie bound to the flow (so it survives restarts and works on any replica
//! without writing anything to the database for anonymous visitors), runs each stage's I/O,
//! and lets `gatehouse-flows` decide what comes next.
//!
//! Served today: `default-authentication-flow` (identification, password, authenticator
//! validation with TOTP, recovery codes or a passkey, user login; or a passkey alone),
//! `default-invalidation-flow` (user logout), `default-password-change` (prompt, user write),
//! `default-authenticator-totp-setup`, `default-authenticator-static-setup`,
//! `default-authenticator-webauthn-setup` (passkeys: see `webauthn.rs`),
//! `default-enrollment-flow` (invitation, prompt, user write, user login) and
//! `default-recovery-flow` (identification, email link, new password; see
//! [`super::recovery`]), and an email stage in verification mode in any flow (see
//! `flow/verification.rs`), and a source's enrollment flow (`default-source-enrollment`: prompt,
//! user write creating the user with its upstream link, then the authentication flow
//! continues). Flows are read from the store through the catalog; a stage whose page
//! is still being built stops the flow with a clear message.

mod passkeys;
mod verification;

use super::client::ClientIp;
use super::{cookies, csrf, enrollment, mfa, pages, recovery, recovery_codes, session, webauthn};
use crate::authn::{self, LoginError};
use crate::services::Services;
use crate::throttle::{LoginThrottle, ThrottleVerdict};
use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::header::{LOCATION, USER_AGENT};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{Duration, Utc};
use gatehouse_core::{
    AuditContext, AuthenticationMethod, Change, Group, StoreError, User, UserId, ValidationError,
};
use gatehouse_flows::{
    AuthMethod, Decision, Effect, FORM_ERROR_FIELD, Flow, FlowDesignation, FlowError,
    FlowExecution, FlowExecutor, NotConfiguredAction, PolicyPorts, PromptField, PromptFieldKind,
    RequestFacts, SourceEnrollment, Stage, StageKind, StageOutcome, safe_next,
    validate_prompt_submission,
};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::Arc;

const FLOW_COOKIE: &str = "gatehouse_flow";
/// Where a signed-in person lands when no `next` was given.
const USER_HOME: &str = "/if/user/";
/// The sign-in page.
pub(crate) const LOGIN_PATH: &str = "/if/flow/default-authentication-flow/";
/// The password page's "Stay signed in" checkbox, and where its answer waits for user login.
const REMEMBER_ME: &str = "remember_me";
/// Where a `login_hint` waits for the identification page (only ever shown, never trusted).
const LOGIN_HINT: &str = "login_hint";
/// How long a session lasts when its stage says "until the browser closes": the server still
/// ends it, so a browser that is never closed is not signed in forever.
const BROWSER_SESSION_HOURS: i64 = 12;
/// Bounds the automatic stage loop (a misconfigured flow cannot spin forever).
const MAX_AUTOMATIC_STEPS: usize = 32;

/// How a flow's authentication method is recorded in the session. A passkey counts as
/// user-verified only when it signed the user in alone, which demands user verification; as a
/// second factor its verification is preferred but not checked, so it records presence.
fn session_method(method: AuthMethod, passwordless: bool) -> AuthenticationMethod {
    match method {
        AuthMethod::Password => AuthenticationMethod::Password,
        AuthMethod::Totp => AuthenticationMethod::Totp,
        AuthMethod::Webauthn if passwordless => AuthenticationMethod::WebauthnUserVerified,
        AuthMethod::Webauthn => AuthenticationMethod::Webauthn,
        AuthMethod::Static => AuthenticationMethod::RecoveryCode,
        AuthMethod::Source => AuthenticationMethod::Source,
    }
}

/// The flow `slug` from the catalog, or the page to show instead (not found, store error).
async fn served_flow(services: &Services, slug: &str) -> Result<Arc<Flow>, Response> {
    match services.flows.get(slug).await {
        Ok(Some(flow)) => Ok(flow),
        Ok(None) => Err(pages::message(
            StatusCode::NOT_FOUND,
            &services.config.branding,
            "Not found",
            "There is no such page.",
        )),
        Err(error) => Err(store_error_page(services, error)),
    }
}

/// Query of a flow URL.
#[derive(Deserialize)]
pub(crate) struct FlowQuery {
    next: Option<String>,
    /// An invitation token (enrollment links).
    itoken: Option<String>,
    /// The secret of a recovery link.
    flow_token: Option<String>,
    /// OIDC `login_hint`: pre-fills the username field of identification.
    login_hint: Option<String>,
}

/// `GET /if/flow/<slug>/`: shows the current stage, planning the flow first when needed.
pub(crate) async fn show(
    State(services): State<Services>,
    ClientIp(peer): ClientIp,
    Path(slug): Path<String>,
    Query(query): Query<FlowQuery>,
    headers: HeaderMap,
) -> Response {
    let flow = match served_flow(&services, &slug).await {
        Ok(flow) => flow,
        Err(response) => return response,
    };
    let flow = flow.as_ref();
    if flow.designation == FlowDesignation::Recovery {
        if !services.config.email.is_configured() {
            return recovery::not_available(&services);
        }
        if let Some(token) = &query.flow_token {
            let kind = recovery::LinkKind::Recovery;
            return recovery::link_page(&services, &headers, flow_path(flow), token, kind);
        }
    } else if let Some(token) = &query.flow_token {
        let kind = recovery::LinkKind::Verification;
        return recovery::link_page(&services, &headers, flow_path(flow), token, kind);
    }
    let run = match FlowRun::new(&services, flow, peer, &headers).await {
        Ok(run) => run,
        Err(response) => return response,
    };
    let invitation = match query.itoken.as_deref() {
        Some(token) => match enrollment::invitation_from_link(&services, flow, token).await {
            Ok(facts) => Some(facts),
            Err(response) => return response,
        },
        None => None,
    };
    let stored = if query.next.is_some() || invitation.is_some() {
        None
    } else {
        run.load_state()
    };
    let mut execution = match stored {
        Some(execution) => execution,
        None => match run.plan(query.next.as_deref(), invitation).await {
            Ok(mut execution) => {
                if let Some(hint) = query.login_hint.as_deref().map(str::trim)
                    && !hint.is_empty()
                {
                    let hint: String = hint.chars().take(150).collect();
                    execution
                        .context
                        .prompt_data
                        .insert(LOGIN_HINT.into(), hint.into());
                }
                execution
            }
            Err(error) => return run.error_page(error),
        },
    };
    let decision = run
        .executor
        .resolve(flow, &mut execution, &run.facts, &run)
        .await;
    run.drive(execution, decision, Vec::new()).await
}

/// `POST /if/flow/<slug>/`: runs the current stage with the submitted form.
pub(crate) async fn submit(
    State(services): State<Services>,
    ClientIp(peer): ClientIp,
    Path(slug): Path<String>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let flow = match served_flow(&services, &slug).await {
        Ok(flow) => flow,
        Err(response) => return response,
    };
    let flow = flow.as_ref();
    if !csrf::verify(
        &services,
        &headers,
        form.get("csrf").map_or("", String::as_str),
    ) {
        return pages::message(
            StatusCode::FORBIDDEN,
            &services.config.branding,
            "Form expired",
            "This form could not be verified (missing or stale security token). Go back, reload the page and try again.",
        );
    }
    if flow.designation == FlowDesignation::Recovery && !services.config.email.is_configured() {
        return recovery::not_available(&services);
    }
    let mut run = match FlowRun::new(&services, flow, peer, &headers).await {
        Ok(run) => run,
        Err(response) => return response,
    };
    run.submitted = Some(&form);
    if let Some(token) = form.get("flow_token") {
        return match flow.designation {
            FlowDesignation::Recovery => run.restore_from_link(token).await,
            _ => run.resume_from_verification_link(token).await,
        };
    }
    let Some(execution) = run.load_state() else {
        return redirect(&flow_path(flow), Vec::new());
    };
    let stage = match execution.current_stage(flow) {
        Ok(stage) => stage.clone(),
        Err(error) => return run.drive(execution, Err(error), Vec::new()).await,
    };
    let outcome = match run.interactive_outcome(&stage, &execution, &form).await {
        Ok(outcome) => outcome,
        Err(response) => return response,
    };
    run.advance_and_show(execution, outcome).await
}

/// One request's view of a flow: the services, the flow, and the facts about the request.
struct FlowRun<'a> {
    services: &'a Services,
    flow: &'a Flow,
    facts: RequestFacts,
    audit: AuditContext,
    headers: &'a HeaderMap,
    executor: FlowExecutor,
    /// The form being submitted, so a refused prompt shows what was typed (never passwords).
    submitted: Option<&'a HashMap<String, String>>,
}

impl<'a> FlowRun<'a> {
    async fn new(
        services: &'a Services,
        flow: &'a Flow,
        peer: std::net::IpAddr,
        headers: &'a HeaderMap,
    ) -> Result<Self, Response> {
        let user_agent = headers
            .get(USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(512).collect::<String>());
        let signed_in = session::current(services, headers)
            .await
            .map_err(|e| store_error_page(services, e))?;
        Ok(Self {
            services,
            flow,
            facts: RequestFacts {
                now: Utc::now(),
                ip: Some(peer),
                user_agent: user_agent.clone(),
                user: signed_in.map(|(_, user)| user.id),
            },
            audit: AuditContext {
                actor_id: None,
                actor: "anonymous".into(),
                client_ip: Some(peer.to_string()),
                user_agent,
            },
            headers,
            executor: FlowExecutor::default(),
            submitted: None,
        })
    }

    async fn plan(
        &self,
        next: Option<&str>,
        invitation: Option<gatehouse_flows::InvitationFacts>,
    ) -> Result<FlowExecution, FlowError> {
        // Flows that configure the signed-in user's own account act on that user.
        let pending_user = match self.flow.designation {
            FlowDesignation::StageConfiguration => self.facts.user,
            _ => None,
        };
        let context = gatehouse_flows::FlowContext {
            next: next.and_then(safe_next),
            pending_user,
            invitation,
            ..Default::default()
        };
        self.executor
            .plan_with_context(self.flow, &self.facts, self, context)
            .await
    }

    /// Follows a recovery link: spends its token and starts the flow over for the user it
    /// was issued to, marked as restored (so identification and the email stage are skipped).
    async fn restore_from_link(&self, token: &str) -> Response {
        if self.facts.user.is_some() {
            // Checked before spending, so the link still works after signing out.
            return self.error_page(FlowError::Denied {
                message: "You are signed in. Sign out first to use this recovery link.".into(),
            });
        }
        let user = match recovery::spend_link(self.services, token, &self.audit).await {
            Ok(Some(user)) => user,
            Ok(None) => return recovery::link_refused(self.services),
            Err(error) => return store_error_page(self.services, error),
        };
        let context = gatehouse_flows::FlowContext {
            pending_user: Some(user),
            is_restored: true,
            ..Default::default()
        };
        match self
            .executor
            .plan_with_context(self.flow, &self.facts, self, context)
            .await
        {
            Ok(execution) => match self.state_cookie(&execution) {
                Some(cookie) => redirect(&flow_path(self.flow), vec![cookie]),
                None => self.error_page(FlowError::Finished),
            },
            Err(error) => self.error_page(error),
        }
    }

    /// Records the current stage's outcome and answers: a redirect to the next stage when
    /// one follows (post/redirect/get: the next stage is shown by a GET, so reloads never
    /// resubmit), else whatever the decision leads to.
    async fn advance_and_show(
        &self,
        mut execution: FlowExecution,
        outcome: StageOutcome,
    ) -> Response {
        match self
            .executor
            .advance(self.flow, &mut execution, outcome, Utc::now())
        {
            Ok(Decision::Next) => match self.state_cookie(&execution) {
                Some(cookie) => redirect(&flow_path(self.flow), vec![cookie]),
                None => self.error_page(FlowError::Finished),
            },
            decision => self.drive(execution, decision, Vec::new()).await,
        }
    }

    fn cookie_name(&self) -> String {
        cookies::name(FLOW_COOKIE, self.services.config.is_https())
    }

    fn seal_context(&self) -> String {
        format!("flow-state:{}", self.flow.slug)
    }

    /// The stored execution for this flow, unless missing, tampered with or expired.
    fn load_state(&self) -> Option<FlowExecution> {
        let sealed = cookies::read(self.headers, &self.cookie_name())?;
        let bytes = self
            .services
            .secret_box
            .open(&sealed, &self.seal_context())
            .ok()?;
        let execution: FlowExecution = serde_json::from_slice(&bytes).ok()?;
        (execution.flow_slug == self.flow.slug && !execution.is_expired(self.facts.now))
            .then_some(execution)
    }

    fn state_cookie(&self, execution: &FlowExecution) -> Option<String> {
        let json = serde_json::to_vec(execution).ok()?;
        let sealed = self.services.secret_box.seal(&json, &self.seal_context());
        let https = self.services.config.is_https();
        Some(cookies::set_lax(&self.cookie_name(), &sealed, https))
    }

    fn clear_state_cookie(&self) -> String {
        cookies::clear(&self.cookie_name(), self.services.config.is_https())
    }

    /// Follows decisions, carrying out non-interactive stages, until a page or redirect.
    async fn drive(
        &self,
        mut execution: FlowExecution,
        mut decision: Result<Decision, FlowError>,
        mut set_cookies: Vec<String>,
    ) -> Response {
        for _ in 0..MAX_AUTOMATIC_STEPS {
            decision = match decision {
                Err(error) => {
                    let mut response = self.error_page(error);
                    cookies::append(&mut response, &self.clear_state_cookie());
                    return response;
                }
                Ok(Decision::Next) => {
                    self.executor
                        .resolve(self.flow, &mut execution, &self.facts, self)
                        .await
                }
                Ok(Decision::Complete { redirect_to }) => {
                    if let Some(enrollment) = &execution.context.source_enrollment {
                        return self
                            .finish_source_enrollment(enrollment, &execution, set_cookies)
                            .await;
                    }
                    set_cookies.push(self.clear_state_cookie());
                    let target =
                        redirect_to.unwrap_or_else(|| self.default_destination().to_owned());
                    return redirect(&target, set_cookies);
                }
                Ok(Decision::Denied { message }) => {
                    let mut response = pages::message(
                        StatusCode::FORBIDDEN,
                        &self.services.config.branding,
                        "Access denied",
                        &message,
                    );
                    cookies::append(&mut response, &self.clear_state_cookie());
                    return response;
                }
                Ok(Decision::Challenge { stage, errors }) => {
                    let page = match self.needs_page(&stage, &execution).await {
                        Ok(page) => page,
                        Err(response) => return response,
                    };
                    if matches!(stage.kind, StageKind::TotpSetup)
                        && !execution
                            .context
                            .prompt_data
                            .contains_key(mfa::PENDING_SECRET_KEY)
                    {
                        execution.context.prompt_data.insert(
                            mfa::PENDING_SECRET_KEY.into(),
                            mfa::new_pending_secret().into(),
                        );
                    }
                    recovery_codes::prepare(&stage.kind, &mut execution);
                    if gatehouse_flows::email::is_verification(&stage.kind) {
                        if let Err(response) = self
                            .send_verification_once(&stage.kind, &mut execution)
                            .await
                        {
                            return response;
                        }
                    } else if matches!(stage.kind, StageKind::Email { .. }) {
                        recovery::request_link_once(
                            self.services,
                            &stage.kind,
                            &mut execution,
                            &self.audit,
                        )
                        .await;
                    }
                    if page && webauthn::uses_challenge(&stage.kind) {
                        webauthn::refresh_challenge(&mut execution);
                    }
                    if page {
                        return self
                            .render_stage(&stage, &execution, &errors, set_cookies)
                            .await;
                    }
                    let outcome = match self
                        .automatic_outcome(&stage, &execution, &mut set_cookies)
                        .await
                    {
                        Ok(outcome) => outcome,
                        Err(response) => return response,
                    };
                    self.executor
                        .advance(self.flow, &mut execution, outcome, Utc::now())
                }
            };
        }
        tracing::error!(flow = %self.flow.slug, "flow did not settle within {MAX_AUTOMATIC_STEPS} automatic steps");
        self.error_page(FlowError::FlowChanged)
    }

    /// Whether this execution ends in a user-login stage that allows "Stay signed in".
    fn offers_remember_me(&self, execution: &FlowExecution) -> bool {
        execution.plan.iter().any(|planned| {
            self.flow
                .bindings
                .get(planned.binding_index)
                .is_some_and(|binding| {
                    matches!(
                        binding.stage.kind,
                        StageKind::UserLogin {
                            remember_me_offset_secs,
                            ..
                        } if remember_me_offset_secs > 0
                    )
                })
        })
    }

    fn default_destination(&self) -> &'static str {
        match self.flow.designation {
            FlowDesignation::Invalidation | FlowDesignation::Recovery => LOGIN_PATH,
            _ => USER_HOME,
        }
    }

    /// Runs a stage that needs the person's input.
    async fn interactive_outcome(
        &self,
        stage: &Stage,
        execution: &FlowExecution,
        form: &HashMap<String, String>,
    ) -> Result<StageOutcome, Response> {
        match &stage.kind {
            StageKind::Identification { .. } if webauthn::has_response(form) => {
                self.passkey_sign_in(execution, form).await
            }
            StageKind::Identification { .. } => {
                let uid = form.get("uid").map_or("", |v| v.trim());
                if uid.is_empty() {
                    return Ok(StageOutcome::Failed {
                        errors: vec![ValidationError::new(
                            "uid",
                            "Enter your username or email address",
                        )],
                    });
                }
                let uid: String = uid.chars().take(150).collect();
                let user = recovery::identify(self.services, &uid)
                    .await
                    .map_err(|e| store_error_page(self.services, e))?;
                let mut data = serde_json::Map::new();
                data.insert("identifier".into(), uid.into());
                // An unknown name still moves on to the password stage, which fails the same
                // way a wrong password does: the pages never reveal whether an account exists.
                let mut effects = vec![Effect::PromptData(data)];
                if let Some(user) = user {
                    effects.push(Effect::IdentifiedUser(user.id));
                }
                Ok(StageOutcome::passed(effects))
            }
            StageKind::Password => {
                let password = form.get("password").map_or("", String::as_str);
                let username = self.pending_username(execution).await?;
                if password.is_empty() {
                    return Ok(StageOutcome::Failed {
                        errors: vec![ValidationError::new("password", "Enter your password")],
                    });
                }
                let throttle = &self.services.login_throttle;
                let (account, address) = match self.throttle_gate(&username).await {
                    Ok(keys) => keys,
                    Err(refusal) => return Ok(refusal),
                };
                match authn::verify_password(self.services, &username, password, &self.audit).await
                {
                    Ok(_) => {
                        throttle.record_success(&account).await;
                        let mut choice = serde_json::Map::new();
                        if self.offers_remember_me(execution)
                            && form.get(REMEMBER_ME).is_some_and(|v| v == "true")
                        {
                            choice.insert(REMEMBER_ME.into(), true.into());
                        }
                        Ok(StageOutcome::passed([
                            Effect::Authenticated(AuthMethod::Password),
                            Effect::PromptData(choice),
                        ]))
                    }
                    Err(LoginError::InvalidCredentials) => {
                        throttle.record_failure(&account, &address).await;
                        Ok(StageOutcome::form_error("Invalid username or password"))
                    }
                    Err(LoginError::Store(error)) => Err(store_error_page(self.services, error)),
                    Err(LoginError::Hashing) => Ok(StageOutcome::form_error(
                        "Your password could not be checked; contact an administrator",
                    )),
                }
            }
            StageKind::AuthenticatorValidate { device_classes, .. } => {
                let Some(user) = self.pending_user(execution).await? else {
                    return Ok(StageOutcome::Denied { message: None });
                };
                let code = form.get("code").map_or("", String::as_str);
                let throttle = &self.services.login_throttle;
                let (account, address) = match self.throttle_gate(&user.username).await {
                    Ok(keys) => keys,
                    Err(refusal) => return Ok(refusal),
                };
                if webauthn::has_response(form) {
                    return self
                        .passkey_second_factor(execution, &user, form, (account, address))
                        .await;
                }
                match recovery_codes::check(self.services, &user, device_classes, code)
                    .await
                    .map_err(|e| store_error_page(self.services, e))?
                {
                    Some(true) => {
                        throttle.record_success(&account).await;
                        return Ok(StageOutcome::passed([Effect::Authenticated(
                            AuthMethod::Static,
                        )]));
                    }
                    Some(false) => {
                        throttle.record_failure(&account, &address).await;
                        let message = "Invalid or already used recovery code";
                        authn::record_code_failure(self.services, &user, message, &self.audit)
                            .await;
                        return Ok(StageOutcome::form_error(message));
                    }
                    None => {}
                }
                let check = mfa::check_code(self.services, &user, code)
                    .await
                    .map_err(|e| store_error_page(self.services, e))?;
                let message = match check {
                    mfa::CodeCheck::Valid => {
                        throttle.record_success(&account).await;
                        return Ok(StageOutcome::passed([Effect::Authenticated(
                            AuthMethod::Totp,
                        )]));
                    }
                    mfa::CodeCheck::Invalid => "Invalid code",
                    mfa::CodeCheck::Replayed => {
                        "This code was already used. Wait for the next one."
                    }
                };
                throttle.record_failure(&account, &address).await;
                authn::record_code_failure(self.services, &user, message, &self.audit).await;
                Ok(StageOutcome::form_error(message))
            }
            StageKind::TotpSetup => {
                let Some(user) = self.pending_user(execution).await? else {
                    return Ok(StageOutcome::Denied { message: None });
                };
                let secret = execution
                    .context
                    .prompt_data
                    .get(mfa::PENDING_SECRET_KEY)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default();
                let name = form.get("name").map_or("", |n| n.trim());
                let name = if name.is_empty() {
                    "Authenticator app"
                } else {
                    name
                };
                let code = form.get("code").map_or("", String::as_str);
                let actor = AuditContext {
                    actor_id: Some(user.id),
                    actor: user.username.clone(),
                    ..self.audit.clone()
                };
                match mfa::confirm_setup(self.services, &user, secret, code, name, &actor).await {
                    Ok(mfa::SetupOutcome::Added) => Ok(StageOutcome::passed([])),
                    Ok(mfa::SetupOutcome::WrongCode) => Ok(StageOutcome::Failed {
                        errors: vec![ValidationError::new(
                            "code",
                            "That code does not match; check the app and try again",
                        )],
                    }),
                    Err(StoreError::Invalid(error)) => Ok(StageOutcome::Failed {
                        errors: vec![error],
                    }),
                    Err(error) => Err(store_error_page(self.services, error)),
                }
            }
            StageKind::StaticSetup { .. } => {
                let Some(user) = self.pending_user(execution).await? else {
                    return Ok(StageOutcome::Denied { message: None });
                };
                let actor = AuditContext {
                    actor_id: Some(user.id),
                    actor: user.username.clone(),
                    ..self.audit.clone()
                };
                match recovery_codes::confirm(self.services, &user, execution, &actor).await {
                    Ok(true) => Ok(StageOutcome::passed([])),
                    Ok(false) => Ok(StageOutcome::form_error(
                        "These codes could not be saved; start again",
                    )),
                    Err(error) => Err(store_error_page(self.services, error)),
                }
            }
            StageKind::WebAuthnSetup => self.passkey_setup(execution, form).await,
            StageKind::Prompt { fields } => {
                let user = self.pending_user(execution).await?;
                let mut identifiers: Vec<&str> = Vec::new();
                if let Some(user) = &user {
                    identifiers.push(&user.username);
                    identifiers.extend(user.email.as_deref());
                }
                let form = gatehouse_flows::enrollment::with_fixed_values(
                    fields,
                    form,
                    &execution.context,
                );
                let submission = match validate_prompt_submission(fields, &form, &identifiers) {
                    Ok(submission) => submission,
                    Err(errors) => return Ok(StageOutcome::Failed { errors }),
                };
                if user.is_none()
                    && let Some(error) =
                        enrollment::username_taken(self.services, fields, &submission.data)
                            .await
                            .map_err(|e| store_error_page(self.services, e))?
                {
                    return Ok(StageOutcome::Failed {
                        errors: vec![error],
                    });
                }
                let mut effects = vec![Effect::PromptData(submission.data.clone())];
                if let Some(password) = submission.secrets.get("password") {
                    match self.services.hasher.hash(password.to_string()).await {
                        Ok(hash) => effects.push(Effect::PasswordHashed(hash)),
                        Err(error) => {
                            tracing::error!(%error, "password hashing failed");
                            return Ok(StageOutcome::form_error(
                                "The password could not be saved; try again",
                            ));
                        }
                    }
                }
                Ok(StageOutcome::passed(effects))
            }
            // The "check your email" page has nothing to submit: show it again.
            StageKind::Email { .. } => Ok(StageOutcome::Failed { errors: Vec::new() }),
            _ => Ok(StageOutcome::Denied {
                message: Some("This step is not available yet.".into()),
            }),
        }
    }

    /// The throttle keys (account, address) for an attempt on `username` from this client, or
    /// the refusal to show while a wait lasts: audited, and no password or code is checked.
    async fn throttle_gate(&self, username: &str) -> Result<(String, String), StageOutcome> {
        let account = LoginThrottle::account_key(username);
        let address =
            LoginThrottle::address_key(self.audit.client_ip.as_deref().unwrap_or("unknown"));
        let keys = [account, address];
        if let ThrottleVerdict::Wait(wait) = self.services.login_throttle.check(&keys).await {
            authn::record_throttled(self.services, username, &self.audit).await;
            return Err(StageOutcome::form_error(format!(
                "Too many failed attempts. Try again in {} seconds.",
                // Rounded up: "try again in 0 seconds" would be a lie.
                (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
            )));
        }
        let [account, address] = keys;
        Ok((account, address))
    }

    /// Whether a stage is shown as a page (the rest run without input). Authenticator
    /// validation is a page only for a user with a TOTP or WebAuthn device of an accepted class.
    async fn needs_page(&self, stage: &Stage, execution: &FlowExecution) -> Result<bool, Response> {
        Ok(match &stage.kind {
            // A user-verified passkey sign-in stands in for the password and the second factor.
            StageKind::Password | StageKind::AuthenticatorValidate { .. }
                if webauthn::signed_in_passwordless(execution) =>
            {
                false
            }
            // An upstream source stands in for the password, not for the second factor.
            StageKind::Password if vouched_by_source(execution) => false,
            StageKind::Identification { .. }
            | StageKind::Password
            | StageKind::Prompt { .. }
            | StageKind::TotpSetup
            | StageKind::StaticSetup { .. }
            | StageKind::Email { .. }
            | StageKind::WebAuthnSetup => true,
            StageKind::AuthenticatorValidate { device_classes, .. } => {
                match self.pending_user(execution).await? {
                    Some(user) => {
                        let error = |e| store_error_page(self.services, e);
                        recovery_codes::has_code_device(self.services, &user, device_classes)
                            .await
                            .map_err(error)?
                            || (device_classes.contains(&gatehouse_flows::DeviceClass::Webauthn)
                                && webauthn::has_credentials(self.services, user.id)
                                    .await
                                    .map_err(error)?)
                    }
                    None => false,
                }
            }
            _ => false,
        })
    }

    async fn pending_user(&self, execution: &FlowExecution) -> Result<Option<User>, Response> {
        match execution.context.pending_user {
            Some(id) => self
                .services
                .store
                .user_by_id(id)
                .await
                .map_err(|e| store_error_page(self.services, e)),
            None => Ok(None),
        }
    }

    /// Runs a stage that needs no input (or whose input is not supported yet).
    async fn automatic_outcome(
        &self,
        stage: &Stage,
        execution: &FlowExecution,
        set_cookies: &mut Vec<String>,
    ) -> Result<StageOutcome, Response> {
        let store_error = |e| store_error_page(self.services, e);
        match &stage.kind {
            StageKind::Password | StageKind::AuthenticatorValidate { .. }
                if webauthn::signed_in_passwordless(execution) =>
            {
                Ok(StageOutcome::passed([]))
            }
            StageKind::Password if vouched_by_source(execution) => Ok(StageOutcome::passed([])),
            StageKind::AuthenticatorValidate {
                not_configured_action,
                ..
            } => {
                let has_device = match execution.context.pending_user {
                    Some(user) => self.has_mfa_device(user).await.map_err(store_error)?,
                    None => false,
                };
                if has_device {
                    // Only a device of a class this stage does not accept gets here: accepted
                    // TOTP, recovery-code and WebAuthn devices make it a page (see `needs_page`).
                    return Ok(StageOutcome::Denied {
                        message: Some(
                            "Sign-in with this kind of second factor is not available yet.".into(),
                        ),
                    });
                }
                Ok(match not_configured_action {
                    NotConfiguredAction::Skip => StageOutcome::passed([]),
                    NotConfiguredAction::Deny => StageOutcome::Denied { message: None },
                    NotConfiguredAction::Configure { .. } => StageOutcome::Denied {
                        message: Some("Setting up a second factor is not available yet.".into()),
                    },
                })
            }
            StageKind::UserLogin {
                session_duration_secs,
                remember_me_offset_secs,
            } => {
                let context = &execution.context;
                if context.source_enrollment.is_some() {
                    // A source's enrollment flow signs nobody in: the authentication flow
                    // continues once the account exists (see `finish_source_enrollment`).
                    return Ok(StageOutcome::passed([]));
                }
                if context.is_restored && context.authenticated_methods.is_empty() {
                    // A recovery link proves access to the mailbox, not a second factor: the
                    // flow ends at the sign-in page, where the new password (and any second
                    // factor) is asked for.
                    return Ok(StageOutcome::passed([]));
                }
                let user = match context.pending_user {
                    Some(id) if !context.authenticated_methods.is_empty() => self
                        .services
                        .store
                        .user_by_id(id)
                        .await
                        .map_err(store_error)?,
                    _ => None,
                };
                let Some(user) = user.filter(|u| u.active) else {
                    return Ok(StageOutcome::Denied { message: None });
                };
                let remembered = *remember_me_offset_secs > 0
                    && context.prompt_data.get(REMEMBER_ME) == Some(&serde_json::Value::Bool(true));
                let lifetime = session_lifetime(
                    *session_duration_secs,
                    remembered.then_some(*remember_me_offset_secs),
                );
                let methods: Vec<&str> = context
                    .authenticated_methods
                    .iter()
                    .map(|m| m.as_str())
                    .collect();
                let user_verified = webauthn::signed_in_passwordless(execution);
                let session_methods = context
                    .authenticated_methods
                    .iter()
                    .map(|&m| session_method(m, user_verified))
                    .collect();
                // Replace any earlier session of this browser (no fixation, no stale sessions),
                // in one transaction with the sign-in time and its `login` event.
                let previous = session::current(self.services, self.headers)
                    .await
                    .map_err(store_error)?;
                let (new_session, cookie) = session::issue(
                    self.services,
                    &user,
                    (lifetime, remembered),
                    session_methods,
                    &self.audit,
                );
                let mut changes: Vec<Change> = previous
                    .map(|(old, _)| Change::EndSession(old.id))
                    .into_iter()
                    .collect();
                changes.extend([
                    Change::StartSession(new_session),
                    Change::RecordLogin {
                        user: user.id,
                        at: Utc::now(),
                    },
                    Change::RecordEvent(authn::login_event(&user, &methods.join(","))),
                ]);
                self.services
                    .apply_changes(&changes, &authn::acting_as(&user, &self.audit))
                    .await
                    .map_err(store_error)?;
                authn::count_login_success();
                set_cookies.push(cookie);
                Ok(StageOutcome::passed([]))
            }
            StageKind::Invitation {
                continue_without_invitation,
            } => enrollment::invitation_stage(
                self.services,
                *continue_without_invitation,
                &execution.context,
            )
            .await
            .map_err(store_error),
            StageKind::UserWrite { .. } => {
                let context = &execution.context;
                // A source's enrollment flow only ever creates the upstream account's user.
                let pending = match context.source_enrollment {
                    Some(_) => None,
                    None => self.pending_user(execution).await?,
                };
                let Some(user) = pending else {
                    return enrollment::create_account(
                        self.services,
                        &stage.kind,
                        context,
                        &self.audit,
                    )
                    .await
                    .map_err(store_error);
                };
                let patch = gatehouse_core::UserPatch {
                    name: context
                        .prompt_data
                        .get("name")
                        .and_then(|v| v.as_str())
                        .map(str::to_owned),
                    email: context
                        .prompt_data
                        .get("email")
                        .and_then(|v| v.as_str())
                        .map(|e| Some(e.to_owned())),
                    ..Default::default()
                };
                let mut changes = Vec::new();
                if !patch.is_empty() {
                    changes.push(Change::UpdateUser {
                        username: user.username.clone(),
                        patch,
                    });
                }
                if let Some(hash) = &context.password_hash {
                    changes.push(Change::SetPasswordHash {
                        username: user.username.clone(),
                        hash: hash.clone(),
                    });
                    // A new password ends every other session of the user (a thief's included),
                    // in the same transaction: no window where the password changed but a
                    // stolen session lives on.
                    let current = session::current(self.services, self.headers)
                        .await
                        .map_err(store_error)?;
                    changes.push(Change::EndOtherSessions {
                        user: user.id,
                        keep: current.map(|(s, _)| s.id),
                    });
                }
                if !changes.is_empty() {
                    self.services
                        .apply_changes(&changes, &authn::acting_as(&user, &self.audit))
                        .await
                        .map_err(store_error)?;
                }
                Ok(StageOutcome::passed([Effect::UserWritten(user.id)]))
            }
            StageKind::UserLogout => {
                // The session ends in one transaction with the `logout` event recording it.
                let current = session::current(self.services, self.headers)
                    .await
                    .map_err(store_error)?;
                if let Some((ended, user)) = current {
                    let event = gatehouse_core::NewEvent::about_model(
                        gatehouse_core::EventAction::Logout,
                        "user",
                        user.id,
                        &user.username,
                    );
                    let changes = vec![Change::EndSession(ended.id), Change::RecordEvent(event)];
                    self.services
                        .apply_changes(&changes, &authn::acting_as(&user, &self.audit))
                        .await
                        .map_err(store_error)?;
                }
                set_cookies.push(session::clear_cookie(self.services));
                Ok(StageOutcome::passed([]))
            }
            _ => Ok(StageOutcome::Denied {
                message: Some("This step is not available yet.".into()),
            }),
        }
    }

    async fn pending_username(&self, execution: &FlowExecution) -> Result<String, Response> {
        if let Some(id) = execution.context.pending_user
            && let Some(user) = self
                .services
                .store
                .user_by_id(id)
                .await
                .map_err(|e| store_error_page(self.services, e))?
        {
            return Ok(user.username);
        }
        Ok(execution
            .context
            .prompt_data
            .get("identifier")
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned())
    }

    async fn render_stage(
        &self,
        stage: &Stage,
        execution: &FlowExecution,
        errors: &[ValidationError],
        mut set_cookies: Vec<String>,
    ) -> Response {
        let uid = match &stage.kind {
            StageKind::Password => match self.pending_username(execution).await {
                Ok(name) => name,
                Err(response) => return response,
            },
            _ => {
                let data = &execution.context.prompt_data;
                data.get("identifier")
                    .or_else(|| data.get(LOGIN_HINT))
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_owned()
            }
        };
        let (csrf, csrf_cookie) = csrf::form_token(self.services, self.headers);
        set_cookies.extend(csrf_cookie);
        match self.state_cookie(execution) {
            Some(cookie) => set_cookies.push(cookie),
            None => return self.error_page(FlowError::Finished),
        }
        // Prompt pages show field errors next to their inputs; elsewhere (one input per page)
        // the first error is shown at the top.
        let form_error = match &stage.kind {
            StageKind::Prompt { .. } => errors
                .iter()
                .find(|e| e.field == FORM_ERROR_FIELD)
                .map(|e| e.message.clone()),
            _ => errors.first().map(|e| e.message.clone()),
        };
        let fields = match &stage.kind {
            StageKind::Prompt { fields } => fields
                .iter()
                .filter(|f| f.kind != PromptFieldKind::Hidden)
                .map(|f| {
                    FieldView::of(f, errors)
                        .prefilled(source_prefill(&execution.context, &f.name))
                        .typed(self.submitted.and_then(|form| form.get(&f.name)))
                        .fixed_to(gatehouse_flows::enrollment::fixed_value(
                            f,
                            &execution.context,
                        ))
                })
                .collect(),
            _ => Vec::new(),
        };
        let setup = match &stage.kind {
            StageKind::TotpSetup => {
                let user = match self.pending_user(execution).await {
                    Ok(Some(user)) => user,
                    Ok(None) => return self.error_page(FlowError::AuthenticationRequired),
                    Err(response) => return response,
                };
                let secret = execution
                    .context
                    .prompt_data
                    .get(mfa::PENDING_SECRET_KEY)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default();
                mfa::setup_view(self.services, secret, &user)
            }
            _ => None,
        };
        let pending = match self.pending_user(execution).await {
            Ok(user) => user,
            Err(response) => return response,
        };
        let ceremony =
            match webauthn::ceremony_view(self.services, &stage.kind, execution, pending.as_ref())
                .await
            {
                Ok(view) => view,
                Err(error) => return store_error_page(self.services, error),
            };
        let source_buttons = match &stage.kind {
            StageKind::Identification { sources, .. } => {
                match self.source_buttons(sources, execution).await {
                    Ok(buttons) => buttons,
                    Err(response) => return response,
                }
            }
            _ => Vec::new(),
        };
        let page = FlowPage {
            source_buttons,
            remember_me: matches!(stage.kind, StageKind::Password)
                && self.offers_remember_me(execution),
            ceremony,
            fields,
            brand: &self.services.config.branding,
            heading: if self.flow.title.is_empty() {
                "Sign in"
            } else {
                &self.flow.title
            },
            action: flow_path(self.flow),
            kind: stage.kind.type_name(),
            qr_svg: setup.as_ref().map(|v| v.qr_svg.clone()).unwrap_or_default(),
            totp_secret: setup.as_ref().map(|v| v.secret.clone()).unwrap_or_default(),
            totp_uri: setup.map(|v| v.uri).unwrap_or_default(),
            recovery_codes: match &stage.kind {
                StageKind::StaticSetup { .. } => recovery_codes::pending(execution),
                _ => Vec::new(),
            },
            notice: match &stage.kind {
                kind if gatehouse_flows::email::is_verification(kind) => {
                    verification::stage_notice(execution, kind)
                }
                StageKind::Email { .. } => recovery::stage_notice(execution, &stage.kind),
                StageKind::Prompt { .. } => source_enrollment_notice(&execution.context),
                _ => String::new(),
            },
            recovery_link: match &stage.kind {
                StageKind::Identification {
                    recovery_flow: Some(slug),
                    ..
                } if self.services.config.email.is_configured() => {
                    Some(format!("/if/flow/{slug}/"))
                }
                _ => None,
            },
            csrf,
            uid,
            form_error,
        };
        let status = if errors.is_empty() {
            StatusCode::OK
        } else {
            StatusCode::BAD_REQUEST
        };
        let mut response = pages::render(status, &page);
        for cookie in &set_cookies {
            cookies::append(&mut response, cookie);
        }
        // When the flow returns to an authorization request, its last form submission ends
        // (through redirects) at the client, which `form-action` must therefore allow.
        if let Some(next) = &execution.context.next
            && let Some(target) = super::oidc::redirect_target_of_next(self.services, next).await
            && let Some(policy) = super::oidc::csp_for_form_target(&target)
        {
            response
                .headers_mut()
                .insert(axum::http::header::CONTENT_SECURITY_POLICY, policy);
        }
        response
    }

    /// "Sign in with …" buttons: the enabled sources the identification stage lists, or
    /// every enabled source when it lists none.
    async fn source_buttons(
        &self,
        listed: &[String],
        execution: &FlowExecution,
    ) -> Result<Vec<SourceButton>, Response> {
        let all = self
            .services
            .store
            .list_sources()
            .await
            .map_err(|e| store_error_page(self.services, e))?;
        Ok(all
            .into_iter()
            .filter(|s| s.settings.enabled)
            .filter(|s| listed.is_empty() || listed.iter().any(|l| l == s.slug()))
            .map(|s| SourceButton {
                href: super::source::login_url(
                    s.slug(),
                    &self.flow.slug,
                    execution.context.next.as_deref(),
                ),
                slug: s.settings.slug,
                name: s.settings.name,
            })
            .collect())
    }

    fn error_page(&self, error: FlowError) -> Response {
        let brand = &self.services.config.branding;
        match error {
            FlowError::Expired
            | FlowError::FlowChanged
            | FlowError::Finished
            | FlowError::WrongFlow { .. }
            | FlowError::StageNotReady => {
                redirect(&flow_path(self.flow), vec![self.clear_state_cookie()])
            }
            FlowError::AuthenticationRequired => redirect(
                &format!("{LOGIN_PATH}?next={}", flow_path(self.flow)),
                Vec::new(),
            ),
            FlowError::Denied { message } => {
                pages::message(StatusCode::FORBIDDEN, brand, "Access denied", &message)
            }
            FlowError::Ports(error) => store_error_page(self.services, error),
        }
    }
}

#[async_trait::async_trait]
impl PolicyPorts for FlowRun<'_> {
    async fn user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        self.services.store.user_by_id(id).await
    }

    async fn effective_groups(&self, id: UserId) -> Result<Vec<Group>, StoreError> {
        self.services.store.effective_groups(id).await
    }

    async fn has_mfa_device(&self, id: UserId) -> Result<bool, StoreError> {
        Ok(!self.services.store.devices_of(id).await?.is_empty())
    }
}

/// One prompt input as the template needs it.
struct FieldView {
    name: String,
    label: String,
    input_type: &'static str,
    autocomplete: &'static str,
    required: bool,
    value: String,
    readonly: bool,
    error: Option<String>,
}

impl FieldView {
    fn of(field: &PromptField, errors: &[ValidationError]) -> Self {
        let (input_type, autocomplete) = match field.kind {
            PromptFieldKind::Password => ("password", "new-password"),
            PromptFieldKind::Email => ("email", "email"),
            PromptFieldKind::Username => ("text", "username"),
            PromptFieldKind::Number => ("number", "off"),
            PromptFieldKind::Checkbox => ("checkbox", "off"),
            PromptFieldKind::Text | PromptFieldKind::TextArea | PromptFieldKind::Hidden => {
                ("text", "off")
            }
        };
        Self {
            name: field.name.clone(),
            label: field.label.clone(),
            input_type,
            autocomplete,
            required: field.required,
            // Passwords are never echoed back.
            value: match field.kind {
                PromptFieldKind::Password => String::new(),
                _ => field.initial_value.clone().unwrap_or_default(),
            },
            readonly: false,
            error: errors
                .iter()
                .find(|e| e.field == field.name)
                .map(|e| e.message.clone()),
        }
    }

    /// The same input pre-filled with `value` (an upstream account's, in a source's
    /// enrollment flow); never for passwords.
    fn prefilled(self, value: Option<&str>) -> Self {
        match value {
            Some(value) if !matches!(self.input_type, "password" | "checkbox") => Self {
                value: value.to_owned(),
                ..self
            },
            _ => self,
        }
    }

    /// The same input showing what was just typed into it (never for passwords).
    fn typed(self, value: Option<&String>) -> Self {
        match value {
            Some(value) if !matches!(self.input_type, "password" | "checkbox") => Self {
                value: value.chars().take(1024).collect(),
                ..self
            },
            _ => self,
        }
    }

    /// The same input, read-only with `value` when the flow's invitation fixes it.
    fn fixed_to(self, value: Option<&str>) -> Self {
        match value {
            Some(value) => Self {
                value: value.to_owned(),
                readonly: true,
                ..self
            },
            None => self,
        }
    }
}

/// A "Sign in with …" link on the identification page.
struct SourceButton {
    slug: String,
    name: String,
    href: String,
}

#[derive(Template)]
#[template(path = "flow.html")]
struct FlowPage<'a> {
    /// Upstream sources offered on the identification page.
    source_buttons: Vec<SourceButton>,
    fields: Vec<FieldView>,
    /// Whether the password page offers "Stay signed in".
    remember_me: bool,
    ceremony: Option<webauthn::CeremonyView>,
    qr_svg: String,
    totp_secret: String,
    totp_uri: String,
    recovery_codes: Vec<String>,
    brand: &'a crate::config::BrandingConfig,
    heading: &'a str,
    action: String,
    kind: &'static str,
    /// What the email stage's page says.
    notice: String,
    /// "Forgot password?" target on the identification page, when email is configured.
    recovery_link: Option<String>,
    csrf: String,
    uid: String,
    form_error: Option<String>,
}

/// A session's server-side lifetime: the stage's duration (or [`BROWSER_SESSION_HOURS`] for
/// "until the browser closes"), plus the remember-me offset when the person asked to stay
/// signed in.
fn session_lifetime(duration_secs: u64, remember_me_offset_secs: Option<u64>) -> Duration {
    // A flow may say anything; more than ten years is read as ten years (chrono panics on
    // durations beyond its range, and nobody means a longer session).
    const TEN_YEARS_SECS: u64 = 3653 * 24 * 3600;
    let seconds = |secs: u64| Duration::seconds(secs.min(TEN_YEARS_SECS) as i64);
    let base = if duration_secs == 0 {
        Duration::hours(BROWSER_SESSION_HOURS)
    } else {
        seconds(duration_secs)
    };
    match remember_me_offset_secs {
        Some(offset) => base + seconds(offset),
        None => base,
    }
}

/// Whether an upstream source vouched for the pending user in this execution.
fn vouched_by_source(execution: &FlowExecution) -> bool {
    execution
        .context
        .authenticated_methods
        .contains(&AuthMethod::Source)
}

/// Resumes flow `flow_slug` after upstream source `source` vouched for `user`: plans the flow
/// (with the source in its context, for `from_source` policies and `next`), passes its
/// identification stage as that user authenticated by the source, and continues. A password
/// stage is skipped for such a user; authenticator validation (MFA) still applies.
pub(crate) async fn continue_after_source(
    services: &Services,
    peer: std::net::IpAddr,
    headers: &HeaderMap,
    flow_slug: &str,
    next: Option<String>,
    user: UserId,
    source: &str,
) -> Response {
    let flow = match served_flow(services, flow_slug).await {
        Ok(flow) => flow,
        Err(response) => return response,
    };
    let flow = flow.as_ref();
    let run = match FlowRun::new(services, flow, peer, headers).await {
        Ok(run) => run,
        Err(response) => return response,
    };
    let context = gatehouse_flows::FlowContext {
        next: next.as_deref().and_then(safe_next),
        source: Some(source.to_owned()),
        ..Default::default()
    };
    let mut execution = match run
        .executor
        .plan_with_context(flow, &run.facts, &run, context)
        .await
    {
        Ok(execution) => execution,
        Err(error) => return run.error_page(error),
    };
    let accepts_source = match run
        .executor
        .resolve(flow, &mut execution, &run.facts, &run)
        .await
    {
        Ok(Decision::Challenge { stage, .. }) => match &stage.kind {
            StageKind::Identification { sources, .. } => {
                sources.is_empty() || sources.iter().any(|s| s == source)
            }
            _ => false,
        },
        Ok(decision) => return run.drive(execution, Ok(decision), Vec::new()).await,
        Err(error) => return run.error_page(error),
    };
    if !accepts_source {
        return pages::message(
            StatusCode::FORBIDDEN,
            &services.config.branding,
            "Access denied",
            "This sign-in page does not accept this sign-in method.",
        );
    }
    let outcome = StageOutcome::passed([
        Effect::IdentifiedUser(user),
        Effect::Authenticated(AuthMethod::Source),
        Effect::Source(source.to_owned()),
    ]);
    run.advance_and_show(execution, outcome).await
}

/// Starts `flow_slug`, a source's enrollment flow, for a new upstream account: plans it with
/// the source and the account in its context and the upstream values as prompt data (shown
/// pre-filled; the flow's policies may skip the prompt when nothing is missing), and sends the
/// browser to it.
pub(crate) async fn start_source_enrollment(
    services: &Services,
    peer: std::net::IpAddr,
    headers: &HeaderMap,
    flow_slug: &str,
    next: Option<String>,
    (prompt_data, enrollment): (serde_json::Map<String, serde_json::Value>, SourceEnrollment),
) -> Response {
    let flow = match served_flow(services, flow_slug).await {
        Ok(flow) => flow,
        Err(response) => return response,
    };
    let flow = flow.as_ref();
    if flow.designation != FlowDesignation::Enrollment {
        tracing::error!(source = %enrollment.source, flow = %flow.slug, "a source's enrollment flow must have the enrollment designation");
        return pages::message(
            StatusCode::BAD_GATEWAY,
            &services.config.branding,
            "Sign-in service unavailable",
            "Signing in with this service is not set up correctly; tell the administrator.",
        );
    }
    let run = match FlowRun::new(services, flow, peer, headers).await {
        Ok(run) => run,
        Err(response) => return response,
    };
    let context = gatehouse_flows::FlowContext {
        next: next.as_deref().and_then(safe_next),
        source: Some(enrollment.source.clone()),
        prompt_data,
        source_enrollment: Some(enrollment),
        ..Default::default()
    };
    match run
        .executor
        .plan_with_context(flow, &run.facts, &run, context)
        .await
    {
        Ok(execution) => match run.state_cookie(&execution) {
            Some(cookie) => redirect(&flow_path(flow), vec![cookie]),
            None => run.error_page(FlowError::Finished),
        },
        Err(error) => run.error_page(error),
    }
}

impl FlowRun<'_> {
    /// The end of a source's enrollment flow: the authentication flow continues as the user
    /// it created, authenticated by the source (its MFA stages and user login still run).
    /// Only the user linked to this upstream account qualifies, whatever else the flow did.
    /// The authentication flow's state replaces this flow's in the one flow cookie, so that
    /// cookie is cleared only when the flow ends here.
    async fn finish_source_enrollment(
        &self,
        enrollment: &SourceEnrollment,
        execution: &FlowExecution,
        mut set_cookies: Vec<String>,
    ) -> Response {
        let store = &self.services.store;
        let linked = match store.source_by_slug(&enrollment.source).await {
            Ok(Some(source)) => store
                .source_connection(source.id, &enrollment.upstream_id)
                .await
                .map(|c| c.map(|c| c.user_id)),
            Ok(None) => Ok(None),
            Err(error) => Err(error),
        };
        let user = match linked {
            Ok(Some(linked)) if execution.context.pending_user == Some(linked) => linked,
            Ok(_) => {
                set_cookies.push(self.clear_state_cookie());
                let mut response = pages::message(
                    StatusCode::FORBIDDEN,
                    &self.services.config.branding,
                    "Access denied",
                    "No account was created for your upstream account. Sign in again, or ask \
                     an administrator.",
                );
                for cookie in &set_cookies {
                    cookies::append(&mut response, cookie);
                }
                return response;
            }
            Err(error) => return store_error_page(self.services, error),
        };
        let peer = self
            .facts
            .ip
            .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
        let mut response = Box::pin(continue_after_source(
            self.services,
            peer,
            self.headers,
            &enrollment.authentication_flow,
            execution.context.next.clone(),
            user,
            &enrollment.source,
        ))
        .await;
        for cookie in &set_cookies {
            cookies::append(&mut response, cookie);
        }
        response
    }
}

/// The upstream value a prompt field starts with in a source's enrollment flow.
fn source_prefill<'c>(context: &'c gatehouse_flows::FlowContext, field: &str) -> Option<&'c str> {
    context.source_enrollment.as_ref()?;
    context.prompt_data.get(field)?.as_str()
}

/// What a source's enrollment prompt says about the upstream username.
fn source_enrollment_notice(context: &gatehouse_flows::FlowContext) -> String {
    match &context.source_enrollment {
        Some(SourceEnrollment {
            unusable_username: Some(name),
            ..
        }) => format!(
            "The username \u{201c}{name}\u{201d} from your upstream account is already taken \
             here or not allowed. Choose another one."
        ),
        Some(_) if !context.prompt_data.contains_key("username") => {
            "Choose a username for your account here.".to_owned()
        }
        Some(_) => "Check your account details.".to_owned(),
        None => String::new(),
    }
}

fn flow_path(flow: &Flow) -> String {
    format!("/if/flow/{}/", flow.slug)
}

/// A 303 to a local path (every target here is either ours or passed [`safe_next`]).
fn redirect(target: &str, set_cookies: Vec<String>) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(location) = HeaderValue::from_str(target) {
        response.headers_mut().insert(LOCATION, location);
    }
    for cookie in &set_cookies {
        cookies::append(&mut response, cookie);
    }
    response
}

pub(crate) fn store_error_page(services: &Services, error: StoreError) -> Response {
    let brand = &services.config.branding;
    match error {
        StoreError::Unavailable => pages::message(
            StatusCode::SERVICE_UNAVAILABLE,
            brand,
            "Temporarily unavailable",
            "Gatehouse cannot reach its database right now. Try again in a moment.",
        ),
        other => {
            tracing::error!(error = %other, "flow step failed");
            pages::message(
                StatusCode::INTERNAL_SERVER_ERROR,
                brand,
                "Something went wrong",
                "Try again in a moment.",
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_lifetimes() {
        assert_eq!(session_lifetime(0, None), Duration::hours(12));
        assert_eq!(session_lifetime(3600, None), Duration::hours(1));
        assert_eq!(
            session_lifetime(0, Some(30 * 24 * 3600)),
            Duration::hours(12) + Duration::days(30)
        );
        assert_eq!(
            session_lifetime(u64::MAX, Some(u64::MAX)),
            Duration::days(2 * 3653),
            "absurd values saturate instead of panicking"
        );
    }
}
