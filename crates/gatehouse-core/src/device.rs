//! MFA devices: TOTP authenticators, WebAuthn credentials and static recovery codes, per user.
//! Secrets are stored sealed with the secret key; the store only sees ciphertext.

use crate::ids::{DeviceId, UserId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What kind of second factor a device is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceKind {
    /// A time-based one-time password app (RFC 6238).
    Totp,
    /// A passkey or security key (WebAuthn).
    Webauthn,
    /// A set of single-use recovery codes.
    Static,
}

impl DeviceKind {
    /// The stable name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Totp => "totp",
            Self::Webauthn => "webauthn",
            Self::Static => "static",
        }
    }

    /// Parses a stored name.
    pub fn parse(value: &str) -> Option<Self> {
        [Self::Totp, Self::Webauthn, Self::Static]
            .into_iter()
            .find(|k| k.as_str() == value)
    }
}

/// A stored device.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Device {
    /// Identifier.
    pub id: DeviceId,
    /// Owner.
    pub user_id: UserId,
    /// Kind of factor.
    pub kind: DeviceKind,
    /// Name the user chose ("Phone", "YubiKey").
    pub name: String,
    /// The device secret sealed with the secret key (TOTP seed, credential, code digests).
    #[serde(skip)]
    pub secret_sealed: String,
    /// For TOTP: the last accepted time step; codes at or before it are refused (replay).
    pub last_used_step: Option<i64>,
    /// When it was added.
    pub created_at: DateTime<Utc>,
    /// When it last proved a sign-in.
    pub last_used_at: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Device")
            .field("id", &self.id)
            .field("user_id", &self.user_id)
            .field("kind", &self.kind)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// A device about to be stored (only confirmed devices are stored: setup pages keep the
/// secret in the flow until the first code proves the user's app has it).
#[derive(Clone, PartialEq)]
pub struct NewDevice {
    /// Owner.
    pub user_id: UserId,
    /// Kind of factor.
    pub kind: DeviceKind,
    /// Name; 1-64 printable characters.
    pub name: String,
    /// Sealed secret.
    pub secret_sealed: String,
    /// For TOTP: the step of the code that confirmed the setup (so it cannot be reused).
    pub last_used_step: Option<i64>,
}
