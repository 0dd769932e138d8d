//! Planning: compare a document with a snapshot and list the changes that make the database
//! match it. All references are checked here, before anything is written, so an unknown
//! group or a parent cycle is reported with its place in the document.

use super::document::{Document, GroupSpec, UserSpec};
use super::snapshot::Snapshot;
use gatehouse_core::{
    Change, ChangeSet, GroupPatch, NewGroup, NewUser, UserPatch, UserType, validate,
};
use gatehouse_crypto::{PasswordHasher, SecretBox, TokenDigester, Verification};
use std::collections::{BTreeMap, BTreeSet};

/// A problem in the document, located by path (`users[2].groups`).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{path}: {message}")]
pub struct PlanError {
    /// Where in the document.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

pub(super) fn error(path: impl Into<String>, message: impl Into<String>) -> PlanError {
    PlanError {
        path: path.into(),
        message: message.into(),
    }
}

/// Plans the changes that make the database match `document`; `digester` turns client
/// secrets into the digests the store keeps, `secret_box` seals sources' client secrets.
pub async fn plan(
    document: &Document,
    current: &Snapshot,
    hasher: &PasswordHasher,
    digester: &TokenDigester,
    secret_box: &SecretBox,
) -> Result<ChangeSet, PlanError> {
    check_unique(document)?;
    let known_groups: BTreeSet<&str> = current
        .groups
        .keys()
        .map(String::as_str)
        .chain(document.groups.iter().map(|g| g.name.as_str()))
        .collect();
    let mut changes = plan_groups(document, current, &known_groups)?;
    for (index, spec) in document.users.iter().enumerate() {
        changes.extend(plan_user(index, spec, current, &known_groups, hasher).await?);
    }
    changes.extend(plan_flows(document, current)?);
    changes.extend(super::app_plan::plan_applications(
        &document.applications,
        current,
        &known_groups,
        digester,
    )?);
    let known_flows: BTreeSet<&str> = current
        .flows
        .keys()
        .map(String::as_str)
        .chain(document.flows.iter().map(|f| f.slug.as_str()))
        .collect();
    changes.extend(super::source_spec::plan_sources(
        &document.sources,
        current,
        &known_groups,
        &known_flows,
        secret_box,
    )?);
    Ok(order(changes))
}

fn check_unique(document: &Document) -> Result<(), PlanError> {
    let mut seen = BTreeSet::new();
    for (index, group) in document.groups.iter().enumerate() {
        if !seen.insert(group.name.as_str()) {
            return Err(error(
                format!("groups[{index}].name"),
                format!("group {:?} is listed twice", group.name),
            ));
        }
    }
    let mut seen = BTreeSet::new();
    for (index, flow) in document.flows.iter().enumerate() {
        if !seen.insert(flow.slug.as_str()) {
            return Err(error(
                format!("flows[{index}].slug"),
                format!("flow {:?} is listed twice", flow.slug),
            ));
        }
    }
    let mut seen = BTreeSet::new();
    for (index, user) in document.users.iter().enumerate() {
        if !seen.insert(user.username.as_str()) {
            return Err(error(
                format!("users[{index}].username"),
                format!("user {:?} is listed twice", user.username),
            ));
        }
    }
    Ok(())
}

fn plan_groups(
    document: &Document,
    current: &Snapshot,
    known: &BTreeSet<&str>,
) -> Result<ChangeSet, PlanError> {
    let mut creates = Vec::new();
    let mut updates = Vec::new();
    for (index, spec) in document.groups.iter().enumerate() {
        let path = format!("groups[{index}]");
        validate::group_name(&spec.name).map_err(|e| error(format!("{path}.name"), e.message))?;
        if let Some(Some(parent)) = &spec.parent {
            if parent == &spec.name {
                return Err(error(
                    format!("{path}.parent"),
                    "a group cannot be its own parent",
                ));
            }
            if !known.contains(parent.as_str()) {
                return Err(error(
                    format!("{path}.parent"),
                    format!("unknown group {parent:?}"),
                ));
            }
        }
        match current.groups.get(&spec.name) {
            None => creates.push(NewGroup {
                name: spec.name.clone(),
                parent: spec.parent.clone().flatten(),
                is_superuser: spec.is_superuser.unwrap_or(false),
                attributes: spec.attributes.clone().unwrap_or_default(),
            }),
            Some((existing, existing_parent)) => {
                let patch = group_patch(spec, existing, existing_parent.as_deref());
                if !patch.is_empty() {
                    updates.push(Change::UpdateGroup {
                        name: spec.name.clone(),
                        patch,
                    });
                }
            }
        }
    }
    check_parent_cycles(document, current)?;
    let mut changes: ChangeSet = parents_first(creates)
        .into_iter()
        .map(Change::CreateGroup)
        .collect();
    changes.extend(updates);
    Ok(changes)
}

fn group_patch(
    spec: &GroupSpec,
    existing: &gatehouse_core::Group,
    existing_parent: Option<&str>,
) -> GroupPatch {
    GroupPatch {
        name: None,
        parent: spec
            .parent
            .clone()
            .filter(|wanted| wanted.as_deref() != existing_parent),
        is_superuser: spec
            .is_superuser
            .filter(|wanted| *wanted != existing.is_superuser),
        attributes: spec
            .attributes
            .clone()
            .filter(|wanted| *wanted != existing.attributes),
    }
}

/// Refuses a document whose parents (combined with the database's) form a loop.
fn check_parent_cycles(document: &Document, current: &Snapshot) -> Result<(), PlanError> {
    let mut parent_of: BTreeMap<&str, Option<&str>> = current
        .groups
        .iter()
        .map(|(name, (_, parent))| (name.as_str(), parent.as_deref()))
        .collect();
    for spec in &document.groups {
        match &spec.parent {
            Some(parent) => {
                parent_of.insert(&spec.name, parent.as_deref());
            }
            None => {
                parent_of.entry(&spec.name).or_insert(None);
            }
        }
    }
    for (index, spec) in document.groups.iter().enumerate() {
        let mut seen = BTreeSet::new();
        let mut cursor = Some(spec.name.as_str());
        while let Some(name) = cursor {
            if !seen.insert(name) {
                return Err(error(
                    format!("groups[{index}].parent"),
                    format!("group parents form a cycle through {:?}", spec.name),
                ));
            }
            cursor = parent_of.get(name).copied().flatten();
        }
    }
    Ok(())
}

/// Orders new groups so each parent that is also new comes before its children.
fn parents_first(mut pending: Vec<NewGroup>) -> Vec<NewGroup> {
    let mut ordered: Vec<NewGroup> = Vec::with_capacity(pending.len());
    while !pending.is_empty() {
        let new_names: BTreeSet<String> = pending.iter().map(|g| g.name.clone()).collect();
        let (ready, waiting): (Vec<_>, Vec<_>) = pending
            .into_iter()
            .partition(|g| g.parent.as_ref().is_none_or(|p| !new_names.contains(p)));
        if ready.is_empty() {
            // Only possible with a cycle, which check_parent_cycles already refused.
            ordered.extend(waiting);
            break;
        }
        ordered.extend(ready);
        pending = waiting;
    }
    ordered
}

async fn plan_user(
    index: usize,
    spec: &UserSpec,
    current: &Snapshot,
    known_groups: &BTreeSet<&str>,
    hasher: &PasswordHasher,
) -> Result<ChangeSet, PlanError> {
    let path = format!("users[{index}]");
    validate::username(&spec.username).map_err(|e| error(format!("{path}.username"), e.message))?;
    let email = spec
        .email
        .as_deref()
        .map(validate::email)
        .transpose()
        .map_err(|e| error(format!("{path}.email"), e.message))?;
    if let Some(name) = &spec.name {
        validate::display_name(name).map_err(|e| error(format!("{path}.name"), e.message))?;
    }
    let mut groups = spec.groups.clone();
    if let Some(list) = &mut groups {
        for (g, group) in list.iter().enumerate() {
            if !known_groups.contains(group.as_str()) {
                return Err(error(
                    format!("{path}.groups[{g}]"),
                    format!("unknown group {group:?}"),
                ));
            }
        }
        list.sort();
        list.dedup();
    }
    if spec.password.is_some() && spec.password_hash.is_some() {
        return Err(error(
            format!("{path}.password"),
            "set password or password_hash, not both",
        ));
    }
    if let Some(hash) = &spec.password_hash
        && !is_supported_hash(hash)
    {
        return Err(error(
            format!("{path}.password_hash"),
            "must be an Argon2 ($argon2id$…) or bcrypt ($2a$/$2b$/$2y$…) hash",
        ));
    }
    if spec.password.as_deref() == Some("") {
        return Err(error(format!("{path}.password"), "must not be empty"));
    }

    let Some((existing, existing_groups)) = current.users.get(&spec.username) else {
        let password_hash = match (&spec.password, &spec.password_hash) {
            (Some(password), _) => Some(hash(hasher, password, &path).await?),
            (None, hash) => hash.clone(),
        };
        return Ok(vec![Change::CreateUser(NewUser {
            username: spec.username.clone(),
            name: spec.name.clone().unwrap_or_default(),
            email,
            email_verified: spec.email_verified.unwrap_or(false),
            active: spec.active.unwrap_or(true),
            user_type: spec.user_type.unwrap_or(UserType::Internal),
            password_hash,
            attributes: spec.attributes.clone().unwrap_or_default(),
            groups: groups.unwrap_or_default(),
        })]);
    };

    let mut changes = Vec::new();
    let patch = UserPatch {
        name: spec.name.clone().filter(|n| *n != existing.name),
        email: email.map(Some).filter(|e| *e != existing.email),
        email_verified: spec
            .email_verified
            .filter(|v| *v != existing.email_verified),
        active: spec.active.filter(|v| *v != existing.active),
        user_type: spec.user_type.filter(|t| *t != existing.user_type),
        attributes: spec
            .attributes
            .clone()
            .filter(|a| *a != existing.attributes),
    };
    if !patch.is_empty() {
        changes.push(Change::UpdateUser {
            username: spec.username.clone(),
            patch,
        });
    }
    let new_hash = match (&spec.password, &spec.password_hash) {
        (Some(password), _) => {
            let unchanged = match &existing.password_hash {
                Some(stored) => matches!(
                    hasher.verify(password.clone(), stored.clone()).await,
                    Ok(Verification::Valid { .. })
                ),
                None => false,
            };
            if unchanged {
                None
            } else {
                Some(hash(hasher, password, &path).await?)
            }
        }
        (None, Some(hash)) if existing.password_hash.as_ref() != Some(hash) => Some(hash.clone()),
        _ => None,
    };
    if let Some(hash) = new_hash {
        changes.push(Change::SetPasswordHash {
            username: spec.username.clone(),
            hash,
        });
    }
    if let Some(groups) = groups
        && groups != *existing_groups
    {
        changes.push(Change::SetUserGroups {
            username: spec.username.clone(),
            groups,
        });
    }
    Ok(changes)
}

async fn hash(hasher: &PasswordHasher, password: &str, path: &str) -> Result<String, PlanError> {
    hasher
        .hash(password.to_owned())
        .await
        .map_err(|e| error(format!("{path}.password"), e.to_string()))
}

fn is_supported_hash(hash: &str) -> bool {
    [
        "$argon2id$",
        "$argon2i$",
        "$argon2d$",
        "$2a$",
        "$2b$",
        "$2y$",
    ]
    .iter()
    .any(|prefix| hash.starts_with(prefix))
}

/// Flows that are new or differ from what is stored, each checked as the flow engine would.
fn plan_flows(document: &Document, current: &Snapshot) -> Result<ChangeSet, PlanError> {
    let mut changes = Vec::new();
    for (index, flow) in document.flows.iter().enumerate() {
        let path = format!("flows[{index}]");
        flow.validate()
            .map_err(|e| error(format!("{path}.{}", e.field), e.message))?;
        let definition = serde_json::to_value(flow)
            .map_err(|e| error(path.clone(), format!("cannot be stored: {e}")))?;
        if current.flows.get(&flow.slug).map(normalised_flow) != Some(Some(definition.clone())) {
            changes.push(Change::PutFlow {
                slug: flow.slug.clone(),
                definition,
            });
        }
    }
    Ok(changes)
}

/// A stored definition as the current flow engine would write it (defaults filled in), so an
/// unchanged flow plans nothing; `None` when it no longer parses.
pub(super) fn normalised_flow(stored: &serde_json::Value) -> Option<serde_json::Value> {
    let flow: gatehouse_flows::Flow = serde_json::from_value(stored.clone()).ok()?;
    serde_json::to_value(flow).ok()
}

/// Groups first (creates before updates), then users, flows and applications, so every name
/// resolves when applied.
fn order(changes: ChangeSet) -> ChangeSet {
    let rank = |c: &Change| match c {
        Change::CreateGroup(_) => 0,
        Change::UpdateGroup { .. } => 1,
        Change::CreateUser(_) => 2,
        Change::UpdateUser { .. } => 3,
        Change::SetPasswordHash { .. } => 4,
        Change::SetUserGroups { .. } => 5,
        Change::PutFlow { .. } => 6,
        Change::CreateApplication(_) => 7,
        Change::UpdateApplication { .. } => 8,
        Change::PutSource(_) => 9,
        // Never planned from a document (the flow pages' own changes); kept last.
        Change::StartSession(_)
        | Change::EndSession(_)
        | Change::EndOtherSessions { .. }
        | Change::RecordLogin { .. }
        | Change::RecordEvent(_) => 10,
    };
    let mut indexed: Vec<(usize, Change)> = changes.into_iter().enumerate().collect();
    indexed.sort_by_key(|(i, c)| (rank(c), *i));
    indexed.into_iter().map(|(_, c)| c).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(name: &str, parent: Option<&str>) -> NewGroup {
        NewGroup {
            parent: parent.map(str::to_owned),
            ..NewGroup::named(name)
        }
    }

    #[test]
    fn parents_are_created_before_children() {
        let ordered = parents_first(vec![
            group("c", Some("b")),
            group("b", Some("a")),
            group("a", None),
            group("x", Some("existing")),
        ]);
        let names: Vec<&str> = ordered.iter().map(|g| g.name.as_str()).collect();
        let pos = |n| names.iter().position(|x| *x == n).unwrap_or(usize::MAX);
        assert!(pos("a") < pos("b") && pos("b") < pos("c"), "{names:?}");
        assert_eq!(names.len(), 4);
    }

    #[test]
    fn cycles_in_the_document_are_refused() {
        let document = Document {
            groups: vec![
                GroupSpec {
                    name: "a".into(),
                    parent: Some(Some("b".into())),
                    ..GroupSpec::default()
                },
                GroupSpec {
                    name: "b".into(),
                    parent: Some(Some("a".into())),
                    ..GroupSpec::default()
                },
            ],
            ..Document::default()
        };
        let err = check_parent_cycles(&document, &Snapshot::default()).expect_err("cycle");
        assert_eq!(err.path, "groups[0].parent");
    }

    fn default_flow(slug: &str) -> gatehouse_flows::Flow {
        gatehouse_flows::default_flows()
            .into_iter()
            .find(|flow| flow.slug == slug)
            .expect("a default flow")
    }

    fn stored(flows: &[gatehouse_flows::Flow]) -> Snapshot {
        Snapshot {
            flows: flows
                .iter()
                .map(|flow| {
                    (
                        flow.slug.clone(),
                        serde_json::to_value(flow).expect("serialisable"),
                    )
                })
                .collect(),
            ..Snapshot::default()
        }
    }

    #[test]
    fn flows_plan_only_what_differs() {
        let login = default_flow("default-authentication-flow");
        let current = stored(std::slice::from_ref(&login));
        let same = Document {
            flows: vec![login.clone()],
            ..Document::default()
        };
        assert_eq!(plan_flows(&same, &current), Ok(vec![]));

        let mut retitled = login.clone();
        retitled.title = "Sign in to Example".into();
        let mut brand_new = login;
        brand_new.slug = "kiosk-login".into();
        let changed = Document {
            flows: vec![retitled.clone(), brand_new],
            ..Document::default()
        };
        let changes = plan_flows(&changed, &current).expect("plan");
        let slugs: Vec<String> = changes
            .iter()
            .map(|change| match change {
                Change::PutFlow { slug, definition } => {
                    assert_eq!(definition["slug"], slug.as_str());
                    slug.clone()
                }
                other => panic!("unexpected {other}"),
            })
            .collect();
        assert_eq!(slugs, ["default-authentication-flow", "kiosk-login"]);
    }

    #[test]
    fn invalid_or_repeated_flows_are_refused_with_their_place() {
        let mut bad = default_flow("default-authentication-flow");
        bad.slug = "Not A Slug".into();
        let document = Document {
            flows: vec![default_flow("default-invalidation-flow"), bad],
            ..Document::default()
        };
        let err = plan_flows(&document, &Snapshot::default()).expect_err("invalid");
        assert_eq!(err.path, "flows[1].slug");

        let twice = Document {
            flows: vec![
                default_flow("default-invalidation-flow"),
                default_flow("default-invalidation-flow"),
            ],
            ..Document::default()
        };
        let err = check_unique(&twice).expect_err("repeated");
        assert_eq!(err.path, "flows[1].slug");
    }

    #[test]
    fn hash_formats() {
        assert!(is_supported_hash("$2y$10$abc"));
        assert!(is_supported_hash("$argon2id$v=19$m=19456,t=2,p=1$x$y"));
        assert!(!is_supported_hash("plaintext"));
        assert!(!is_supported_hash("{SSHA}abc"));
    }
}
