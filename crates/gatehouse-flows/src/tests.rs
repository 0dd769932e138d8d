//! Executor tests against an in-memory [`PolicyPorts`]: planning with policies, skipping and
//! re-evaluation, every decision, expiry, and serialisation of flows and executions.

use crate::*;
use async_trait::async_trait;
use chrono::{DateTime, Duration, TimeZone, Utc};
use gatehouse_core::{Group, GroupId, StoreError, TokenId, User, UserId, UserType};
use serde_json::{Map, Value, json};
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::task::{Context, Poll, Waker};

/// Runs a future whose awaits never pend (the fake ports answer at once).
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(value) = future.as_mut().poll(&mut cx) {
            return value;
        }
    }
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5)
        .single()
        .expect("valid time")
}

#[derive(Default)]
struct FakePorts {
    users: HashMap<UserId, User>,
    groups: HashMap<UserId, Vec<Group>>,
    mfa: HashSet<UserId>,
    unavailable: bool,
}

impl FakePorts {
    fn add_user(&mut self, username: &str, groups: &[(&str, bool)], attributes: Value) -> UserId {
        let id = UserId::new();
        let attributes = match attributes {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        self.users.insert(
            id,
            User {
                id,
                username: username.into(),
                name: username.into(),
                email: Some(format!("{username}@example.com")),
                email_verified: true,
                active: true,
                user_type: UserType::Internal,
                password_hash: None,
                attributes,
                created_at: t0(),
                updated_at: t0(),
                last_login: None,
            },
        );
        self.groups.insert(
            id,
            groups
                .iter()
                .map(|(name, is_superuser)| Group {
                    id: GroupId::new(),
                    name: (*name).into(),
                    parent_id: None,
                    is_superuser: *is_superuser,
                    attributes: Map::new(),
                    created_at: t0(),
                })
                .collect(),
        );
        id
    }

    fn check(&self) -> Result<(), StoreError> {
        if self.unavailable {
            Err(StoreError::Unavailable)
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl PolicyPorts for FakePorts {
    async fn user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        self.check()?;
        Ok(self.users.get(&id).cloned())
    }
    async fn effective_groups(&self, id: UserId) -> Result<Vec<Group>, StoreError> {
        self.check()?;
        Ok(self.groups.get(&id).cloned().unwrap_or_default())
    }
    async fn has_mfa_device(&self, id: UserId) -> Result<bool, StoreError> {
        self.check()?;
        Ok(self.mfa.contains(&id))
    }
}

fn request(user: Option<UserId>) -> RequestFacts {
    RequestFacts {
        now: t0(),
        ip: Some("10.1.2.3".parse().expect("ip")),
        user_agent: Some("test-agent/1.0".into()),
        user,
    }
}

fn group(name: &str) -> PolicyBinding {
    PolicyBinding::new(Policy::GroupMembership { group: name.into() })
}

fn expression(text: &str) -> PolicyBinding {
    PolicyBinding::new(Policy::Expression {
        expression: text.into(),
    })
}

fn guarded(order: i32, name: &str, policies: Vec<PolicyBinding>, mode: PolicyMode) -> StageBinding {
    StageBinding {
        policies,
        policy_mode: mode,
        ..StageBinding::new(order, Stage::new(name, StageKind::Password))
    }
}

fn planned_names(flow: &Flow, execution: &FlowExecution) -> Vec<String> {
    execution
        .plan
        .iter()
        .map(|p| flow.bindings[p.binding_index].stage.name.clone())
        .collect()
}

fn plan(flow: &Flow, request: &RequestFacts, ports: &FakePorts) -> FlowExecution {
    block_on(FlowExecutor::default().plan(flow, request, ports)).expect("plan")
}

fn resolve(
    flow: &Flow,
    execution: &mut FlowExecution,
    request: &RequestFacts,
    ports: &FakePorts,
) -> Decision {
    block_on(FlowExecutor::default().resolve(flow, execution, request, ports)).expect("resolve")
}

fn advance(flow: &Flow, execution: &mut FlowExecution, outcome: StageOutcome) -> Decision {
    FlowExecutor::default()
        .advance(flow, execution, outcome, t0())
        .expect("advance")
}

fn challenged(decision: &Decision) -> &str {
    match decision {
        Decision::Challenge { stage, .. } => &stage.name,
        other => panic!("expected a challenge, got {other:?}"),
    }
}

/// identification → password → login, the smallest useful login flow.
fn login_flow() -> Flow {
    let mut flow = Flow::new("login", "Login", "Welcome", FlowDesignation::Authentication);
    flow.bindings = vec![
        StageBinding::new(
            10,
            Stage::new(
                "identify",
                StageKind::Identification {
                    user_fields: vec![UserField::Username],
                    sources: vec![],
                    enrollment_flow: None,
                    recovery_flow: None,
                },
            ),
        ),
        StageBinding::new(20, Stage::new("password", StageKind::Password)),
        StageBinding::new(
            30,
            Stage::new(
                "login",
                StageKind::UserLogin {
                    session_duration_secs: 0,
                    remember_me_offset_secs: 0,
                },
            ),
        ),
    ];
    flow
}

#[test]
fn planning_keeps_only_bindings_whose_policies_pass() {
    let mut ports = FakePorts::default();
    let alice = ports.add_user("alice", &[("staff", false)], json!({"department": "eng"}));
    let mut flow = Flow::new("f", "F", "F", FlowDesignation::Authentication);
    flow.bindings = vec![
        guarded(0, "open", vec![], PolicyMode::All),
        guarded(1, "staff", vec![group("staff")], PolicyMode::All),
        guarded(
            2,
            "not-staff",
            vec![group("staff").negated()],
            PolicyMode::All,
        ),
        guarded(
            3,
            "eng",
            vec![expression("user.attributes.department == 'eng'")],
            PolicyMode::All,
        ),
        guarded(
            4,
            "any",
            vec![group("admins"), group("staff")],
            PolicyMode::Any,
        ),
        guarded(
            5,
            "all",
            vec![group("admins"), group("staff")],
            PolicyMode::All,
        ),
        guarded(
            6,
            "not-admins",
            vec![group("admins").negated()],
            PolicyMode::All,
        ),
        guarded(
            7,
            "office",
            vec![expression("cidr(request.ip, '10.0.0.0/8')")],
            PolicyMode::All,
        ),
    ];
    let execution = plan(&flow, &request(Some(alice)), &ports);
    assert_eq!(
        planned_names(&flow, &execution),
        ["open", "staff", "eng", "any", "not-admins", "office"]
    );

    // An anonymous visitor is in no group and has no attributes.
    let execution = plan(&flow, &request(None), &ports);
    assert_eq!(
        planned_names(&flow, &execution),
        ["open", "not-staff", "not-admins", "office"]
    );
}

#[test]
fn mfa_and_source_policies() {
    let mut ports = FakePorts::default();
    let alice = ports.add_user("alice", &[], json!({}));
    let bob = ports.add_user("bob", &[], json!({}));
    ports.mfa.insert(alice);
    let mut flow = Flow::new("f", "F", "F", FlowDesignation::Authentication);
    flow.bindings = vec![
        guarded(
            0,
            "mfa",
            vec![PolicyBinding::new(Policy::HasMfaDevice)],
            PolicyMode::All,
        ),
        guarded(
            1,
            "any-source",
            vec![PolicyBinding::new(Policy::FromSource { source: None })],
            PolicyMode::All,
        ),
        guarded(
            2,
            "forgejo",
            vec![PolicyBinding::new(Policy::FromSource {
                source: Some("forgejo".into()),
            })],
            PolicyMode::All,
        ),
        guarded(
            3,
            "ctx",
            vec![expression("context.source == 'github'")],
            PolicyMode::All,
        ),
    ];
    assert_eq!(
        planned_names(&flow, &plan(&flow, &request(Some(alice)), &ports)),
        ["mfa"]
    );
    assert!(planned_names(&flow, &plan(&flow, &request(Some(bob)), &ports)).is_empty());

    let context = FlowContext {
        source: Some("github".into()),
        ..FlowContext::default()
    };
    let execution = block_on(FlowExecutor::default().plan_with_context(
        &flow,
        &request(Some(bob)),
        &ports,
        context,
    ))
    .expect("plan");
    assert_eq!(planned_names(&flow, &execution), ["any-source", "ctx"]);
}

#[test]
fn a_failing_expression_never_passes_even_when_negated() {
    let ports = FakePorts::default();
    let mut flow = Flow::new("f", "F", "F", FlowDesignation::Authentication);
    flow.bindings = vec![
        guarded(
            0,
            "type-error",
            vec![expression("user.username < 3").negated()],
            PolicyMode::All,
        ),
        guarded(
            1,
            "unparsable",
            vec![expression("user.username ==").negated()],
            PolicyMode::Any,
        ),
        guarded(
            2,
            "fine",
            vec![expression("user.is_authenticated").negated()],
            PolicyMode::All,
        ),
    ];
    let execution = plan(&flow, &request(None), &ports);
    assert_eq!(planned_names(&flow, &execution), ["fine"]);
}

#[test]
fn storage_errors_abort_instead_of_skipping_stages() {
    let mut ports = FakePorts::default();
    let alice = ports.add_user("alice", &[("staff", false)], json!({}));
    ports.unavailable = true;
    let mut flow = login_flow();
    flow.bindings[1].policies.push(group("staff"));
    let err = block_on(FlowExecutor::default().plan(&flow, &request(Some(alice)), &ports))
        .expect_err("store down");
    assert_eq!(err, FlowError::Ports(StoreError::Unavailable));
}

#[test]
fn a_full_run_challenges_moves_on_and_completes() {
    let mut ports = FakePorts::default();
    let alice = ports.add_user("alice", &[], json!({}));
    let flow = login_flow();
    let context = FlowContext {
        next: Some("/application/o/authorize/?client_id=grafana".into()),
        ..FlowContext::default()
    };
    let req = request(None);
    let mut execution =
        block_on(FlowExecutor::default().plan_with_context(&flow, &req, &ports, context))
            .expect("plan");
    assert_eq!(
        execution.expires_at - execution.created_at,
        Duration::minutes(30)
    );

    assert_eq!(
        challenged(&resolve(&flow, &mut execution, &req, &ports)),
        "identify"
    );
    // Showing the page again shows the same stage.
    assert_eq!(
        challenged(&resolve(&flow, &mut execution, &req, &ports)),
        "identify"
    );
    assert_eq!(
        advance(
            &flow,
            &mut execution,
            StageOutcome::passed([Effect::IdentifiedUser(alice)])
        ),
        Decision::Next
    );
    assert_eq!(
        challenged(&resolve(&flow, &mut execution, &req, &ports)),
        "password"
    );
    assert_eq!(
        execution.current_stage(&flow).map(|s| s.name.as_str()),
        Ok("password")
    );

    let wrong = advance(
        &flow,
        &mut execution,
        StageOutcome::form_error("Invalid password"),
    );
    let Decision::Challenge { stage, errors } = wrong else {
        panic!("expected the password stage again");
    };
    assert_eq!(stage.name, "password");
    assert_eq!(errors[0].field, FORM_ERROR_FIELD);
    assert_eq!(errors[0].message, "Invalid password");

    assert_eq!(
        advance(
            &flow,
            &mut execution,
            StageOutcome::passed([Effect::Authenticated(AuthMethod::Password)])
        ),
        Decision::Next
    );
    assert_eq!(
        challenged(&resolve(&flow, &mut execution, &req, &ports)),
        "login"
    );
    assert_eq!(
        advance(&flow, &mut execution, StageOutcome::passed([])),
        Decision::Complete {
            redirect_to: Some("/application/o/authorize/?client_id=grafana".into())
        }
    );
    assert!(execution.is_complete());
    assert_eq!(execution.context.pending_user, Some(alice));
    assert_eq!(
        execution.context.authenticated_methods,
        [AuthMethod::Password]
    );

    // A finished execution cannot take more submissions; viewing it completes again.
    assert_eq!(
        FlowExecutor::default().advance(&flow, &mut execution, StageOutcome::passed([]), t0()),
        Err(FlowError::Finished)
    );
    assert!(matches!(
        resolve(&flow, &mut execution, &req, &ports),
        Decision::Complete { .. }
    ));
}

#[test]
fn re_evaluation_uses_what_earlier_stages_learned() {
    let mut ports = FakePorts::default();
    let alice = ports.add_user("alice", &[], json!({}));
    let bob = ports.add_user("bob", &[], json!({}));
    ports.mfa.insert(alice);
    let mut flow = login_flow();
    flow.bindings.push(StageBinding {
        policies: vec![PolicyBinding::new(Policy::HasMfaDevice)],
        evaluate_on_plan: false,
        re_evaluate: true,
        ..StageBinding::new(
            25,
            Stage::new(
                "mfa",
                StageKind::AuthenticatorValidate {
                    device_classes: vec![DeviceClass::Totp],
                    not_configured_action: NotConfiguredAction::Deny,
                },
            ),
        )
    });
    let req = request(None);
    for (user, expected) in [(alice, "mfa"), (bob, "login")] {
        let mut execution = plan(&flow, &req, &ports);
        // Planned anonymously: the MFA binding is kept for later judgement.
        assert_eq!(
            planned_names(&flow, &execution),
            ["identify", "password", "mfa", "login"]
        );
        resolve(&flow, &mut execution, &req, &ports);
        advance(
            &flow,
            &mut execution,
            StageOutcome::passed([Effect::IdentifiedUser(user)]),
        );
        resolve(&flow, &mut execution, &req, &ports);
        advance(
            &flow,
            &mut execution,
            StageOutcome::passed([Effect::Authenticated(AuthMethod::Password)]),
        );
        assert_eq!(
            challenged(&resolve(&flow, &mut execution, &req, &ports)),
            expected
        );
    }

    // With evaluate_on_plan, the anonymous plan would have dropped it for good.
    flow.bindings[3].evaluate_on_plan = true;
    let execution = plan(&flow, &req, &ports);
    assert_eq!(
        planned_names(&flow, &execution),
        ["identify", "password", "login"]
    );
}

#[test]
fn consecutive_failing_re_evaluations_complete_the_flow() {
    let ports = FakePorts::default();
    let mut flow = Flow::new("f", "F", "F", FlowDesignation::Authentication);
    for (order, name) in [(0, "a"), (1, "b")] {
        let mut binding = guarded(order, name, vec![group("nobody")], PolicyMode::All);
        binding.evaluate_on_plan = false;
        binding.re_evaluate = true;
        flow.bindings.push(binding);
    }
    let req = request(None);
    let mut execution = plan(&flow, &req, &ports);
    assert_eq!(execution.plan.len(), 2);
    assert_eq!(
        resolve(&flow, &mut execution, &req, &ports),
        Decision::Complete { redirect_to: None }
    );
}

#[test]
fn denials_from_stages_outcomes_and_flow_policies() {
    let mut ports = FakePorts::default();
    let alice = ports.add_user("alice", &[], json!({}));
    let req = request(None);

    // A stage outcome denies; the execution stays denied.
    let mut flow = login_flow();
    flow.denied_message = Some("Ask the helpdesk.".into());
    let mut execution = plan(&flow, &req, &ports);
    resolve(&flow, &mut execution, &req, &ports);
    let denied = Decision::Denied {
        message: "Ask the helpdesk.".into(),
    };
    assert_eq!(
        advance(
            &flow,
            &mut execution,
            StageOutcome::Denied { message: None }
        ),
        denied
    );
    assert_eq!(resolve(&flow, &mut execution, &req, &ports), denied);
    assert_eq!(
        advance(&flow, &mut execution, StageOutcome::passed([])),
        denied
    );

    // A deny stage, reached only by users outside "staff".
    let mut flow = login_flow();
    flow.bindings.push(StageBinding {
        policies: vec![group("staff").negated()],
        evaluate_on_plan: false,
        re_evaluate: true,
        ..StageBinding::new(
            15,
            Stage::new(
                "staff-only",
                StageKind::Deny {
                    message: "Staff only.".into(),
                },
            ),
        )
    });
    let mut execution = plan(&flow, &req, &ports);
    resolve(&flow, &mut execution, &req, &ports);
    advance(
        &flow,
        &mut execution,
        StageOutcome::passed([Effect::IdentifiedUser(alice)]),
    );
    assert_eq!(
        resolve(&flow, &mut execution, &req, &ports),
        Decision::Denied {
            message: "Staff only.".into()
        }
    );

    // Flow-level policies refuse the whole flow with its message.
    let mut flow = login_flow();
    flow.policies
        .push(expression("request.user_agent != 'test-agent/1.0'"));
    flow.denied_message = Some("Not from this client.".into());
    assert_eq!(
        block_on(FlowExecutor::default().plan(&flow, &req, &ports)),
        Err(FlowError::Denied {
            message: "Not from this client.".into()
        })
    );
}

#[test]
fn redirect_stages_and_empty_plans_complete() {
    let ports = FakePorts::default();
    let req = request(None);
    let mut flow = Flow::new("r", "R", "R", FlowDesignation::Authentication);
    flow.bindings.push(StageBinding::new(
        0,
        Stage::new(
            "elsewhere",
            StageKind::Redirect {
                to: RedirectTarget::Flow {
                    slug: "default-enrollment-flow".into(),
                },
            },
        ),
    ));
    let mut execution = plan(&flow, &req, &ports);
    assert_eq!(
        resolve(&flow, &mut execution, &req, &ports),
        Decision::Complete {
            redirect_to: Some("/if/flow/default-enrollment-flow/".into())
        }
    );

    let flows = default_flows();
    let implicit = flows
        .iter()
        .find(|f| f.slug == defaults::DEFAULT_IMPLICIT_CONSENT_FLOW)
        .expect("implicit consent flow");
    let mut ports = FakePorts::default();
    let alice = ports.add_user("alice", &[], json!({}));
    let req = request(Some(alice));
    let mut execution = plan(implicit, &req, &ports);
    assert_eq!(
        resolve(implicit, &mut execution, &req, &ports),
        Decision::Complete { redirect_to: None }
    );
}

#[test]
fn expired_executions_are_refused() {
    let ports = FakePorts::default();
    let flow = login_flow();
    let req = request(None);
    let mut execution = plan(&flow, &req, &ports);
    resolve(&flow, &mut execution, &req, &ports);
    let late = RequestFacts {
        now: t0() + Duration::minutes(30),
        ..request(None)
    };
    assert_eq!(
        block_on(FlowExecutor::default().resolve(&flow, &mut execution, &late, &ports)),
        Err(FlowError::Expired)
    );
    assert_eq!(
        FlowExecutor::default().advance(&flow, &mut execution, StageOutcome::passed([]), late.now),
        Err(FlowError::Expired)
    );
    // A shorter configured lifetime applies, and email links stretch it.
    let short = FlowExecutor::new(Duration::minutes(5));
    let execution = block_on(short.plan(&flow, &req, &ports)).expect("plan");
    assert_eq!(execution.expires_at, t0() + Duration::minutes(5));
    let recovery = default_flows()
        .into_iter()
        .find(|f| f.slug == defaults::DEFAULT_RECOVERY_FLOW)
        .expect("recovery");
    let execution = block_on(short.plan(&recovery, &req, &ports)).expect("plan");
    assert_eq!(execution.expires_at, t0() + Duration::minutes(30));
}

#[test]
fn misuse_is_reported() {
    let ports = FakePorts::default();
    let mut flow = login_flow();
    let req = request(None);
    let mut execution = plan(&flow, &req, &ports);
    // A submission before the stage was shown.
    assert_eq!(
        FlowExecutor::default().advance(&flow, &mut execution, StageOutcome::passed([]), t0()),
        Err(FlowError::StageNotReady)
    );
    resolve(&flow, &mut execution, &req, &ports);
    // Another flow's execution.
    let other = Flow::new("other", "O", "O", FlowDesignation::Authentication);
    assert!(matches!(
        execution.current_stage(&other),
        Err(FlowError::WrongFlow { .. })
    ));
    // The flow was edited underneath.
    flow.bindings.remove(0);
    assert_eq!(execution.current_stage(&flow), Err(FlowError::FlowChanged));
}

#[test]
fn authentication_requirements_are_checked_when_planning() {
    let mut ports = FakePorts::default();
    let alice = ports.add_user("alice", &[("staff", false)], json!({}));
    let root = ports.add_user("root", &[("gatehouse-admins", true)], json!({}));
    let mut flow = login_flow();
    let plan_for =
        |flow: &Flow, user| block_on(FlowExecutor::default().plan(flow, &request(user), &ports));

    flow.authentication = FlowAuthentication::RequireAuthenticated;
    assert_eq!(
        plan_for(&flow, None).err(),
        Some(FlowError::AuthenticationRequired)
    );
    assert!(plan_for(&flow, Some(alice)).is_ok());

    flow.authentication = FlowAuthentication::RequireUnauthenticated;
    assert!(plan_for(&flow, None).is_ok());
    assert!(matches!(
        plan_for(&flow, Some(alice)),
        Err(FlowError::Denied { .. })
    ));

    flow.authentication = FlowAuthentication::RequireSuperuser;
    assert_eq!(
        plan_for(&flow, None).err(),
        Some(FlowError::AuthenticationRequired)
    );
    assert!(matches!(
        plan_for(&flow, Some(alice)),
        Err(FlowError::Denied { .. })
    ));
    assert!(plan_for(&flow, Some(root)).is_ok());
}

#[test]
fn unsafe_next_is_dropped_when_planning() {
    let ports = FakePorts::default();
    let flow = login_flow();
    for (given, kept) in [
        ("//evil.example/", None),
        ("https://evil.example/", None),
        ("/if/user/", Some("/if/user/")),
    ] {
        let context = FlowContext {
            next: Some(given.into()),
            ..FlowContext::default()
        };
        let execution = block_on(FlowExecutor::default().plan_with_context(
            &flow,
            &request(None),
            &ports,
            context,
        ))
        .expect("plan");
        assert_eq!(execution.context.next.as_deref(), kept, "{given}");
    }
}

#[test]
fn effects_update_the_context_safely() {
    let mut ports = FakePorts::default();
    let alice = ports.add_user("alice", &[], json!({}));
    let mallory = ports.add_user("mallory", &[], json!({}));
    let flows = default_flows();
    let enrollment = flows
        .iter()
        .find(|f| f.slug == defaults::DEFAULT_ENROLLMENT_FLOW)
        .expect("enrollment");
    let req = request(None);
    let mut execution = plan(enrollment, &req, &ports);

    assert_eq!(
        challenged(&resolve(enrollment, &mut execution, &req, &ports)),
        "default-enrollment-invitation"
    );
    let invitation = InvitationFacts {
        token_id: TokenId::new(),
        fixed_data: json!({"email": "new@example.com"})
            .as_object()
            .cloned()
            .unwrap_or_default(),
    };
    advance(
        enrollment,
        &mut execution,
        StageOutcome::passed([Effect::Invitation(invitation)]),
    );
    assert_eq!(execution.context.prompt_data["email"], "new@example.com");

    resolve(enrollment, &mut execution, &req, &ports);
    // Even if the caller passes the raw form, password fields never enter the context.
    let data = json!({"username": "newbie", "password": "hunter2hunter2", "password_repeat": "hunter2hunter2"});
    advance(
        enrollment,
        &mut execution,
        StageOutcome::passed([
            Effect::PromptData(data.as_object().cloned().unwrap_or_default()),
            Effect::PasswordHashed("$argon2id$v=19$hash".into()),
        ]),
    );
    assert!(!execution.context.prompt_data.contains_key("password"));
    assert!(
        !execution
            .context
            .prompt_data
            .contains_key("password_repeat")
    );
    assert_eq!(execution.context.prompt_data["username"], "newbie");
    assert!(execution.context.password_hash.is_some());

    resolve(enrollment, &mut execution, &req, &ports);
    advance(
        enrollment,
        &mut execution,
        StageOutcome::passed([Effect::UserWritten(alice)]),
    );
    assert_eq!(execution.context.pending_user, Some(alice));
    assert_eq!(execution.context.password_hash, None, "the hash is spent");

    // Switching the identified user forgets how the previous one authenticated.
    let context = FlowContext {
        pending_user: Some(alice),
        authenticated_methods: vec![AuthMethod::Password],
        ..FlowContext::default()
    };
    let flow = login_flow();
    let mut execution =
        block_on(FlowExecutor::default().plan_with_context(&flow, &req, &ports, context))
            .expect("plan");
    resolve(&flow, &mut execution, &req, &ports);
    advance(
        &flow,
        &mut execution,
        StageOutcome::passed([Effect::IdentifiedUser(mallory)]),
    );
    assert!(execution.context.authenticated_methods.is_empty());
}

#[test]
fn recovery_links_skip_identification_and_email() {
    let mut ports = FakePorts::default();
    let alice = ports.add_user("alice", &[], json!({}));
    let recovery = default_flows()
        .into_iter()
        .find(|f| f.slug == defaults::DEFAULT_RECOVERY_FLOW)
        .expect("recovery");
    let req = request(None);

    let mut fresh = plan(&recovery, &req, &ports);
    assert_eq!(
        challenged(&resolve(&recovery, &mut fresh, &req, &ports)),
        "default-recovery-identification"
    );

    let restored = FlowContext {
        pending_user: Some(alice),
        is_restored: true,
        ..FlowContext::default()
    };
    let mut execution =
        block_on(FlowExecutor::default().plan_with_context(&recovery, &req, &ports, restored))
            .expect("plan");
    assert_eq!(
        challenged(&resolve(&recovery, &mut execution, &req, &ports)),
        "default-recovery-new-password"
    );
}

#[test]
fn the_source_enrollment_flow_runs_only_for_a_source_and_asks_only_when_needed() {
    let ports = FakePorts::default();
    let flow = default_flows()
        .into_iter()
        .find(|f| f.slug == defaults::DEFAULT_SOURCE_ENROLLMENT_FLOW)
        .expect("source enrollment");
    let req = request(None);
    let executor = FlowExecutor::default();
    let started =
        |context: FlowContext| block_on(executor.plan_with_context(&flow, &req, &ports, context));

    // Opened directly, without a source: refused.
    assert!(matches!(
        started(FlowContext::default()),
        Err(FlowError::Denied { .. })
    ));

    let from_source = |data: Value| FlowContext {
        source: Some("forgejo".into()),
        prompt_data: data.as_object().cloned().unwrap_or_default(),
        source_enrollment: Some(SourceEnrollment {
            source: "forgejo".into(),
            upstream_id: "42".into(),
            upstream_username: Some("carol".into()),
            unusable_username: None,
            verified_email: None,
            groups: Vec::new(),
            authentication_flow: defaults::DEFAULT_AUTHENTICATION_FLOW.into(),
        }),
        ..FlowContext::default()
    };
    // A taken (so not pre-filled) username: the prompt asks.
    let mut taken = started(from_source(json!({"email": "c@example.com"}))).expect("plan");
    assert_eq!(
        planned_names(&flow, &taken),
        [
            "default-source-enrollment-prompt",
            "default-source-enrollment-write"
        ]
    );
    assert_eq!(
        challenged(&resolve(&flow, &mut taken, &req, &ports)),
        "default-source-enrollment-prompt"
    );
    // Everything usable: straight to the user write.
    let complete = started(from_source(
        json!({"username": "ivan", "email": "ivan@example.com"}),
    ))
    .expect("plan");
    assert_eq!(
        planned_names(&flow, &complete),
        ["default-source-enrollment-write"]
    );
}

#[test]
fn passkey_only_sign_in() {
    let mut ports = FakePorts::default();
    let alice = ports.add_user("alice", &[], json!({}));
    ports.mfa.insert(alice);
    let mut flow = Flow::new(
        "passkey-login",
        "Passkey login",
        "Sign in with a passkey",
        FlowDesignation::Authentication,
    );
    flow.bindings = vec![
        StageBinding::new(
            10,
            Stage::new(
                "identify",
                StageKind::Identification {
                    user_fields: vec![UserField::Username, UserField::Email],
                    sources: vec![],
                    enrollment_flow: None,
                    recovery_flow: None,
                },
            ),
        ),
        StageBinding::new(
            20,
            Stage::new(
                "passkey",
                StageKind::AuthenticatorValidate {
                    device_classes: vec![DeviceClass::Webauthn],
                    not_configured_action: NotConfiguredAction::Deny,
                },
            ),
        ),
        StageBinding::new(
            30,
            Stage::new(
                "login",
                StageKind::UserLogin {
                    session_duration_secs: 0,
                    remember_me_offset_secs: 0,
                },
            ),
        ),
    ];
    flow.validate().expect("valid");
    let req = request(None);
    let mut execution = plan(&flow, &req, &ports);
    resolve(&flow, &mut execution, &req, &ports);
    advance(
        &flow,
        &mut execution,
        StageOutcome::passed([Effect::IdentifiedUser(alice)]),
    );
    let Decision::Challenge { stage, .. } = resolve(&flow, &mut execution, &req, &ports) else {
        panic!("passkey challenge expected");
    };
    assert!(matches!(
        stage.kind,
        StageKind::AuthenticatorValidate { ref device_classes, .. } if device_classes == &[DeviceClass::Webauthn]
    ));
    advance(
        &flow,
        &mut execution,
        StageOutcome::passed([Effect::Authenticated(AuthMethod::Webauthn)]),
    );
    resolve(&flow, &mut execution, &req, &ports);
    assert_eq!(
        advance(&flow, &mut execution, StageOutcome::passed([])),
        Decision::Complete { redirect_to: None }
    );
    assert_eq!(
        execution.context.authenticated_methods,
        [AuthMethod::Webauthn]
    );
}

#[test]
fn an_execution_survives_serialisation_mid_flow() {
    let mut ports = FakePorts::default();
    let alice = ports.add_user("alice", &[], json!({}));
    let flow = login_flow();
    let req = request(None);
    let mut execution = plan(&flow, &req, &ports);
    resolve(&flow, &mut execution, &req, &ports);
    advance(
        &flow,
        &mut execution,
        StageOutcome::passed([Effect::IdentifiedUser(alice)]),
    );
    resolve(&flow, &mut execution, &req, &ports);

    let stored = serde_json::to_string(&execution).expect("serialise");
    let mut restored: FlowExecution = serde_json::from_str(&stored).expect("deserialise");
    assert_eq!(restored, execution);
    assert_eq!(serde_json::to_string(&restored).expect("again"), stored);

    // Another replica picks it up where it was.
    assert_eq!(
        restored.current_stage(&flow).map(|s| s.name.as_str()),
        Ok("password")
    );
    advance(
        &flow,
        &mut restored,
        StageOutcome::passed([Effect::Authenticated(AuthMethod::Password)]),
    );
    resolve(&flow, &mut restored, &req, &ports);
    assert!(matches!(
        advance(&flow, &mut restored, StageOutcome::passed([])),
        Decision::Complete { .. }
    ));
}

#[test]
fn flows_round_trip_through_json_and_yaml_exactly() {
    let mut flows = default_flows();
    // Exercise every optional part too.
    let mut extra = login_flow();
    extra.policies.push(expression("'a' in ['a']"));
    extra.policy_mode = PolicyMode::Any;
    extra.denied_message = Some("No.".into());
    extra.bindings[1].policies.push(group("staff").negated());
    extra.bindings[1].re_evaluate = true;
    let mut field = PromptField::new("code", "Code", PromptFieldKind::Text, false);
    field.regex = Some("[0-9]{6}".into());
    field.placeholder = Some("123456".into());
    extra.bindings.push(StageBinding::new(
        40,
        Stage::new(
            "p",
            StageKind::Prompt {
                fields: vec![field],
            },
        ),
    ));
    extra.bindings.push(StageBinding::new(
        50,
        Stage::new(
            "c",
            StageKind::Consent {
                mode: ConsentMode::Remembered {
                    duration_secs: 3600,
                },
            },
        ),
    ));
    flows.push(extra);

    for flow in &flows {
        let json = serde_json::to_string(flow).expect("json");
        let back: Flow = serde_json::from_str(&json).expect("from json");
        assert_eq!(&back, flow, "{}", flow.slug);
        assert_eq!(serde_json::to_string(&back).expect("json again"), json);

        let yaml = serde_yaml::to_string(flow).expect("yaml");
        let back: Flow = serde_yaml::from_str(&yaml).expect("from yaml");
        assert_eq!(&back, flow, "{}", flow.slug);
    }
}

#[test]
fn a_flow_reads_naturally_as_yaml() {
    let yaml = r#"
slug: staff-login
name: Staff login
title: Sign in
designation: authentication
bindings:
  - order: 10
    stage: { name: identify, type: identification, user_fields: [username, email], sources: [forgejo] }
  - order: 20
    stage: { name: password, type: password }
    policies:
      - { type: from_source, negate: true }
  - order: 30
    stage:
      name: mfa
      type: authenticator_validate
      device_classes: [totp, webauthn]
      not_configured_action: { action: configure, flow: default-authenticator-totp-setup }
    policies:
      - type: expression
        expression: "not cidr(request.ip, '10.0.0.0/8')"
    re_evaluate: true
  - order: 100
    stage: { name: login, type: user_login, session_duration_secs: 0 }
"#;
    let flow: Flow = serde_yaml::from_str(yaml).expect("yaml flow");
    flow.validate().expect("valid");
    assert_eq!(flow.bindings.len(), 4);
    assert!(flow.bindings[1].policies[0].negate);
    assert_eq!(flow.authentication, FlowAuthentication::None);
}

/// The default enrollment flow with an email verification stage before the login.
fn enrollment_with_verification() -> Flow {
    let mut flow = default_flows()
        .into_iter()
        .find(|f| f.slug == defaults::DEFAULT_ENROLLMENT_FLOW)
        .expect("enrollment");
    flow.bindings.push(StageBinding::new(
        50,
        Stage::new(
            "verify-email",
            StageKind::Email {
                purpose: EmailPurpose::Verification,
                token_expiry_minutes: 60 * 24,
                subject: "Confirm your email address".into(),
                template: "email/verification.html".into(),
            },
        ),
    ));
    flow
}

#[test]
fn a_verification_link_resumes_only_its_waiting_execution() {
    let mut ports = FakePorts::default();
    let alice = ports.add_user("alice", &[], json!({}));
    let mallory = ports.add_user("mallory", &[], json!({}));
    let flow = enrollment_with_verification();
    let req = request(None);
    let context = FlowContext {
        invitation: Some(InvitationFacts {
            token_id: TokenId::new(),
            fixed_data: Map::new(),
        }),
        ..FlowContext::default()
    };
    let mut execution =
        block_on(FlowExecutor::default().plan_with_context(&flow, &req, &ports, context))
            .expect("plan");
    assert!(
        execution.expires_at - t0() >= Duration::hours(24),
        "the execution lives as long as its link"
    );

    let now = t0() + Duration::minutes(5);
    // Before the email stage is reached, no link resumes anything.
    assert_eq!(
        challenged(&resolve(&flow, &mut execution, &req, &ports)),
        "default-enrollment-invitation"
    );
    assert_eq!(
        email::resume_after_verification(&flow, &execution, alice, now),
        Err(email::LinkRefusal::NotWaiting)
    );
    advance(&flow, &mut execution, StageOutcome::passed([]));
    resolve(&flow, &mut execution, &req, &ports);
    advance(&flow, &mut execution, StageOutcome::passed([]));
    resolve(&flow, &mut execution, &req, &ports);
    advance(
        &flow,
        &mut execution,
        StageOutcome::passed([
            Effect::UserWritten(alice),
            Effect::Authenticated(AuthMethod::Password),
        ]),
    );
    assert_eq!(
        challenged(&resolve(&flow, &mut execution, &req, &ports)),
        "verify-email"
    );
    assert!(email::is_verification(
        &execution.current_stage(&flow).expect("stage").kind
    ));

    // The stored state survives a round trip (it waits in the database with the link).
    let stored = serde_json::to_vec(&execution).expect("serialise");
    let mut resumed: FlowExecution = serde_json::from_slice(&stored).expect("deserialise");

    assert_eq!(
        email::resume_after_verification(&flow, &resumed, mallory, now),
        Err(email::LinkRefusal::WrongUser)
    );
    let mut other = flow.clone();
    other.slug = "other-enrollment".into();
    assert_eq!(
        email::resume_after_verification(&other, &resumed, alice, now),
        Err(email::LinkRefusal::WrongFlow)
    );
    assert_eq!(
        email::resume_after_verification(&flow, &resumed, alice, resumed.expires_at),
        Err(email::LinkRefusal::Expired)
    );
    let mut edited = flow.clone();
    if let Some(binding) = edited.bindings.last_mut() {
        binding.stage.name = "renamed".into();
    }
    assert_eq!(
        email::resume_after_verification(&edited, &resumed, alice, now),
        Err(email::LinkRefusal::NotWaiting)
    );

    let outcome = email::resume_after_verification(&flow, &resumed, alice, now).expect("resumes");
    assert_eq!(advance(&flow, &mut resumed, outcome), Decision::Next);
    assert!(resumed.context.is_restored);
    assert_eq!(resumed.context.pending_user, Some(alice));
    assert_eq!(
        resumed.context.authenticated_methods,
        vec![AuthMethod::Password],
        "what the flow learned before the email survives the link"
    );
    assert_eq!(
        challenged(&resolve(&flow, &mut resumed, &req, &ports)),
        "default-enrollment-login"
    );
}

#[test]
fn recovery_email_stages_are_not_verification() {
    let recovery = default_flows()
        .into_iter()
        .find(|f| f.slug == defaults::DEFAULT_RECOVERY_FLOW)
        .expect("recovery");
    assert!(
        recovery
            .bindings
            .iter()
            .all(|b| !email::is_verification(&b.stage.kind))
    );
}
