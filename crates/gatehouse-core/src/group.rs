//! Groups: named sets of users arranged in a hierarchy. Membership of a group implies
//! membership of all its ancestors, which is what policies and `groups` claims see.

use crate::ids::GroupId;
use crate::validate::{self, ValidationError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::HashSet;

/// The name of the superuser group the first-run setup creates.
pub const DEFAULT_ADMIN_GROUP: &str = "gatehouse-admins";

/// A stored group.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Group {
    /// Stable identifier.
    pub id: GroupId,
    /// Unique name.
    pub name: String,
    /// The group this one sits under, if any.
    pub parent_id: Option<GroupId>,
    /// Members are administrators of Gatehouse itself.
    pub is_superuser: bool,
    /// Free-form attributes used by policies and claim mappings.
    pub attributes: Map<String, Value>,
    /// When the group was created.
    pub created_at: DateTime<Utc>,
}

/// What is needed to create a group; the parent is named so one change set can create both.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NewGroup {
    /// Unique name.
    pub name: String,
    /// Name of the parent group.
    pub parent: Option<String>,
    /// Members are administrators.
    pub is_superuser: bool,
    /// Free-form attributes.
    pub attributes: Map<String, Value>,
}

impl NewGroup {
    /// A plain group with no parent.
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ..Self::default()
        }
    }

    /// Checks the name and parent.
    pub fn validate(self) -> Result<Self, ValidationError> {
        validate::group_name(&self.name)?;
        if let Some(parent) = &self.parent {
            validate::group_name(parent).map_err(|e| ValidationError::new("parent", e.message))?;
            if parent == &self.name {
                return Err(ValidationError::new(
                    "parent",
                    "a group cannot be its own parent",
                ));
            }
        }
        Ok(self)
    }
}

/// A partial update; `None` leaves a field alone.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GroupPatch {
    /// New name.
    pub name: Option<String>,
    /// New parent by name (`Some(None)` makes the group a root).
    pub parent: Option<Option<String>>,
    /// Grant or revoke superuser rights.
    pub is_superuser: Option<bool>,
    /// Replacement attributes.
    pub attributes: Option<Map<String, Value>>,
}

impl GroupPatch {
    /// The names of the fields this patch sets, for audit events.
    pub fn field_names(&self) -> Vec<&'static str> {
        [
            ("name", self.name.is_some()),
            ("parent", self.parent.is_some()),
            ("is_superuser", self.is_superuser.is_some()),
            ("attributes", self.attributes.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, set)| set.then_some(name))
        .collect()
    }

    /// Whether the patch would change anything at all.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// Whether making `new_parent` the parent of `group` would close a loop, given a way to look
/// up each group's current parent. Walks at most `limit` steps so a corrupt table cannot hang.
pub fn parent_change_creates_cycle(
    group: GroupId,
    new_parent: GroupId,
    parent_of: impl Fn(GroupId) -> Option<GroupId>,
) -> bool {
    let mut seen = HashSet::new();
    let mut cursor = Some(new_parent);
    while let Some(current) = cursor {
        if current == group || !seen.insert(current) {
            return true;
        }
        cursor = parent_of(current);
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn detects_cycles_through_ancestors() {
        let (a, b, c) = (GroupId::new(), GroupId::new(), GroupId::new());
        // c -> b -> a (c's parent is b, b's parent is a)
        let parents: HashMap<GroupId, GroupId> = [(c, b), (b, a)].into();
        let lookup = |g| parents.get(&g).copied();
        assert!(parent_change_creates_cycle(a, c, lookup));
        assert!(parent_change_creates_cycle(a, a, lookup));
        assert!(!parent_change_creates_cycle(c, a, lookup));
    }

    #[test]
    fn own_parent_is_rejected_by_validation() {
        let group = NewGroup {
            parent: Some("x".into()),
            ..NewGroup::named("x")
        };
        assert_eq!(group.validate().expect_err("cycle").field, "parent");
    }
}
