//! What a flow knows while it runs: the facts of the current request ([`RequestFacts`]) and
//! the state gathered by earlier stages ([`FlowContext`]). Mirrors authentik's flow plan
//! context (`pending_user`, `prompt_data`, `is_restored`, …), minus anything secret: a chosen
//! password travels only as its hash, and never appears in `Debug` output.

use chrono::{DateTime, Utc};
use gatehouse_core::{TokenId, UserId};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::net::IpAddr;

/// Facts about the HTTP (or LDAP bind) request that drives a flow step. Built by the web
/// layer for every request; never stored.
#[derive(Clone, Debug, PartialEq)]
pub struct RequestFacts {
    /// The current time; passed in so tests and replicas agree on it.
    pub now: DateTime<Utc>,
    /// The client's address, after trusted-proxy handling.
    pub ip: Option<IpAddr>,
    /// The client's `User-Agent` header.
    pub user_agent: Option<String>,
    /// The user of the session the request belongs to, if signed in.
    pub user: Option<UserId>,
}

impl RequestFacts {
    /// An anonymous request at `now` with no address or user agent.
    pub fn anonymous(now: DateTime<Utc>) -> Self {
        Self {
            now,
            ip: None,
            user_agent: None,
            user: None,
        }
    }
}

/// A way the user proved who they are during this flow (authentik's `auth_method`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// A password checked by a password stage.
    Password,
    /// A time-based one-time code.
    Totp,
    /// A WebAuthn credential (passkey or security key).
    Webauthn,
    /// A static recovery code.
    Static,
    /// An upstream source (Forgejo, GitHub, OIDC…) vouched for the user.
    Source,
}

impl AuthMethod {
    /// The stable name (also used in the expression context).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Password => "password",
            Self::Totp => "totp",
            Self::Webauthn => "webauthn",
            Self::Static => "static",
            Self::Source => "source",
        }
    }
}

/// The invitation an enrollment flow was started with (its secret stays with the token).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InvitationFacts {
    /// The invitation token, so the user-write stage can spend it.
    pub token_id: TokenId,
    /// Values the invitation fixes (e.g. `email`), merged into the prompt data and shown
    /// read-only.
    #[serde(default)]
    pub fixed_data: Map<String, Value>,
}

/// An upstream account being enrolled through its source's enrollment flow: what the
/// user-write stage needs to create the user together with its link, and the authentication
/// flow that continues (MFA, session) once the account exists. Set only by the source
/// callback, never from a request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceEnrollment {
    /// Slug of the source.
    pub source: String,
    /// The upstream account's stable identifier.
    pub upstream_id: String,
    /// The upstream username, as last seen (recorded on the link).
    #[serde(default)]
    pub upstream_username: Option<String>,
    /// The upstream username when it cannot be used here, for the prompt to name.
    #[serde(default)]
    pub unusable_username: Option<String>,
    /// The address the upstream verified, if any.
    #[serde(default)]
    pub verified_email: Option<String>,
    /// The upstream groups, synced once the user exists.
    #[serde(default)]
    pub groups: Vec<String>,
    /// The authentication flow to continue as the new user.
    pub authentication_flow: String,
}

/// The state a flow execution carries from stage to stage.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FlowContext {
    /// The user the flow is about: set by identification, a source, or a recovery link.
    #[serde(default)]
    pub pending_user: Option<UserId>,
    /// How the pending user has proven themselves so far, in order.
    #[serde(default)]
    pub authenticated_methods: Vec<AuthMethod>,
    /// Values entered in prompt stages, by field name (never passwords).
    #[serde(default)]
    pub prompt_data: Map<String, Value>,
    /// Hash of a password chosen in a prompt stage, for the user-write stage. Never shown.
    #[serde(default)]
    pub password_hash: Option<String>,
    /// The slug of the upstream source that started or joined this flow.
    #[serde(default)]
    pub source: Option<String>,
    /// The invitation an enrollment flow runs under.
    #[serde(default)]
    pub invitation: Option<InvitationFacts>,
    /// The application being authorised (authorization flows), by slug.
    #[serde(default)]
    pub application: Option<String>,
    /// Where to send the browser when the flow completes; always a validated local path
    /// (see [`crate::safe_next`]).
    #[serde(default)]
    pub next: Option<String>,
    /// The execution was resumed from a link (recovery email, admin-issued recovery link).
    #[serde(default)]
    pub is_restored: bool,
    /// The upstream account this (enrollment) flow creates a user for.
    #[serde(default)]
    pub source_enrollment: Option<SourceEnrollment>,
}

impl std::fmt::Debug for FlowContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlowContext")
            .field("pending_user", &self.pending_user)
            .field("authenticated_methods", &self.authenticated_methods)
            .field(
                "prompt_fields",
                &self.prompt_data.keys().collect::<Vec<_>>(),
            )
            .field("has_password_hash", &self.password_hash.is_some())
            .field("source", &self.source)
            .field("invitation", &self.invitation.as_ref().map(|i| i.token_id))
            .field("application", &self.application)
            .field("next", &self.next)
            .field("is_restored", &self.is_restored)
            .field(
                "source_enrollment",
                &self.source_enrollment.as_ref().map(|e| &e.source),
            )
            .finish()
    }
}

impl FlowContext {
    /// The user policies and stages act on: the pending user, else the session's user.
    pub fn subject(&self, request: &RequestFacts) -> Option<UserId> {
        self.pending_user.or(request.user)
    }

    /// The part of the context exposed to expressions as `context.*` (no hash, no token id).
    pub(crate) fn to_expression_value(&self) -> Value {
        serde_json::json!({
            "pending_user": self.pending_user.map(|u| u.to_string()),
            "authenticated_methods": self
                .authenticated_methods
                .iter()
                .map(|m| m.as_str())
                .collect::<Vec<_>>(),
            "prompt_data": self.prompt_data,
            "source": self.source,
            "invitation": self.invitation.is_some(),
            "application": self.application,
            "is_restored": self.is_restored,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_password_hash_and_prompt_values() {
        let mut context = FlowContext {
            password_hash: Some("$argon2id$secret".into()),
            ..FlowContext::default()
        };
        context
            .prompt_data
            .insert("email".into(), Value::String("alice@example.com".into()));
        let shown = format!("{context:?}");
        assert!(!shown.contains("argon2id"));
        assert!(!shown.contains("alice@example.com"));
        assert!(shown.contains("email"));
        let exposed = context.to_expression_value().to_string();
        assert!(!exposed.contains("argon2id"));
    }

    #[test]
    fn subject_prefers_the_pending_user() {
        let (pending, session) = (UserId::new(), UserId::new());
        let mut request = RequestFacts::anonymous(Utc::now());
        request.user = Some(session);
        let mut context = FlowContext::default();
        assert_eq!(context.subject(&request), Some(session));
        context.pending_user = Some(pending);
        assert_eq!(context.subject(&request), Some(pending));
    }
}
