//! Users: the people and service accounts Gatehouse vouches for.

use crate::ids::UserId;
use crate::validate::{self, ValidationError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// What kind of principal a user is; service accounts never sign in interactively.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum UserType {
    /// A person with a local account.
    #[default]
    Internal,
    /// A person known through an upstream source.
    External,
    /// A non-human principal used by automation.
    ServiceAccount,
}

impl UserType {
    /// The stable name stored in the database and shown in the CLI and API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Internal => "internal",
            Self::External => "external",
            Self::ServiceAccount => "service_account",
        }
    }

    /// Parses the stable name; unknown names are a validation error naming the field.
    pub fn parse(value: &str) -> Result<Self, ValidationError> {
        match value {
            "internal" => Ok(Self::Internal),
            "external" => Ok(Self::External),
            "service_account" => Ok(Self::ServiceAccount),
            other => Err(ValidationError::new(
                "type",
                format!(
                    "unknown user type {other:?} (expected internal, external or service_account)"
                ),
            )),
        }
    }
}

/// A stored user. The password hash is kept out of `Debug` output and serialisation.
#[derive(Clone, Serialize, Deserialize, PartialEq)]
pub struct User {
    /// Stable identifier, also the default OIDC subject source.
    pub id: UserId,
    /// Unique login name.
    pub username: String,
    /// Display name.
    pub name: String,
    /// Contact and recovery address.
    pub email: Option<String>,
    /// Whether the address was proven to belong to the user.
    pub email_verified: bool,
    /// Inactive users cannot sign in or obtain tokens.
    pub active: bool,
    /// Person or service account.
    #[serde(rename = "type")]
    pub user_type: UserType,
    /// PHC string (`$argon2id$…`, or an imported `$2b$…` bcrypt hash until first login).
    #[serde(skip)]
    pub password_hash: Option<String>,
    /// Free-form attributes used by policies and claim mappings.
    pub attributes: Map<String, Value>,
    /// When the user was created.
    pub created_at: DateTime<Utc>,
    /// When the user was last changed.
    pub updated_at: DateTime<Utc>,
    /// When the user last signed in successfully.
    pub last_login: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("email", &self.email)
            .field("active", &self.active)
            .field("user_type", &self.user_type)
            .field("has_password", &self.password_hash.is_some())
            .finish_non_exhaustive()
    }
}

/// What is needed to create a user. Groups are given by name so one change set can create a
/// group and its members together.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NewUser {
    /// Unique login name.
    pub username: String,
    /// Display name; the username is used when empty.
    pub name: String,
    /// Contact address.
    pub email: Option<String>,
    /// Whether the address is already verified (imports, admin-created users).
    pub email_verified: bool,
    /// Whether the user may sign in.
    pub active: bool,
    /// Person or service account.
    pub user_type: UserType,
    /// An already computed password hash.
    pub password_hash: Option<String>,
    /// Free-form attributes.
    pub attributes: Map<String, Value>,
    /// Names of the groups the user is a direct member of.
    pub groups: Vec<String>,
}

impl NewUser {
    /// An active internal user with just a username, the common starting point.
    pub fn named(username: impl Into<String>) -> Self {
        Self {
            username: username.into(),
            active: true,
            ..Self::default()
        }
    }

    /// Checks every field and normalises the email; returns the first problem found.
    pub fn validate(mut self) -> Result<Self, ValidationError> {
        validate::username(&self.username)?;
        if self.name.trim().is_empty() {
            self.name = self.username.clone();
        }
        validate::display_name(&self.name)?;
        self.email = self.email.as_deref().map(validate::email).transpose()?;
        for group in &self.groups {
            validate::group_name(group)?;
        }
        Ok(self)
    }
}

/// A partial update; `None` leaves a field alone.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UserPatch {
    /// New display name.
    pub name: Option<String>,
    /// New email (`Some(None)` clears it).
    pub email: Option<Option<String>>,
    /// New verification state.
    pub email_verified: Option<bool>,
    /// Activate or deactivate.
    pub active: Option<bool>,
    /// New principal type.
    pub user_type: Option<UserType>,
    /// Replacement attributes.
    pub attributes: Option<Map<String, Value>>,
}

impl UserPatch {
    /// Checks the fields that are set and normalises the email.
    pub fn validate(mut self) -> Result<Self, ValidationError> {
        if let Some(name) = &self.name {
            validate::display_name(name)?;
        }
        if let Some(Some(email)) = &self.email {
            self.email = Some(Some(validate::email(email)?));
        }
        Ok(self)
    }

    /// Whether the patch would change anything at all.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// The names of the fields this patch sets, for audit events (values are not logged).
    pub fn field_names(&self) -> Vec<&'static str> {
        let mut names = Vec::new();
        if self.name.is_some() {
            names.push("name");
        }
        if self.email.is_some() {
            names.push("email");
        }
        if self.email_verified.is_some() {
            names.push("email_verified");
        }
        if self.active.is_some() {
            names.push("active");
        }
        if self.user_type.is_some() {
            names.push("type");
        }
        if self.attributes.is_some() {
            names.push("attributes");
        }
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_user_defaults_name_to_username_and_normalises_email() {
        let user = NewUser {
            email: Some("  Alice@Example.COM ".into()),
            ..NewUser::named("alice")
        }
        .validate()
        .expect("valid user");
        assert_eq!(user.name, "alice");
        assert_eq!(user.email.as_deref(), Some("Alice@example.com"));
    }

    #[test]
    fn new_user_rejects_bad_email_naming_the_field() {
        let err = NewUser {
            email: Some("not-an-address".into()),
            ..NewUser::named("alice")
        }
        .validate()
        .expect_err("invalid email");
        assert_eq!(err.field, "email");
    }

    #[test]
    fn debug_output_never_contains_the_hash() {
        let now = Utc::now();
        let user = User {
            id: UserId::new(),
            username: "a".into(),
            name: "a".into(),
            email: None,
            email_verified: false,
            active: true,
            user_type: UserType::Internal,
            password_hash: Some("$argon2id$secret".into()),
            attributes: Map::new(),
            created_at: now,
            updated_at: now,
            last_login: None,
        };
        assert!(!format!("{user:?}").contains("argon2id"));
        assert!(
            !serde_json::to_string(&user)
                .expect("json")
                .contains("argon2id")
        );
    }
}
