//! Administrative rights: who may read or change which part of Gatehouse through the admin
//! API (and later the admin UI). Rights come from groups: a superuser group grants
//! everything, and a group's `gatehouse_admin_roles` attribute (a list of role names) grants
//! scoped roles to its effective members. Pure rules, so every entry point enforces the same.

use crate::group::Group;
use crate::validate::ValidationError;
use serde_json::Value;
use std::collections::BTreeSet;

/// The group attribute holding the scoped admin roles its members get.
pub const ROLES_ATTRIBUTE: &str = "gatehouse_admin_roles";

/// A scoped administrative role (superuser is not one: it is the group's `is_superuser`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AdminRole {
    /// Reads everything, changes nothing (compliance, support).
    Auditor,
    /// Manages people: users, groups, invitations, sessions, MFA devices and API tokens of
    /// unprivileged users; nothing about applications, keys or flows.
    UserManager,
}

impl AdminRole {
    /// Every role, for parsing and documentation.
    pub const ALL: [Self; 2] = [Self::Auditor, Self::UserManager];

    /// The stable name used in group attributes and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auditor => "auditor",
            Self::UserManager => "user_manager",
        }
    }

    /// Parses a stable name.
    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == value)
    }
}

/// The parts of Gatehouse that rights are granted on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AdminArea {
    /// Users, their sessions, MFA devices and passwords.
    Users,
    /// Groups and memberships.
    Groups,
    /// Enrollment invitations.
    Invitations,
    /// API tokens.
    Tokens,
    /// Applications and their providers.
    Applications,
    /// Upstream login sources (a user's connections to them belong to `Users`).
    Sources,
    /// Signing keys.
    Keys,
    /// Flows, stages and policies.
    Flows,
    /// The audit log (read-only for everyone).
    Events,
}

impl AdminArea {
    /// Whether a user manager may change objects in this area.
    fn managed_by_user_managers(self) -> bool {
        matches!(
            self,
            Self::Users | Self::Groups | Self::Invitations | Self::Tokens
        )
    }
}

/// What one caller may do: computed from its effective groups at every request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AdminRights {
    /// Member of a superuser group: everything.
    pub superuser: bool,
    /// The scoped roles from the groups' attributes.
    pub roles: BTreeSet<AdminRole>,
}

impl AdminRights {
    /// The rights granted by `groups` (a user's effective groups). Unknown role names in an
    /// attribute grant nothing.
    pub fn from_groups(groups: &[Group]) -> Self {
        let mut rights = Self::default();
        for group in groups {
            rights.superuser |= group.is_superuser;
            rights.roles.extend(roles_of(group));
        }
        rights
    }

    /// Whether the caller has any administrative right at all (may use the admin API).
    pub fn is_admin(&self) -> bool {
        self.superuser || !self.roles.is_empty()
    }

    /// Whether the caller may read objects in `area`.
    pub fn can_read(&self, area: AdminArea) -> bool {
        self.superuser
            || self.roles.contains(&AdminRole::Auditor)
            || (self.roles.contains(&AdminRole::UserManager)
                && (area.managed_by_user_managers() || area == AdminArea::Events))
    }

    /// Whether the caller may change objects in `area`. The audit log is never writable.
    pub fn can_write(&self, area: AdminArea) -> bool {
        if area == AdminArea::Events {
            return false;
        }
        self.superuser
            || (self.roles.contains(&AdminRole::UserManager) && area.managed_by_user_managers())
    }

    /// Whether the caller may grant or take away administrative rights (superuser flags,
    /// role attributes, memberships of privileged groups, privileged users' credentials).
    /// Only superusers may: otherwise a user manager could make itself a superuser.
    pub fn can_manage_privileged(&self) -> bool {
        self.superuser
    }
}

