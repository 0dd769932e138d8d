//! Typed identifiers, so a group id can never be passed where a user id is expected.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A fresh, time-ordered identifier (UUIDv7 keeps B-tree inserts local).
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

id_type!(
    /// Identifies a [`crate::User`].
    UserId
);
id_type!(
    /// Identifies a [`crate::Group`].
    GroupId
);
id_type!(
    /// Identifies a [`crate::Token`].
    TokenId
);
id_type!(
    /// Identifies an audit [`crate::Event`].
    EventId
);
id_type!(
    /// Identifies a [`crate::SigningKey`].
    KeyId
);
id_type!(
    /// Identifies a server-side [`crate::Session`] row (not the cookie value).
    SessionId
);
id_type!(
    /// Identifies an MFA [`crate::Device`].
    DeviceId
);
id_type!(
    /// Identifies a message in the email outbox.
    EmailId
);
id_type!(
    /// Identifies a queued back-channel logout delivery ([`crate::LogoutDelivery`]).
    LogoutDeliveryId
);
id_type!(
    /// Identifies a [`crate::Application`].
    ApplicationId
);
id_type!(
    /// Identifies a stored OAuth2 grant artefact ([`crate::OAuth2Token`]).
    OAuth2TokenId
);
id_type!(
    /// Identifies an upstream login [`crate::Source`].
    SourceId
);
id_type!(
    /// Identifies a [`crate::SourceConnection`]: one user's link to one upstream account.
    SourceConnectionId
);
id_type!(
    /// Identifies a grant family: an authorization and every token descending from it, so
    /// that a replayed code or a reused refresh token can revoke them all.
    GrantFamilyId
);
