//! Server-side sessions. The cookie carries an opaque secret; the store keeps its digest, so a
//! leaked database does not hand out live sessions. A session also remembers when and how its
//! user proved who they are, because relying parties ask (OIDC Core §2 `auth_time`, `amr`,
//! `acr`; §3.1.2.1 `max_age`).

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
    /// When the user last actively authenticated in this session (sessions stored before
    /// this was recorded report their creation time).
    pub auth_time: DateTime<Utc>,
    /// How the user authenticated, in the order the methods were used (empty for sessions
    /// stored before this was recorded).
    pub auth_methods: Vec<AuthenticationMethod>,
}

/// One way a user proved who they are during sign-in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthenticationMethod {
    /// A password.
    Password,
    /// A time-based one-time code.
    Totp,
    /// A WebAuthn credential whose authenticator verified the user (PIN or biometrics).
    WebauthnUserVerified,
    /// A WebAuthn credential used with presence only (a touch).
    Webauthn,
    /// A static recovery code.
    RecoveryCode,
    /// An upstream identity source vouched for the user.
    Source,
}

impl AuthenticationMethod {
    /// The stable name stored with the session.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Password => "password",
            Self::Totp => "totp",
            Self::WebauthnUserVerified => "webauthn_user_verified",
            Self::Webauthn => "webauthn",
            Self::RecoveryCode => "recovery_code",
            Self::Source => "source",
        }
    }

    /// Parses a stored name; unknown names (from a newer version) are `None`.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "password" => Self::Password,
            "totp" => Self::Totp,
            "webauthn_user_verified" => Self::WebauthnUserVerified,
            "webauthn" => Self::Webauthn,
            "recovery_code" => Self::RecoveryCode,
            "source" => Self::Source,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for method in [
            AuthenticationMethod::Password,
            AuthenticationMethod::Totp,
            AuthenticationMethod::WebauthnUserVerified,
            AuthenticationMethod::Webauthn,
            AuthenticationMethod::RecoveryCode,
            AuthenticationMethod::Source,
        ] {
            assert_eq!(AuthenticationMethod::parse(method.as_str()), Some(method));
        }
        assert_eq!(AuthenticationMethod::parse("smartcard"), None);
    }
}