/// The valid roles named in `group`'s [`ROLES_ATTRIBUTE`].
pub fn roles_of(group: &Group) -> BTreeSet<AdminRole> {
    match group.attributes.get(ROLES_ATTRIBUTE) {
        Some(Value::Array(names)) => names
            .iter()
            .filter_map(Value::as_str)
            .filter_map(AdminRole::parse)
            .collect(),
        _ => BTreeSet::new(),
    }
}

/// Whether membership of `group` itself grants any administrative right.
pub fn grants_rights(group: &Group) -> bool {
    group.is_superuser || !roles_of(group).is_empty()
}

/// Checks a [`ROLES_ATTRIBUTE`] value someone wants to store: a list of known role names.
pub fn validate_roles_attribute(value: &Value) -> Result<(), ValidationError> {
    let field = "attributes.gatehouse_admin_roles";
    let Value::Array(names) = value else {
        return Err(ValidationError::new(field, "must be a list of role names"));
    };
    for name in names {
        match name.as_str().and_then(AdminRole::parse) {
            Some(_) => {}
            None => {
                return Err(ValidationError::new(
                    field,
                    format!("unknown role {name} (expected auditor or user_manager)"),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::GroupId;
    use chrono::Utc;
    use serde_json::{Map, json};

    fn group(superuser: bool, roles: Value) -> Group {
        let mut attributes = Map::new();
        attributes.insert(ROLES_ATTRIBUTE.into(), roles);
        Group {
            id: GroupId::new(),
            name: "g".into(),
            parent_id: None,
            is_superuser: superuser,
            attributes,
            created_at: Utc::now(),
        }
    }

    #[test]
    fn auditor_reads_everything_and_writes_nothing() {
        let rights = AdminRights::from_groups(&[group(false, json!(["auditor"]))]);
        for area in [
            AdminArea::Users,
            AdminArea::Applications,
            AdminArea::Sources,
            AdminArea::Keys,
            AdminArea::Flows,
            AdminArea::Events,
        ] {
            assert!(rights.can_read(area), "{area:?}");
            assert!(!rights.can_write(area), "{area:?}");
        }
        assert!(!rights.can_manage_privileged());
    }

    #[test]
    fn user_manager_is_scoped_to_people() {
        let rights = AdminRights::from_groups(&[group(false, json!(["user_manager", "bogus"]))]);
        assert_eq!(rights.roles.len(), 1);
        for area in [
            AdminArea::Users,
            AdminArea::Groups,
            AdminArea::Invitations,
            AdminArea::Tokens,
        ] {
            assert!(rights.can_read(area) && rights.can_write(area), "{area:?}");
        }
        for area in [
            AdminArea::Applications,
            AdminArea::Sources,
            AdminArea::Keys,
            AdminArea::Flows,
        ] {
            assert!(
                !rights.can_read(area) && !rights.can_write(area),
                "{area:?}"
            );
        }
        assert!(rights.can_read(AdminArea::Events) && !rights.can_write(AdminArea::Events));
        assert!(!rights.can_manage_privileged());
    }

    #[test]
    fn superuser_does_everything_but_rewrite_the_log() {
        let rights = AdminRights::from_groups(&[group(true, json!("not a list"))]);
        assert!(rights.is_admin() && rights.can_write(AdminArea::Keys));
        assert!(!rights.can_write(AdminArea::Events));
        assert!(rights.can_manage_privileged());
    }

    #[test]
    fn plain_groups_grant_nothing() {
        let rights = AdminRights::from_groups(&[group(false, json!([]))]);
        assert!(!rights.is_admin() && !rights.can_read(AdminArea::Users));
    }

    #[test]
    fn role_attribute_validation_names_the_field() {
        assert!(validate_roles_attribute(&json!(["auditor", "user_manager"])).is_ok());
        let err = validate_roles_attribute(&json!(["root"])).expect_err("unknown role");
        assert_eq!(err.field, "attributes.gatehouse_admin_roles");
        assert!(validate_roles_attribute(&json!("auditor")).is_err());
    }
}
