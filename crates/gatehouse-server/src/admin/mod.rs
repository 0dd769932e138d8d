//! Administration services: what an administrator may do to users, groups, applications,
//! upstream sources, keys, tokens, invitations, flows and the audit log, with the caller's
//! rights checked on every call. The REST API (`/api/v3/`) is a thin layer over these functions, and the admin
//! UI reuses them, so both enforce the same rules and write the same audit events as the CLI.

pub mod applications;
pub mod events;
pub mod flows;
pub mod groups;
pub mod invitations;
pub mod keys;
pub mod sources;
pub mod tokens;
pub mod users;

use crate::services::Services;
use gatehouse_core::admin_role::grants_rights;
use gatehouse_core::{
    AdminArea, AdminRights, AuditContext, Group, GroupId, ListQuery, Page, StoreError, User,
    UserId, ValidationError,
};
use std::collections::{BTreeMap, HashSet};

/// Why an administrative call failed; each variant maps to one HTTP status.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum AdminError {
    /// No valid credentials were presented (401).
    #[error("authentication required")]
    Unauthenticated,
    /// The caller lacks the right for this call (403).
    #[error("{0}")]
    Forbidden(String),
    /// Input broke field rules (400); field name to messages.
    #[error("invalid input")]
    Invalid(BTreeMap<String, Vec<String>>),
    /// The addressed object does not exist (404).
    #[error("{0}")]
    NotFound(String),
    /// A uniqueness or state rule forbids the change (409).
    #[error("{0}")]
    Conflict(String),
    /// The database cannot be reached (503).
    #[error("database unavailable")]
    Unavailable,
    /// Anything else (500); the details went to the log.
    #[error("internal error")]
    Internal,
}

impl AdminError {
    /// A 400 naming one field.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid(BTreeMap::from([(field.into(), vec![message.into()])]))
    }

    /// A 404 for a `kind` that does not exist.
    pub fn not_found(kind: &str) -> Self {
        Self::NotFound(format!("{kind} not found"))
    }
}

impl From<ValidationError> for AdminError {
    fn from(error: ValidationError) -> Self {
        Self::field(error.field, error.message)
    }
}

impl From<StoreError> for AdminError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Invalid(invalid) => invalid.into(),
            StoreError::NotFound { kind, .. } => Self::not_found(kind),
            StoreError::Conflict(message) => Self::Conflict(message),
            StoreError::Unavailable => Self::Unavailable,
            StoreError::Internal => Self::Internal,
        }
    }
}

/// Shorthand for service results.
pub type AdminResult<T> = Result<T, AdminError>;

/// An authenticated administrator: the user, its rights (computed from its effective groups
/// at this request, so a revoked role takes effect at once) and the audit context its
/// changes are recorded with.
#[derive(Clone, Debug)]
pub struct Caller {
    /// The acting user.
    pub user: User,
    /// What it may do.
    pub rights: AdminRights,
    /// Actor, client address and user agent for audit events.
    pub audit: AuditContext,
}

impl Caller {
    /// Resolves `user`'s rights; a user without any administrative right is refused (403).
    pub async fn resolve(
        services: &Services,
        user: User,
        audit: AuditContext,
    ) -> AdminResult<Self> {
        let groups = services.store.effective_groups(user.id).await?;
        let rights = AdminRights::from_groups(&groups);
        if !rights.is_admin() {
            return Err(AdminError::Forbidden(
                "this account has no administrative role".into(),
            ));
        }
        let audit = crate::authn::acting_as(&user, &audit);
        Ok(Self {
            user,
            rights,
            audit,
        })
    }

    /// Refuses unless the caller may read `area`.
    pub fn require_read(&self, area: AdminArea) -> AdminResult<()> {
        if self.rights.can_read(area) {
            Ok(())
        } else {
            Err(AdminError::Forbidden(format!(
                "your roles do not allow reading {}",
                area_name(area)
            )))
        }
    }

    /// Refuses unless the caller may change `area`.
    pub fn require_write(&self, area: AdminArea) -> AdminResult<()> {
        if self.rights.can_write(area) {
            Ok(())
        } else {
            Err(AdminError::Forbidden(format!(
                "your roles do not allow changing {}",
                area_name(area)
            )))
        }
    }

