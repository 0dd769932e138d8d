//! The audit log: an append-only record of every security-relevant action, written in the same
//! transaction as the change it describes so the log and the data never disagree.

use crate::ids::{EventId, UserId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// What happened. The names match authentik's event actions so dashboards carry over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventAction {
    /// An object was created.
    ModelCreated,
    /// An object was changed.
    ModelUpdated,
    /// An object was deleted.
    ModelDeleted,
    /// A user's password was set or changed.
    PasswordSet,
    /// A user signed in.
    Login,
    /// A sign-in attempt failed.
    LoginFailed,
    /// A user signed out.
    Logout,
    /// A setup, API or other token was used.
    TokenUsed,
    /// Someone asked for a password recovery link for a user.
    RecoveryRequested,
    /// Gatehouse itself did something noteworthy (first start, key generation).
    SystemTask,
    /// A configuration error or internal failure worth an operator's attention.
    ConfigurationError,
    /// A user authorized an application (an OAuth2 authorization code was issued).
    AuthorizeApplication,
    /// OAuth2 tokens were issued (code exchange, refresh, client credentials) or revoked.
    TokenIssued,
}

impl EventAction {
    /// The stable name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ModelCreated => "model_created",
            Self::ModelUpdated => "model_updated",
            Self::ModelDeleted => "model_deleted",
            Self::PasswordSet => "password_set",
            Self::Login => "login",
            Self::LoginFailed => "login_failed",
            Self::Logout => "logout",
            Self::TokenUsed => "token_used",
            Self::RecoveryRequested => "recovery_requested",
            Self::SystemTask => "system_task",
            Self::ConfigurationError => "configuration_error",
            Self::AuthorizeApplication => "authorize_application",
            Self::TokenIssued => "token_issued",
        }
    }

    /// Every action, for parsing and for documentation.
    pub const ALL: [Self; 13] = [
        Self::ModelCreated,
        Self::ModelUpdated,
        Self::ModelDeleted,
        Self::PasswordSet,
        Self::Login,
        Self::LoginFailed,
        Self::Logout,
        Self::TokenUsed,
        Self::RecoveryRequested,
        Self::SystemTask,
        Self::ConfigurationError,
        Self::AuthorizeApplication,
        Self::TokenIssued,
    ];

    /// Parses a stored name.
    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == value)
    }
}

/// Who is acting and from where; passed to every store write so its event names the actor.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AuditContext {
    /// The acting user, when there is one.
    pub actor_id: Option<UserId>,
    /// The acting user's name, or a label such as `cli` or `system`.
    pub actor: String,
    /// The client's address as seen after trusted-proxy processing.
    pub client_ip: Option<String>,
    /// The client's user agent.
    pub user_agent: Option<String>,
}

impl AuditContext {
    /// Changes made by Gatehouse itself (start-up, worker tasks).
    pub fn system() -> Self {
        Self {
            actor: "system".into(),
            ..Self::default()
        }
    }

    /// Changes made by an operator through the command line.
    pub fn cli() -> Self {
        let who = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
        Self {
            actor: format!("cli:{who}"),
            ..Self::default()
        }
    }
}

/// An event about to be appended.
#[derive(Clone, Debug, PartialEq)]
pub struct NewEvent {
    /// What happened.
    pub action: EventAction,
    /// Details: the model, its id and name, the changed field names. Never secrets.
    pub context: Map<String, Value>,
}

impl NewEvent {
    /// An event about an object of kind `model` with id `pk` and display name `name`.
    pub fn about_model(action: EventAction, model: &str, pk: impl ToString, name: &str) -> Self {
        let mut context = Map::new();
        context.insert("model".into(), Value::from(model));
        context.insert("pk".into(), Value::from(pk.to_string()));
        context.insert("name".into(), Value::from(name));
        Self { action, context }
    }

    /// Adds one more context entry.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.context.insert(key.into(), value.into());
        self
    }
}

/// A stored event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Identifier (time-ordered).
    pub id: EventId,
    /// What happened.
    pub action: EventAction,
    /// The acting user's id.
    pub actor_id: Option<UserId>,
    /// The acting user's name or a label.
    pub actor: String,
    /// The client's address.
    pub client_ip: Option<String>,
    /// The client's user agent.
    pub user_agent: Option<String>,
    /// Details.
    pub context: Map<String, Value>,
    /// When it happened.
    pub created_at: DateTime<Utc>,
}

/// Filters for reading the log back; all set filters must match.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EventQuery {
    /// Only this action.
    pub action: Option<EventAction>,
    /// Only events by this actor.
    pub actor_id: Option<UserId>,
    /// Only events from this address.
    pub client_ip: Option<String>,
    /// Only events at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only events before this time.
    pub until: Option<DateTime<Utc>>,
    /// Page size (clamped by the store).
    pub limit: u64,
    /// Rows to skip.
    pub offset: u64,
    /// Oldest first instead of newest first.
    pub oldest_first: bool,
}
