//! Policies: yes/no questions about the user and the request that decide whether a flow
//! applies and which of its stage bindings run. Mirrors authentik's policy bindings (group
//! membership, "has MFA device", "came from a source", expression policies, `negate`, and the
//! all/any engine mode).
//!
//! Failure semantics differ from authentik in one deliberate way: a policy whose evaluation
//! fails (a type error in an expression) does **not** pass, whether or not it is negated, so a
//! broken expression can never turn into a grant. Storage errors are not policy results at all:
//! they abort the step ([`crate::FlowError::Ports`]), because silently skipping a stage (such
//! as MFA) when the database hiccups would fail open.

use crate::context::{FlowContext, RequestFacts};
use crate::expression::{Expression, ExpressionError};
use crate::flow::FlowDesignation;
use async_trait::async_trait;
use gatehouse_core::{Group, StoreError, User, UserId, ValidationError};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// What the engine needs from storage to evaluate policies. The server implements it over
/// `gatehouse_core::Store` and the device store; tests use an in-memory fake.
#[async_trait]
pub trait PolicyPorts: Send + Sync {
    /// The user, if it exists.
    async fn user(&self, id: UserId) -> Result<Option<User>, StoreError>;
    /// The groups the user is in directly or through a descendant (ancestors included).
    async fn effective_groups(&self, id: UserId) -> Result<Vec<Group>, StoreError>;
    /// Whether the user has at least one confirmed MFA device (TOTP, WebAuthn or static).
    async fn has_mfa_device(&self, id: UserId) -> Result<bool, StoreError>;
}

/// A policy. Serialised with a `type` tag: `{ "type": "group_membership", "group": "staff" }`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Policy {
    /// The user is effectively (directly or through a subgroup) in the group.
    GroupMembership {
        /// Group name.
        group: String,
    },
    /// The user has a confirmed MFA device.
    HasMfaDevice,
    /// The flow was started by an upstream source (a particular one when `source` is set).
    FromSource {
        /// Source slug; `None` accepts any source.
        #[serde(default)]
        source: Option<String>,
    },
    /// An expression in Gatehouse's policy language (see [`crate::expression`]).
    Expression {
        /// The expression text.
        expression: String,
    },
}

impl Policy {
    /// Checks the policy when it is saved; expression errors carry their column.
    pub fn validate(&self) -> Result<(), ValidationError> {
        match self {
            Self::GroupMembership { group } => gatehouse_core::validate::group_name(group)
                .map_err(|e| ValidationError::new("group", e.message)),
            Self::Expression { expression } => Expression::parse(expression)
                .map(drop)
                .map_err(|e: ExpressionError| ValidationError::new("expression", e.to_string())),
            Self::FromSource {
                source: Some(source),
            } => crate::flow::validate_slug(source)
                .map_err(|message| ValidationError::new("source", message)),
            _ => Ok(()),
        }
    }
}

/// A policy attached to a flow or stage binding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyBinding {
    /// The policy.
    #[serde(flatten)]
    pub policy: Policy,
    /// Invert the result (a policy that fails to evaluate still does not pass).
    #[serde(default)]
    pub negate: bool,
}

impl PolicyBinding {
    /// A binding of `policy`, not negated.
    pub fn new(policy: Policy) -> Self {
        Self {
            policy,
            negate: false,
        }
    }

    /// The same binding, negated.
    pub fn negated(mut self) -> Self {
        self.negate = !self.negate;
        self
    }
}

/// How several policy results combine.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyMode {
    /// Every policy must pass.
    #[default]
    All,
    /// At least one policy must pass.
    Any,
}

/// The result of evaluating a set of bindings, with the reasons for anything that did not
/// pass (for logs and the admin's "test policy" view; never shown to end users).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PolicyVerdict {
    /// Whether the bindings, combined by their mode, pass. No bindings pass.
    pub passing: bool,
    /// Why individual policies did not pass.
    pub reasons: Vec<String>,
    /// Policies that could not be evaluated (they count as not passing); worth a warning.
    pub errors: Vec<String>,
}

/// Everything a policy may look at during one evaluation. Looks up the subject's data
/// through the ports at most once, and only if a policy needs it.
pub(crate) struct PolicyRequest<'a> {
    pub(crate) ports: &'a dyn PolicyPorts,
    pub(crate) request: &'a RequestFacts,
    pub(crate) context: &'a FlowContext,
    pub(crate) flow_slug: &'a str,
    pub(crate) designation: FlowDesignation,
    user: Option<Option<User>>,
    groups: Option<Vec<Group>>,
    expression_context: Option<Value>,
}

impl<'a> PolicyRequest<'a> {
    pub(crate) fn new(
        ports: &'a dyn PolicyPorts,
        request: &'a RequestFacts,
        context: &'a FlowContext,
        flow_slug: &'a str,
        designation: FlowDesignation,
    ) -> Self {
        Self {
            ports,
            request,
            context,
            flow_slug,
            designation,
            user: None,
            groups: None,
            expression_context: None,
        }
    }

    fn subject(&self) -> Option<UserId> {
        self.context.subject(self.request)
    }

    async fn user(&mut self) -> Result<Option<&User>, StoreError> {
        if self.user.is_none() {
            let user = match self.subject() {
                Some(id) => self.ports.user(id).await?,
                None => None,
            };
            self.user = Some(user);
        }
        Ok(self.user.as_ref().and_then(Option::as_ref))
    }