    /// Refuses unless the caller may grant or touch administrative rights (superusers only).
    pub fn require_privileged(&self, what: &str) -> AdminResult<()> {
        if self.rights.can_manage_privileged() {
            Ok(())
        } else {
            Err(AdminError::Forbidden(format!("only superusers may {what}")))
        }
    }
}

fn area_name(area: AdminArea) -> &'static str {
    match area {
        AdminArea::Users => "users",
        AdminArea::Groups => "groups",
        AdminArea::Invitations => "invitations",
        AdminArea::Tokens => "tokens",
        AdminArea::Applications => "applications",
        AdminArea::Sources => "sources",
        AdminArea::Keys => "signing keys",
        AdminArea::Flows => "flows",
        AdminArea::Events => "events",
    }
}

/// Whether `user` holds any administrative right (so only superusers may change it).
pub(crate) async fn user_is_privileged(services: &Services, user: UserId) -> AdminResult<bool> {
    let groups = services.store.effective_groups(user).await?;
    Ok(AdminRights::from_groups(&groups).is_admin())
}

/// Whether membership of `group` grants administrative rights, through itself or an
/// ancestor (members of a group are effective members of its ancestors).
pub(crate) async fn group_is_privileged(services: &Services, group: &Group) -> AdminResult<bool> {
    let mut seen: HashSet<GroupId> = HashSet::new();
    let mut cursor = Some(group.clone());
    while let Some(current) = cursor {
        if grants_rights(&current) {
            return Ok(true);
        }
        if !seen.insert(current.id) {
            break;
        }
        cursor = match current.parent_id {
            Some(parent) => services.store.group_by_id(parent).await?,
            None => None,
        };
    }
    Ok(false)
}

/// Checks that each named group exists (a 400 on `groups` otherwise) and, when one grants
/// administrative rights, that the caller is a superuser: `action` ("add users to", "invite
/// into") completes the refusal.
pub(crate) async fn require_joinable(
    services: &Services,
    caller: &Caller,
    names: &[String],
    action: &str,
) -> AdminResult<()> {
    for name in names {
        let group = services
            .store
            .group_by_name(name)
            .await?
            .ok_or_else(|| AdminError::field("groups", format!("no group named {name:?}")))?;
        if group_is_privileged(services, &group).await? {
            caller
                .require_privileged(&format!("{action} groups that grant administrative rights"))?;
        }
    }
    Ok(())
}

/// Pages a small list held in memory (applications, keys, tokens, invitations, flows) the
/// same way the store pages users: `search` keeps items whose `text` contains it
/// (case-insensitive), `descending` reverses the given order.
pub(crate) fn page_in_memory<T>(
    mut items: Vec<T>,
    query: &ListQuery,
    text: impl Fn(&T) -> String,
) -> Page<T> {
    if let Some(needle) = query.search.as_deref().map(str::to_lowercase)
        && !needle.is_empty()
    {
        items.retain(|item| text(item).to_lowercase().contains(&needle));
    }
    if query.descending {
        items.reverse();
    }
    let total = items.len() as u64;
    let offset = usize::try_from(query.offset).unwrap_or(usize::MAX);
    let limit = usize::try_from(query.clamped_limit()).unwrap_or(usize::MAX);
    let items = items.into_iter().skip(offset).take(limit).collect();
    Page { items, total }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_memory_pages_search_reverse_and_count() {
        let words = vec!["alpha", "beta", "gamma", "delta"];
        let query = ListQuery {
            search: Some("TA".into()),
            descending: true,
            limit: 1,
            offset: 0,
        };
        let page = page_in_memory(words, &query, |w| (*w).to_owned());
        assert_eq!(page.total, 2);
        assert_eq!(page.items, vec!["delta"]);
    }

    #[test]
    fn store_errors_map_to_admin_errors() {
        let invalid: AdminError =
            StoreError::Invalid(ValidationError::new("username", "taken")).into();
        assert_eq!(
            invalid,
            AdminError::Invalid(BTreeMap::from([("username".into(), vec!["taken".into()])]))
        );
        assert_eq!(
            AdminError::from(StoreError::not_found("user", "x")),
            AdminError::NotFound("user not found".into())
        );
    }
}
