//! Server-side sessions. The cookie carries an opaque secret; the store keeps its digest, so a
//! leaked database does not hand out live sessions.

use crate::ids::{SessionId, UserId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A stored session.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// Identifier shown in session lists (never the cookie value).
    pub id: SessionId,
    /// The signed-in user.
    pub user_id: UserId,
    /// Keyed digest of the cookie secret.
    #[serde(skip)]
    pub digest: String,
    /// When the session began.
    pub created_at: DateTime<Utc>,
    /// When the session ends.
    pub expires_at: DateTime<Utc>,
    /// The client's address at sign-in.
    pub client_ip: Option<String>,
    /// The client's user agent at sign-in.
    pub user_agent: Option<String>,
}
