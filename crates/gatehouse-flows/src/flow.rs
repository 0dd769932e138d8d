//! Flows: named, ordered lists of stage bindings with a designation saying what the flow is
//! for. Mirrors authentik's `Flow`, `FlowStageBinding` (order, policies, `evaluate_on_plan`,
//! `re_evaluate_policies`) and the flow-level authentication requirement and policies whose
//! denial shows `denied_message`.

use crate::policy::{PolicyBinding, PolicyMode};
use crate::stage::Stage;
use gatehouse_core::ValidationError;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// What a flow is used for; decides where Gatehouse looks for it (the login page runs the
/// authentication flow, a provider runs its authorization flow, …).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlowDesignation {
    /// Signs a user in.
    Authentication,
    /// Runs after sign-in when a user opens an application (consent).
    Authorization,
    /// Creates an account.
    Enrollment,
    /// Lets a user back in without their password.
    Recovery,
    /// Signs a user out.
    Invalidation,
    /// Sets something up for the signed-in user (a password, an MFA device).
    StageConfiguration,
}

impl FlowDesignation {
    /// The stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Authentication => "authentication",
            Self::Authorization => "authorization",
            Self::Enrollment => "enrollment",
            Self::Recovery => "recovery",
            Self::Invalidation => "invalidation",
            Self::StageConfiguration => "stage_configuration",
        }
    }
}

/// Who may start a flow, checked when it is planned (authentik's flow "authentication"
/// setting).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlowAuthentication {
    /// Anyone.
    #[default]
    None,
    /// Only signed-in users (password change, MFA setup).
    RequireAuthenticated,
    /// Only visitors without a session (enrollment, recovery).
    RequireUnauthenticated,
    /// Only superusers.
    RequireSuperuser,
}

/// A stage placed in a flow, with the policies that decide whether it runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StageBinding {
    /// Position; bindings run in ascending order (ties keep their listed order).
    pub order: i32,
    /// The stage.
    pub stage: Stage,
    /// Policies deciding whether the stage runs; none means always.
    #[serde(default)]
    pub policies: Vec<PolicyBinding>,
    /// How the policies combine.
    #[serde(default)]
    pub policy_mode: PolicyMode,
    /// Evaluate the policies when the flow is planned (with what is known at the start).
    #[serde(default = "default_true")]
    pub evaluate_on_plan: bool,
    /// Evaluate the policies again just before the stage runs (with what earlier stages
    /// learned, e.g. the identified user).
    #[serde(default)]
    pub re_evaluate: bool,
}

fn default_true() -> bool {
    true
}

impl StageBinding {
    /// A binding with no policies.
    pub fn new(order: i32, stage: Stage) -> Self {
        Self {
            order,
            stage,
            policies: Vec::new(),
            policy_mode: PolicyMode::All,
            evaluate_on_plan: true,
            re_evaluate: false,
        }
    }
}

/// A flow.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Flow {
    /// Unique identifier used in URLs (`/if/flow/<slug>/`).
    pub slug: String,
    /// Name shown to admins.
    pub name: String,
    /// Heading shown to users.
    pub title: String,
    /// What the flow is for.
    pub designation: FlowDesignation,
    /// Who may start it.
    #[serde(default)]
    pub authentication: FlowAuthentication,
    /// Policies deciding whether the flow applies at all.
    #[serde(default)]
    pub policies: Vec<PolicyBinding>,
    /// How the flow's policies combine.
    #[serde(default)]
    pub policy_mode: PolicyMode,
    /// The stages, with their guards.
    pub bindings: Vec<StageBinding>,
    /// Shown when the flow does not apply (or a deny stage has no message of its own).
    #[serde(default)]
    pub denied_message: Option<String>,
}

/// The message shown when a flow is refused and it configures none.
pub const DEFAULT_DENIED_MESSAGE: &str = "You are not allowed to continue.";

impl Flow {
    /// A flow with no stages, open to anyone.
    pub fn new(
        slug: impl Into<String>,
        name: impl Into<String>,
        title: impl Into<String>,
        designation: FlowDesignation,
    ) -> Self {
        Self {
            slug: slug.into(),
            name: name.into(),
            title: title.into(),
            designation,
            authentication: FlowAuthentication::None,
            policies: Vec::new(),
            policy_mode: PolicyMode::All,
            bindings: Vec::new(),
            denied_message: None,
        }
    }

