//! Invitations: links that let someone create an account through an enrollment flow. An
//! invitation may be single-use or multi-use, may expire, and may fix data for the new account
//! (its email) and groups it joins. Only a keyed digest of the link's token is stored; the
//! token itself is shown once, to the administrator who created it.

use crate::audit::AuditContext;
use crate::ids::{TokenId, UserId};
use crate::store::StoreResult;
use crate::user::{NewUser, User};
use crate::validate::{self, ValidationError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A stored invitation (its digest stays in the store).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Invitation {
    /// Identifier (invitations are a kind of token, so they share the id type).
    pub id: TokenId,
    /// Slug of the enrollment flow the link opens.
    pub flow_slug: String,
    /// Whether the invitation stops working after one account was created with it.
    pub single_use: bool,
    /// Values the new account gets regardless of what is typed (e.g. `email`).
    pub fixed_data: Map<String, Value>,
    /// Names of groups the new account joins.
    pub groups: Vec<String>,
    /// When it stops working; `None` never expires.
    pub expires_at: Option<DateTime<Utc>>,
    /// The administrator who created it, when it was a user.
    pub created_by: Option<UserId>,
    /// Who created it, as recorded in the audit log (`cli`, a username).
    pub created_by_name: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// How many accounts were created with it.
    pub use_count: i64,
    /// When it was last used.
    pub last_used_at: Option<DateTime<Utc>>,
}

/// Whether an invitation can still create an account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InvitationStatus {
    /// It works.
    Usable,
    /// Its expiry has passed.
    Expired,
    /// It was single-use and has been used.
    Used,
}

impl Invitation {
    /// The invitation's status at `now`.
    pub fn status_at(&self, now: DateTime<Utc>) -> InvitationStatus {
        if self.single_use && self.use_count > 0 {
            InvitationStatus::Used
        } else if self.expires_at.is_some_and(|expiry| expiry <= now) {
            InvitationStatus::Expired
        } else {
            InvitationStatus::Usable
        }
    }

    /// The fixed email address, if the invitation sets one.
    pub fn fixed_email(&self) -> Option<&str> {
        self.fixed_data.get("email").and_then(Value::as_str)
    }
}

/// An invitation about to be stored.
#[derive(Clone, Debug, PartialEq)]
pub struct NewInvitation {
    /// Slug of the enrollment flow.
    pub flow_slug: String,
    /// One account only.
    pub single_use: bool,
    /// Fixed values for the new account; `email` is checked and normalised.
    pub fixed_data: Map<String, Value>,
    /// Groups to join; they must exist when the invitation is created.
    pub groups: Vec<String>,
    /// Expiry.
    pub expires_at: Option<DateTime<Utc>>,
    /// The creating user, if any (the audit context names the actor either way).
    pub created_by: Option<UserId>,
    /// Keyed digest of the token (see `gatehouse_crypto::TokenDigester`).
    pub digest: String,
}

impl NewInvitation {
    /// Checks the fields and normalises the fixed email.
    pub fn validate(mut self) -> Result<Self, ValidationError> {
        if self.flow_slug.is_empty()
            || self.flow_slug.len() > 64
            || !self
                .flow_slug
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        {
            return Err(ValidationError::new(
                "flow",
                "must be a flow slug (a-z, 0-9, - and _)",
            ));
        }
        for (key, value) in &mut self.fixed_data {
            match (key.as_str(), &*value) {
                ("email", Value::String(email)) => {
                    *value = Value::String(validate::email(email)?);
                }
                ("email", _) => {
                    return Err(ValidationError::new("email", "must be text"));
                }
                ("name", Value::String(name)) => validate::display_name(name)?,
                (other, _) => {
                    return Err(ValidationError::new(
                        "fixed_data",
                        format!("{other:?} cannot be fixed by an invitation (email, name)"),
                    ));
                }
            }
        }
        for group in &self.groups {
            validate::group_name(group)?;
        }
        if self.digest.is_empty() {
            return Err(ValidationError::new("token", "must not be empty"));
        }
        Ok(self)
    }
}

