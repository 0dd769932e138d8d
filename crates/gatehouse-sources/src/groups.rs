//! The group-sync plan of one upstream login (issue 6, "group sync"): which Gatehouse groups
//! to create, join and leave so that the user's source-managed memberships equal the
//! upstream's groups under the source's rule. Only memberships this source made (remembered
//! on the connection) are ever removed; memberships an admin gave stay. A sync never grants a
//! superuser group, and with a parent set it only touches groups directly under the parent.

use gatehouse_core::{GroupChanges, GroupSync, GroupSyncMode, validate};
use std::collections::BTreeSet;

/// A local group as the plan needs to see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalGroup {
    /// Its name.
    pub name: String,
    /// Whether members are administrators.
    pub is_superuser: bool,
    /// Its parent's name.
    pub parent: Option<String>,
}

/// Plans the sync. `existing` holds the local groups whose names the upstream mentions (the
/// server looks them up); `previously_synced` is the connection's remembered set. With the
/// mode `off`, nothing changes and the remembered set is kept.
pub fn plan(
    rule: &GroupSync,
    upstream: &[String],
    existing: &[LocalGroup],
    previously_synced: &[String],
) -> GroupChanges {
    if rule.mode == GroupSyncMode::Off {
        return GroupChanges {
            synced: previously_synced.to_vec(),
            ..GroupChanges::default()
        };
    }
    let wanted: BTreeSet<&str> = upstream
        .iter()
        .map(String::as_str)
        .filter(|name| validate::group_name(name).is_ok())
        .filter(|name| Some(*name) != rule.parent.as_deref())
        .collect();
    let mut changes = GroupChanges {
        parent: rule.parent.clone(),
        ..GroupChanges::default()
    };
    for name in wanted {
        match existing.iter().find(|g| g.name == name) {
            Some(group) => {
                let under_parent = rule.parent.is_none() || group.parent == rule.parent;
                if !group.is_superuser && under_parent {
                    changes.join.push(name.to_owned());
                }
            }
            None if rule.mode == GroupSyncMode::Create => {
                changes.create.push(name.to_owned());
                changes.join.push(name.to_owned());
            }
            None => {}
        }
    }
    changes.leave = previously_synced
        .iter()
        .filter(|name| !changes.join.contains(name))
        .cloned()
        .collect();
    changes.synced = changes.join.clone();
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    fn group(name: &str, parent: Option<&str>) -> LocalGroup {
        LocalGroup {
            name: name.into(),
            is_superuser: false,
            parent: parent.map(str::to_owned),
        }
    }

    #[test]
    fn create_mode_creates_joins_and_leaves_only_what_it_synced() {
        let rule = GroupSync {
            mode: GroupSyncMode::Create,
            parent: Some("forgejo".into()),
        };
        let existing = [group("infra", Some("forgejo"))];
        let first = plan(&rule, &names(&["infra", "infra:ops"]), &existing, &[]);
        assert_eq!(first.create, ["infra:ops"]);
        assert_eq!(first.parent.as_deref(), Some("forgejo"));
        assert_eq!(first.join, ["infra", "infra:ops"]);
        assert!(first.leave.is_empty());
        assert_eq!(first.synced, ["infra", "infra:ops"]);
        let existing = [
            group("infra", Some("forgejo")),
            group("infra:ops", Some("forgejo")),
        ];
        let second = plan(&rule, &names(&["infra"]), &existing, &first.synced);
        assert!(second.create.is_empty());
        assert_eq!(second.join, ["infra"]);
        assert_eq!(second.leave, ["infra:ops"]);
        assert_eq!(second.synced, ["infra"]);
    }

    #[test]
    fn existing_mode_never_creates_and_never_grants_admin_or_foreign_groups() {
        let rule = GroupSync {
            mode: GroupSyncMode::Existing,
            parent: None,
        };
        let admins = LocalGroup {
            name: "gatehouse-admins".into(),
            is_superuser: true,
            parent: None,
        };
        let existing = [group("dev", None), admins];
        let changes = plan(
            &rule,
            &names(&["dev", "gatehouse-admins", "unknown", " bad "]),
            &existing,
            &names(&["old"]),
        );
        assert!(changes.create.is_empty());
        assert_eq!(changes.join, ["dev"]);
        assert_eq!(changes.leave, ["old"]);
        let scoped = GroupSync {
            mode: GroupSyncMode::Existing,
            parent: Some("forgejo".into()),
        };
        let changes = plan(&scoped, &names(&["dev", "forgejo"]), &existing, &[]);
        assert!(changes.join.is_empty(), "dev is not under forgejo");
    }

    #[test]
    fn off_changes_nothing() {
        let changes = plan(
            &GroupSync::default(),
            &names(&["dev"]),
            &[group("dev", None)],
            &names(&["kept"]),
        );
        assert!(changes.join.is_empty() && changes.leave.is_empty());
        assert_eq!(changes.synced, ["kept"]);
    }
}
