//! Export: the current users and groups as a document that `apply` recreates exactly,
//! password hashes included (so the file is as sensitive as the database), plus every flow that
//! is not exactly one of Gatehouse's defaults (those are seeded on start anyway), and every
//! application without its client secret, and every source with its client secret sealed
//! (only this installation's secret key opens it).

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
    let defaults: std::collections::BTreeMap<String, serde_json::Value> =
        gatehouse_flows::default_flows()
            .into_iter()
            .filter_map(|flow| Some((flow.slug.clone(), serde_json::to_value(flow).ok()?)))
            .collect();
    let flows = snapshot
        .flows
        .iter()
        .filter_map(|(slug, stored)| {
            let normalised = super::plan::normalised_flow(stored);
            if normalised.is_none() {
                tracing::warn!(flow = %slug, "stored flow no longer parses; left out of the export");
            }
            let normalised = normalised?;
            if defaults.get(slug) == Some(&normalised) {
                return None;
            }
            serde_json::from_value(normalised).ok()
        })
        .collect();
    let applications = snapshot
        .applications
        .values()
        .map(super::app_export::application_spec)
        .collect();
    let sources = snapshot
        .sources
        .values()
        .map(super::source_spec::source_spec)
        .collect();
    Document {
        groups,
        users,
        flows,
        applications,
        sources,
    }
}
