//! Export: the current users and groups as a document that `apply` recreates exactly,
//! password hashes included (so the file is as sensitive as the database).

use super::document::{Document, GroupSpec, UserSpec};
use super::snapshot::Snapshot;

/// Builds the document describing `snapshot`, sorted by name for stable diffs.
pub fn export(snapshot: &Snapshot) -> Document {
    let groups = snapshot
        .groups
        .values()
        .map(|(group, parent)| GroupSpec {
            name: group.name.clone(),
            parent: parent.clone().map(Some),
            is_superuser: group.is_superuser.then_some(true),
            attributes: (!group.attributes.is_empty()).then(|| group.attributes.clone()),
        })
        .collect();
    let users = snapshot
        .users
        .values()
        .map(|(user, groups)| UserSpec {
            username: user.username.clone(),
            name: Some(user.name.clone()),
            email: user.email.clone(),
            email_verified: user.email_verified.then_some(true),
            active: (!user.active).then_some(false),
            user_type: Some(user.user_type).filter(|t| *t != gatehouse_core::UserType::Internal),
            password: None,
            password_hash: user.password_hash.clone(),
            groups: Some(groups.clone()),
            attributes: (!user.attributes.is_empty()).then(|| user.attributes.clone()),
        })
        .collect();
    Document { groups, users }
}
