//! Change sets: a list of edits addressed by natural key (username, group name, slug) that a store
//! applies in one transaction. `apply` plans one from a YAML document; either every change
//! lands or none does. The flow pages use them too, so that a sign-in, a sign-out or a new
//! password is written together with the audit event that records it.

use crate::application::NewApplication;
use crate::application_patch::ApplicationPatch;
use crate::audit::NewEvent;
use crate::group::{GroupPatch, NewGroup};
use crate::ids::{SessionId, UserId};
use crate::session::Session;
use crate::user::{NewUser, UserPatch};
use chrono::{DateTime, Utc};
use std::fmt;

/// One edit.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    /// Create a group (its parent may be created earlier in the same set).
    CreateGroup(NewGroup),
    /// Change a group found by name.
    UpdateGroup {
        /// Current name.
        name: String,
        /// What to change.
        patch: GroupPatch,
    },
    /// Create a user with its direct group memberships.
    CreateUser(NewUser),
    /// Change a user found by username.
    UpdateUser {
        /// Username.
        username: String,
        /// What to change.
        patch: UserPatch,
    },
    /// Replace a user's password hash.
    SetPasswordHash {
        /// Username.
        username: String,
        /// New PHC hash.
        hash: String,
    },
    /// Make a user's direct memberships exactly these groups.
    SetUserGroups {
        /// Username.
        username: String,
        /// Group names.
        groups: Vec<String>,
    },
    /// Create or replace a flow, found by slug. The definition was validated by the planner.
    PutFlow {
        /// The flow's slug.
        slug: String,
        /// The whole flow (see [`crate::FlowDefinition`]).
        definition: serde_json::Value,
    },
    /// Create an application (its allowed groups may be created earlier in the same set).
    CreateApplication(NewApplication),
    /// Change an application found by slug.
    UpdateApplication {
        /// The application's slug.
        slug: String,
        /// What to change.
        patch: ApplicationPatch,
    },
    /// Create a source, or replace the settings of the one with this slug.
    PutSource(Box<crate::source::NewSource>),
    /// Store a new session (a sign-in).
    StartSession(Session),
    /// End a session; one already gone is not an error (sign-out is idempotent). Clients
    /// holding grants from it that registered a back-channel logout URI get a delivery queued
    /// and those grants revoked, in the same transaction (see [`crate::plan_logout`]).
    EndSession(SessionId),
    /// End every session of a user except `keep` (after a password change), with the
    /// back-channel logouts of each, as for [`Change::EndSession`].
    EndOtherSessions {
        /// Whose sessions.
        user: UserId,
        /// The session that stays (the one making the change), if any.
        keep: Option<SessionId>,
    },
    /// Record a successful sign-in time on the user.
    RecordLogin {
        /// Who signed in.
        user: UserId,
        /// When.
        at: DateTime<Utc>,
    },
    /// Append an audit event (recording the other changes of the set).
    RecordEvent(NewEvent),
}

impl Change {
    /// Whether applying this change ends sessions, and so may queue back-channel logouts
    /// that delivery should start on now.
    #[must_use]
    pub fn ends_sessions(&self) -> bool {
        matches!(self, Self::EndSession(_) | Self::EndOtherSessions { .. })
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CreateGroup(group) => {
                write!(f, "+ group {}", group.name)?;
                if let Some(parent) = &group.parent {
                    write!(f, " (parent {parent})")?;
                }
                if group.is_superuser {
                    write!(f, " [superuser]")?;
                }
                Ok(())
            }
            Self::UpdateGroup { name, patch } => {
                write!(f, "~ group {name}: {}", patch.field_names().join(", "))
            }
            Self::CreateUser(user) => {
                write!(f, "+ user {}", user.username)?;
                if !user.groups.is_empty() {
                    write!(f, " (groups {})", user.groups.join(", "))?;
                }
                Ok(())
            }
            Self::UpdateUser { username, patch } => {
                write!(f, "~ user {username}: {}", patch.field_names().join(", "))
            }
            Self::SetPasswordHash { username, .. } => write!(f, "~ user {username}: password"),
            Self::SetUserGroups { username, groups } => {
                write!(f, "~ user {username}: groups [{}]", groups.join(", "))
            }
            Self::PutFlow { slug, .. } => write!(f, "~ flow {slug}"),
            Self::CreateApplication(app) => {
                write!(f, "+ application {}", app.slug)?;
                if let Some(provider) = &app.oauth2 {
                    write!(
                        f,
                        " (client_id {}, {})",
                        provider.client_id,
                        provider.client_type.as_str()
                    )?;
                }
                Ok(())
            }
            Self::UpdateApplication { slug, patch } => {
                write!(
                    f,
                    "~ application {slug}: {}",
                    patch.field_names().join(", ")
                )
            }
            Self::PutSource(source) => {
                write!(f, "~ source {} ({})", source.slug, source.kind.as_str())
            }
            Self::StartSession(session) => write!(f, "+ session of user {}", session.user_id),
            Self::EndSession(id) => write!(f, "- session {id}"),
            Self::EndOtherSessions { user, .. } => write!(f, "- other sessions of user {user}"),
            Self::RecordLogin { user, .. } => write!(f, "~ user {user}: last_login"),
            Self::RecordEvent(event) => write!(f, "+ event {}", event.action.as_str()),
        }
    }
}

/// An ordered list of changes applied atomically.
pub type ChangeSet = Vec<Change>;
