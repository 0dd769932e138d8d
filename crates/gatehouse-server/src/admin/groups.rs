//! Managing groups: create, rename, move under another parent, delete, and their members.
//! Groups that grant administrative rights (superuser, or `gatehouse_admin_roles` on the
//! group or an ancestor) are changed by superusers only, and so is granting such rights.

use super::{AdminError, AdminResult, Caller, group_is_privileged, user_is_privileged};
use crate::services::Services;
use gatehouse_core::admin_role::{ROLES_ATTRIBUTE, roles_of, validate_roles_attribute};
use gatehouse_core::{
    AdminArea, Group, GroupId, GroupPatch, ListQuery, NewGroup, Page, User, UserId,
};

/// A page of groups.
pub async fn list(
    services: &Services,
    caller: &Caller,
    query: &ListQuery,
) -> AdminResult<Page<Group>> {
    caller.require_read(AdminArea::Groups)?;
    Ok(services.store.list_groups(query).await?)
}

/// One group.
pub async fn get(services: &Services, caller: &Caller, id: GroupId) -> AdminResult<Group> {
    caller.require_read(AdminArea::Groups)?;
    find(services, id).await
}

/// A group's direct members.
pub async fn members(
    services: &Services,
    caller: &Caller,
    id: GroupId,
    query: &ListQuery,
) -> AdminResult<Page<User>> {
    caller.require_read(AdminArea::Groups)?;
    let group = find(services, id).await?;
    Ok(services.store.group_members(group.id, query).await?)
}

/// Creates a group; a superuser flag, admin roles or a privileged parent need a superuser.
pub async fn create(services: &Services, caller: &Caller, group: NewGroup) -> AdminResult<Group> {
    caller.require_write(AdminArea::Groups)?;
    let group = group.validate()?;
    if let Some(roles) = group.attributes.get(ROLES_ATTRIBUTE) {
        validate_roles_attribute(roles)?;
    }
    let parent =
        match &group.parent {
            Some(name) => {
                Some(services.store.group_by_name(name).await?.ok_or_else(|| {
                    AdminError::field("parent", format!("no group named {name:?}"))
                })?)
            }
            None => None,
        };
    let mut privileged = group.is_superuser || group.attributes.contains_key(ROLES_ATTRIBUTE);
    if let Some(parent) = &parent {
        privileged |= group_is_privileged(services, parent).await?;
    }
    if privileged {
        caller.require_privileged("create groups that grant administrative rights")?;
    }
    if services.store.group_by_name(&group.name).await?.is_some() {
        return Err(AdminError::field("name", "already taken"));
    }
    Ok(services.store.create_group(group, &caller.audit).await?)
}

/// Changes a group.
pub async fn update(
    services: &Services,
    caller: &Caller,
    id: GroupId,
    patch: GroupPatch,
) -> AdminResult<Group> {
    let group = writable(services, caller, id).await?;
    if let Some(name) = &patch.name {
        gatehouse_core::validate::group_name(name)?;
        if name != &group.name && services.store.group_by_name(name).await?.is_some() {
            return Err(AdminError::field("name", "already taken"));
        }
    }
    let mut grants = patch.is_superuser.is_some_and(|s| s != group.is_superuser);
    if let Some(attributes) = &patch.attributes {
        if let Some(roles) = attributes.get(ROLES_ATTRIBUTE) {
            validate_roles_attribute(roles)?;
        }
        let mut changed = group.clone();
        changed.attributes = attributes.clone();
        grants |= roles_of(&changed) != roles_of(&group);
    }
    if let Some(Some(parent)) = &patch.parent {
        gatehouse_core::validate::group_name(parent)
            .map_err(|e| AdminError::field("parent", e.message))?;
        let parent = services
            .store
            .group_by_name(parent)
            .await?
            .ok_or_else(|| AdminError::field("parent", format!("no group named {parent:?}")))?;
        grants |= group_is_privileged(services, &parent).await?;
    }
    if grants {
        caller.require_privileged("grant administrative rights")?;
    }
    if patch.is_empty() {
        return Ok(group);
    }
    Ok(services
        .store
        .update_group(group.id, patch, &caller.audit)
        .await?)
}

/// Deletes a group (its children move up to its parent).
pub async fn delete(services: &Services, caller: &Caller, id: GroupId) -> AdminResult<()> {
    let group = writable(services, caller, id).await?;
    Ok(services.store.delete_group(group.id, &caller.audit).await?)
}

/// Adds a direct member.
pub async fn add_member(
    services: &Services,
    caller: &Caller,
    id: GroupId,
    user: UserId,
) -> AdminResult<()> {
    let group = writable(services, caller, id).await?;
    let user = member(services, caller, user).await?;
    Ok(services
        .store
        .add_member(group.id, user.id, &caller.audit)
        .await?)
}

/// Removes a direct member.
pub async fn remove_member(
    services: &Services,
    caller: &Caller,
    id: GroupId,
    user: UserId,
) -> AdminResult<()> {
    let group = writable(services, caller, id).await?;
    let user = member(services, caller, user).await?;
    Ok(services
        .store
        .remove_member(group.id, user.id, &caller.audit)
        .await?)
}

async fn find(services: &Services, id: GroupId) -> AdminResult<Group> {
    services
        .store
        .group_by_id(id)
        .await?
        .ok_or_else(|| AdminError::not_found("group"))
}

/// The group, if the caller may change it (or its membership).
async fn writable(services: &Services, caller: &Caller, id: GroupId) -> AdminResult<Group> {
    caller.require_write(AdminArea::Groups)?;
    let group = find(services, id).await?;
    if group_is_privileged(services, &group).await? {
        caller.require_privileged("change groups that grant administrative rights")?;
    }
    Ok(group)
}

/// The user whose membership changes; administrators are moved by superusers only.
async fn member(services: &Services, caller: &Caller, id: UserId) -> AdminResult<User> {
    let user = services
        .store
        .user_by_id(id)
        .await?
        .ok_or_else(|| AdminError::not_found("user"))?;
    if user_is_privileged(services, user.id).await? {
        caller.require_privileged("change the groups of users who hold administrative rights")?;
    }
    Ok(user)
}
