//! Stored OAuth2 grant artefacts: authorization codes, refresh tokens and the ids (`jti`) of
//! JWT access tokens. Only a keyed digest of each secret is stored. Every artefact belongs to
//! a grant family so that a replayed code or a reused rotated refresh token revokes
//! everything issued from the same authorization (RFC 6749 §4.1.2, RFC 9700 §4.14.2).

use crate::audit::{AuditContext, NewEvent};
use crate::ids::{ApplicationId, GrantFamilyId, OAuth2TokenId, SessionId, UserId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// What an artefact is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OAuth2TokenKind {
    /// A single-use authorization code.
    AuthorizationCode,
    /// A refresh token (rotated on use).
    RefreshToken,
    /// A JWT access token, stored by its `jti` for introspection and revocation.
    AccessToken,
}

impl OAuth2TokenKind {
    /// The stable name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::RefreshToken => "refresh_token",
            Self::AccessToken => "access_token",
        }
    }

    /// Parses a stored name.
    pub fn parse(value: &str) -> Option<Self> {
        [
            Self::AuthorizationCode,
            Self::RefreshToken,
            Self::AccessToken,
        ]
        .into_iter()
        .find(|k| k.as_str() == value)
    }
}

/// A stored artefact (its digest stays in the store).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OAuth2Token {
    /// Identifier.
    pub id: OAuth2TokenId,
    /// What it is.
    pub kind: OAuth2TokenKind,
    /// The application it was issued to.
    pub application_id: ApplicationId,
    /// The user it acts for; `None` for client_credentials.
    pub user_id: Option<UserId>,
    /// The authorization it descends from.
    pub family: GrantFamilyId,
    /// The browser session the grant was issued in (authorization code flow and the tokens
    /// descending from it), so ending that session can reach the grant (Back-Channel Logout).
    /// Not a foreign key: sessions may live outside the database.
    pub session_id: Option<SessionId>,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// Grant details the next step needs (redirect URI, nonce, PKCE challenge, auth time).
    pub data: Map<String, Value>,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
    /// When it was spent (codes, rotated refresh tokens).
    pub used_at: Option<DateTime<Utc>>,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
    /// When it was issued.
    pub created_at: DateTime<Utc>,
}

impl OAuth2Token {
    /// Whether the artefact is unexpired, unspent and unrevoked at `now`.
    pub fn is_active_at(&self, now: DateTime<Utc>) -> bool {
        self.expires_at > now && self.used_at.is_none() && self.revoked_at.is_none()
    }
}

/// One grant's artefacts with its audit event, for
/// [`crate::store::OAuth2TokenStore::issue_oauth2_token_batch`].
#[derive(Clone, Debug, PartialEq)]
pub struct IssuedGrant {
    /// The artefacts to store.
    pub tokens: Vec<NewOAuth2Token>,
    /// The grant's event.
    pub event: NewEvent,
    /// Who asked, from where.
    pub audit: AuditContext,
}

/// An artefact about to be stored.
#[derive(Clone, Debug, PartialEq)]
pub struct NewOAuth2Token {
    /// What it is.
    pub kind: OAuth2TokenKind,
    /// The application.
    pub application_id: ApplicationId,
    /// The user.
    pub user_id: Option<UserId>,
    /// The grant family.
    pub family: GrantFamilyId,
    /// The browser session the grant was issued in, if any (see [`OAuth2Token::session_id`]).
    pub session_id: Option<SessionId>,
    /// Keyed digest of the secret (for access tokens, of the `jti`).
    pub digest: String,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// Grant details.
    pub data: Map<String, Value>,
    /// Expiry.
    pub expires_at: DateTime<Utc>,
}