    /// The message to show when the flow is refused.
    pub fn denied_message(&self) -> &str {
        self.denied_message
            .as_deref()
            .filter(|m| !m.trim().is_empty())
            .unwrap_or(DEFAULT_DENIED_MESSAGE)
    }

    /// The indexes of `bindings` in the order they run.
    pub fn ordered_binding_indexes(&self) -> Vec<usize> {
        let mut indexes: Vec<usize> = (0..self.bindings.len()).collect();
        indexes.sort_by_key(|&i| self.bindings[i].order);
        indexes
    }

    /// Checks the whole flow when it is saved: slug, unique stage names, every stage's
    /// settings and every policy (expressions must parse). Returns the first problem with
    /// its path (`bindings[2].policies[0].expression`).
    pub fn validate(&self) -> Result<(), ValidationError> {
        validate_slug(&self.slug).map_err(|m| ValidationError::new("slug", m))?;
        if self.name.trim().is_empty() {
            return Err(ValidationError::new("name", "must not be empty"));
        }
        for (i, binding) in self.policies.iter().enumerate() {
            binding.policy.validate().map_err(|e| {
                ValidationError::new(format!("policies[{i}].{}", e.field), e.message)
            })?;
        }
        let mut names = HashSet::new();
        for (i, binding) in self.bindings.iter().enumerate() {
            let path = format!("bindings[{i}]");
            binding.stage.validate(&format!("{path}.stage"))?;
            if !names.insert(binding.stage.name.as_str()) {
                return Err(ValidationError::new(
                    format!("{path}.stage.name"),
                    format!(
                        "another binding uses the stage name {:?}",
                        binding.stage.name
                    ),
                ));
            }
            for (j, policy) in binding.policies.iter().enumerate() {
                policy.policy.validate().map_err(|e| {
                    ValidationError::new(format!("{path}.policies[{j}].{}", e.field), e.message)
                })?;
            }
        }
        Ok(())
    }
}

/// Slugs: 1-100 characters of `a-z`, `0-9`, `-` and `_`, starting with a letter or digit.
pub fn validate_slug(slug: &str) -> Result<(), String> {
    let ok = !slug.is_empty()
        && slug.len() <= 100
        && slug
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        && slug
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{slug:?} is not a slug (1-100 characters of a-z, 0-9, - and _, starting with a letter or digit)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Policy;
    use crate::stage::StageKind;

    #[test]
    fn validation_names_the_failing_place() {
        let mut flow = Flow::new("login", "Login", "Welcome", FlowDesignation::Authentication);
        flow.bindings
            .push(StageBinding::new(10, Stage::new("a", StageKind::Password)));
        flow.bindings.push(StageBinding::new(
            20,
            Stage::new("b", StageKind::UserLogout),
        ));
        assert!(flow.validate().is_ok());

        flow.bindings[1]
            .policies
            .push(PolicyBinding::new(Policy::Expression {
                expression: "user.username ==".into(),
            }));
        let err = flow.validate().expect_err("bad expression");
        assert_eq!(err.field, "bindings[1].policies[0].expression");
        assert!(err.message.contains("column 17"), "{err}");

        flow.bindings[1].policies.clear();
        flow.bindings[1].stage.name = "a".into();
        assert_eq!(
            flow.validate().expect_err("duplicate").field,
            "bindings[1].stage.name"
        );

        flow.slug = "Not A Slug".into();
        assert_eq!(flow.validate().expect_err("slug").field, "slug");
    }

    #[test]
    fn bindings_run_by_order_then_listing() {
        let mut flow = Flow::new("f", "F", "F", FlowDesignation::Authentication);
        for (order, name) in [(20, "c"), (10, "a"), (20, "d"), (-5, "first")] {
            flow.bindings.push(StageBinding::new(
                order,
                Stage::new(name, StageKind::Password),
            ));
        }
        let names: Vec<&str> = flow
            .ordered_binding_indexes()
            .into_iter()
            .map(|i| flow.bindings[i].stage.name.as_str())
            .collect();
        assert_eq!(names, ["first", "a", "c", "d"]);
    }

    #[test]
    fn binding_defaults_match_authentik() {
        let binding: StageBinding =
            serde_json::from_str(r#"{"order": 1, "stage": {"name": "p", "type": "password"}}"#)
                .expect("binding");
        assert!(binding.evaluate_on_plan);
        assert!(!binding.re_evaluate);
        assert_eq!(binding.policy_mode, PolicyMode::All);
    }
}