    async fn groups(&mut self) -> Result<&[Group], StoreError> {
        if self.groups.is_none() {
            let groups = match self.subject() {
                Some(id) => self.ports.effective_groups(id).await?,
                None => Vec::new(),
            };
            self.groups = Some(groups);
        }
        Ok(self.groups.as_deref().unwrap_or_default())
    }

    /// The JSON document expressions see.
    async fn expression_context(&mut self) -> Result<&Value, StoreError> {
        if self.expression_context.is_none() {
            let user = match self.user().await?.cloned() {
                Some(user) => {
                    let groups: Vec<String> = self
                        .groups()
                        .await?
                        .iter()
                        .map(|g| g.name.clone())
                        .collect();
                    json!({
                        "is_authenticated": true,
                        "id": user.id.to_string(),
                        "username": user.username,
                        "name": user.name,
                        "email": user.email,
                        "email_verified": user.email_verified,
                        "active": user.active,
                        "type": user.user_type.as_str(),
                        "attributes": user.attributes,
                        "groups": groups,
                    })
                }
                None => json!({
                    "is_authenticated": false,
                    "username": null,
                    "attributes": {},
                    "groups": [],
                }),
            };
            self.expression_context = Some(json!({
                "user": user,
                "request": {
                    "ip": self.request.ip.map(|ip| ip.to_canonical().to_string()),
                    "user_agent": self.request.user_agent,
                },
                "flow": {
                    "slug": self.flow_slug,
                    "designation": self.designation.as_str(),
                },
                "context": self.context.to_expression_value(),
            }));
        }
        Ok(self.expression_context.get_or_insert(Value::Null))
    }

    /// Evaluates one policy; `Err(reason)` means it did not pass because of an error.
    async fn evaluate(&mut self, policy: &Policy) -> Result<Result<bool, String>, StoreError> {
        Ok(match policy {
            Policy::GroupMembership { group } => {
                Ok(self.groups().await?.iter().any(|g| &g.name == group))
            }
            Policy::HasMfaDevice => match self.subject() {
                Some(id) => Ok(self.ports.has_mfa_device(id).await?),
                None => Ok(false),
            },
            Policy::FromSource { source } => Ok(match (&self.context.source, source) {
                (Some(actual), Some(wanted)) => actual == wanted,
                (Some(_), None) => true,
                (None, _) => false,
            }),
            Policy::Expression { expression } => match Expression::parse(expression) {
                Err(error) => Err(format!("expression does not parse: {error}")),
                Ok(parsed) => {
                    let context = self.expression_context().await?;
                    parsed
                        .evaluate(context)
                        .map_err(|error| format!("expression failed: {error}"))
                }
            },
        })
    }

    /// Evaluates `bindings` combined by `mode`.
    pub(crate) async fn evaluate_all(
        &mut self,
        bindings: &[PolicyBinding],
        mode: PolicyMode,
    ) -> Result<PolicyVerdict, StoreError> {
        let mut reasons = Vec::new();
        let mut errors = Vec::new();
        let mut passed = 0usize;
        for (index, binding) in bindings.iter().enumerate() {
            let passing = match self.evaluate(&binding.policy).await? {
                Ok(result) => {
                    let passing = result != binding.negate;
                    if !passing {
                        reasons.push(format!(
                            "policy {index} ({}) did not pass",
                            describe(&binding.policy, binding.negate)
                        ));
                    }
                    passing
                }
                Err(reason) => {
                    errors.push(format!("policy {index}: {reason}"));
                    false
                }
            };
            if passing {
                passed += 1;
                if mode == PolicyMode::Any {
                    break;
                }
            } else if mode == PolicyMode::All {
                break;
            }
        }
        let passing = bindings.is_empty()
            || match mode {
                PolicyMode::All => passed == bindings.len(),
                PolicyMode::Any => passed > 0,
            };
        Ok(PolicyVerdict {
            passing,
            reasons,
            errors,
        })
    }
}

fn describe(policy: &Policy, negate: bool) -> String {
    let text = match policy {
        Policy::GroupMembership { group } => format!("member of {group:?}"),
        Policy::HasMfaDevice => "has an MFA device".into(),
        Policy::FromSource { source: Some(s) } => format!("from source {s:?}"),
        Policy::FromSource { source: None } => "from any source".into(),
        Policy::Expression { expression } => format!("expression {expression:?}"),
    };
    if negate { format!("not {text}") } else { text }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validate_reports_expression_errors_with_their_column() {
        let policy = Policy::Expression {
            expression: "user.username = 'x'".into(),
        };
        let err = policy.validate().expect_err("single =");
        assert_eq!(err.field, "expression");
        assert!(err.message.starts_with("column 15:"), "{err}");
        assert!(
            Policy::Expression {
                expression: "'a' in user.groups".into()
            }
            .validate()
            .is_ok()
        );
        assert!(
            Policy::GroupMembership { group: "".into() }
                .validate()
                .is_err()
        );
    }

    #[test]
    fn bindings_serialise_flat() {
        let binding = PolicyBinding::new(Policy::GroupMembership {
            group: "staff".into(),
        })
        .negated();
        let json = serde_json::to_value(&binding).expect("json");
        assert_eq!(
            json,
            json!({"type": "group_membership", "group": "staff", "negate": true})
        );
        let back: PolicyBinding = serde_json::from_value(json).expect("back");
        assert_eq!(back, binding);
        let plain: PolicyBinding =
            serde_json::from_str(r#"{"type":"has_mfa_device"}"#).expect("defaults");
        assert!(!plain.negate);
    }
}