/// An account created with an invitation: spending the invitation and creating the user
/// (with the invitation's groups) happen in one transaction.
#[derive(Clone, Debug, PartialEq)]
pub struct Enrollment {
    /// The invitation to spend.
    pub invitation: TokenId,
    /// The new account; the invitation's groups and fixed data are added by the store.
    pub user: NewUser,
    /// The time the invitation's expiry is checked against.
    pub now: DateTime<Utc>,
}

/// Invitations, by keyed digest.
#[async_trait]
pub trait InvitationStore: Send + Sync {
    /// Stores an invitation; its groups must exist. Records `model_created`.
    async fn create_invitation(
        &self,
        invitation: NewInvitation,
        audit: &AuditContext,
    ) -> StoreResult<Invitation>;
    /// Finds an invitation by the digest of its token, whatever its status.
    async fn invitation_by_digest(&self, digest: &str) -> StoreResult<Option<Invitation>>;
    /// Looks an invitation up by id.
    async fn invitation(&self, id: TokenId) -> StoreResult<Option<Invitation>>;
    /// Every invitation, oldest first.
    async fn list_invitations(&self) -> StoreResult<Vec<Invitation>>;
    /// Deletes an invitation; records `model_deleted`.
    async fn delete_invitation(&self, id: TokenId, audit: &AuditContext) -> StoreResult<()>;
    /// Deletes invitations that can no longer be used since before `cutoff`: expired before
    /// it, or single-use and used before it (the worker's sweep, which passes now minus a
    /// grace period so people who click an old link still get "expired"/"used", not "not
    /// valid", for a while). Returns how many.
    async fn delete_finished_invitations(&self, cutoff: DateTime<Utc>) -> StoreResult<u64>;
    /// Spends the invitation and creates the user with the invitation's fixed data and groups,
    /// all or nothing. A single-use invitation is spent by a conditional update, so of two
    /// concurrent enrollments with it exactly one creates an account; the other, and any
    /// enrollment with an expired or unknown invitation, fails with `Invalid` on `invitation`.
    /// Records `token_used` (model `invitation`) and `model_created` for the user.
    async fn enroll_with_invitation(
        &self,
        enrollment: Enrollment,
        audit: &AuditContext,
    ) -> StoreResult<User>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invitation() -> Invitation {
        Invitation {
            id: TokenId::new(),
            flow_slug: "default-enrollment-flow".into(),
            single_use: true,
            fixed_data: Map::new(),
            groups: Vec::new(),
            expires_at: None,
            created_by: None,
            created_by_name: "cli".into(),
            created_at: Utc::now(),
            use_count: 0,
            last_used_at: None,
        }
    }

    #[test]
    fn status_follows_use_and_expiry() {
        let now = Utc::now();
        let mut i = invitation();
        assert_eq!(i.status_at(now), InvitationStatus::Usable);
        i.expires_at = Some(now - chrono::Duration::seconds(1));
        assert_eq!(i.status_at(now), InvitationStatus::Expired);
        i.use_count = 1;
        assert_eq!(i.status_at(now), InvitationStatus::Used);
        i.single_use = false;
        assert_eq!(i.status_at(now), InvitationStatus::Expired);
        i.expires_at = None;
        assert_eq!(i.status_at(now), InvitationStatus::Usable);
    }

    #[test]
    fn new_invitations_are_checked() {
        let good = NewInvitation {
            flow_slug: "default-enrollment-flow".into(),
            single_use: true,
            fixed_data: serde_json::json!({"email": "Bob@EXAMPLE.com"})
                .as_object()
                .cloned()
                .unwrap_or_default(),
            groups: vec!["staff".into()],
            expires_at: None,
            created_by: None,
            digest: "d".into(),
        };
        let checked = good.clone().validate().expect("valid");
        assert_eq!(checked.fixed_data["email"], "Bob@example.com");
        let mut bad = good.clone();
        bad.fixed_data
            .insert("is_superuser".into(), Value::Bool(true));
        assert_eq!(bad.validate().expect_err("field").field, "fixed_data");
        let mut bad = good.clone();
        bad.flow_slug = "../x".into();
        assert_eq!(bad.validate().expect_err("slug").field, "flow");
        let mut bad = good;
        bad.fixed_data
            .insert("email".into(), Value::String("nope".into()));
        assert!(bad.validate().is_err());
    }
}
