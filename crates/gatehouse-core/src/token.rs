//! Tokens: bearer secrets for API access, first-run setup, invitations and recovery links.
//! Only a keyed digest of each secret is stored; the secret itself is shown once.

use crate::ids::{TokenId, UserId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What a token lets its bearer do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenIntent {
    /// Bearer authentication to the REST API.
    Api,
    /// The one-time first-run setup link.
    Setup,
    /// A password recovery link.
    Recovery,
    /// An enrollment invitation.
    Invitation,
    /// A password for a service account's client_credentials grant.
    AppPassword,
    /// An email-verification link: following it marks the address verified and resumes the
    /// flow that sent it.
    EmailVerification,
}

impl TokenIntent {
    /// The stable name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Api => "api",
            Self::Setup => "setup",
            Self::Recovery => "recovery",
            Self::Invitation => "invitation",
            Self::AppPassword => "app_password",
            Self::EmailVerification => "email_verification",
        }
    }

    /// Parses a stored name.
    pub fn parse(value: &str) -> Option<Self> {
        [
            Self::Api,
            Self::Setup,
            Self::Recovery,
            Self::Invitation,
            Self::AppPassword,
            Self::EmailVerification,
        ]
        .into_iter()
        .find(|i| i.as_str() == value)
    }
}

/// A stored token (its digest stays in the store).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Token {
    /// Identifier.
    pub id: TokenId,
    /// What it is for.
    pub intent: TokenIntent,
    /// The user it acts as, if any.
    pub user_id: Option<UserId>,
    /// Why it exists, for listings.
    pub description: String,
    /// When it stops working; `None` never expires.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

impl Token {
    /// Whether the token still works at `now`.
    pub fn is_valid_at(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_none_or(|expiry| expiry > now)
    }
}

/// A token about to be stored.
#[derive(Clone, Debug, PartialEq)]
pub struct NewToken {
    /// What it is for.
    pub intent: TokenIntent,
    /// The user it acts as.
    pub user_id: Option<UserId>,
    /// Why it exists.
    pub description: String,
    /// Keyed digest of the secret (see `gatehouse_crypto::TokenDigester`).
    pub digest: String,
    /// When it stops working.
    pub expires_at: Option<DateTime<Utc>>,
    /// State the link resumes (an email-verification link's sealed flow execution), kept
    /// with the token so it works from any browser and replica and disappears when spent.
    pub state: Option<String>,
}

/// A spent email-verification link: the token and the state stored with it.
#[derive(Clone, Debug, PartialEq)]
pub struct SpentLink {
    /// The token, now deleted.
    pub token: Token,
    /// What [`NewToken::state`] held.
    pub state: Option<String>,
}
