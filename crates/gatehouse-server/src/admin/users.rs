//! Managing users: create, change, deactivate, delete, set a password, send a recovery link,
//! and look after their sessions and MFA devices. Changing a user who holds administrative
//! rights is reserved to superusers, so a user manager cannot take over an administrator.

use super::{AdminError, AdminResult, Caller, require_joinable, user_is_privileged};
use crate::services::Services;
use gatehouse_core::{
    AdminArea, AuditContext, Change, Device, DeviceId, EventAction, Group, ListQuery, NewEvent,
    NewUser, Page, Session, SessionId, User, UserId, UserPatch, UserType,
};
use serde_json::{Map, Value};

/// What an administrator fills in to create a user.
#[derive(Clone, Debug, Default)]
pub struct UserDraft {
    /// Login name.
    pub username: String,
    /// Display name (the username when empty).
    pub name: String,
    /// Contact address.
    pub email: Option<String>,
    /// Whether the address is known to be the user's.
    pub email_verified: bool,
    /// Whether the user may sign in.
    pub active: bool,
    /// Person or service account.
    pub user_type: UserType,
    /// Free-form attributes.
    pub attributes: Map<String, Value>,
    /// Direct groups by name.
    pub groups: Vec<String>,
    /// An initial password, checked against the password policy and hashed here.
    pub password: Option<String>,
}

/// A page of users.
pub async fn list(
    services: &Services,
    caller: &Caller,
    query: &ListQuery,
) -> AdminResult<Page<User>> {
    caller.require_read(AdminArea::Users)?;
    Ok(services.store.list_users(query).await?)
}

/// A page of users with the names of their direct groups (one query for the whole page, not
/// one per user), for list pages that show memberships.
pub async fn list_with_groups(
    services: &Services,
    caller: &Caller,
    query: &ListQuery,
) -> AdminResult<Page<(User, Vec<String>)>> {
    let page = list(services, caller, query).await?;
    let ids: Vec<UserId> = page.items.iter().map(|u| u.id).collect();
    let mut names = services.store.direct_group_names(&ids).await?;
    let items = page
        .items
        .into_iter()
        .map(|user| {
            let groups = names.remove(&user.id).unwrap_or_default();
            (user, groups)
        })
        .collect();
    Ok(Page {
        items,
        total: page.total,
    })
}

/// One user.
pub async fn get(services: &Services, caller: &Caller, id: UserId) -> AdminResult<User> {
    caller.require_read(AdminArea::Users)?;
    find(services, id).await
}

/// A user's direct groups.
pub async fn groups(services: &Services, caller: &Caller, id: UserId) -> AdminResult<Vec<Group>> {
    caller.require_read(AdminArea::Users)?;
    let user = find(services, id).await?;
    Ok(services.store.direct_groups(user.id).await?)
}

/// Creates a user; joining a group that grants administrative rights needs a superuser.
pub async fn create(services: &Services, caller: &Caller, draft: UserDraft) -> AdminResult<User> {
    caller.require_write(AdminArea::Users)?;
    let new = NewUser {
        username: draft.username,
        name: draft.name,
        email: draft.email,
        email_verified: draft.email_verified,
        active: draft.active,
        user_type: draft.user_type,
        password_hash: None,
        attributes: draft.attributes,
        groups: draft.groups,
    }
    .validate()?;
    require_joinable(services, caller, &new.groups, "add users to").await?;
    if services
        .store
        .user_by_username(&new.username)
        .await?
        .is_some()
    {
        return Err(AdminError::field("username", "already taken"));
    }
    let mut new = new;
    if let Some(password) = draft.password {
        new.password_hash =
            Some(hash_checked(services, &new.username, new.email.as_deref(), password).await?);
    }
    Ok(services.store.create_user(new, &caller.audit).await?)
}

/// Changes a user's fields (deactivating is `active: false`).
pub async fn update(
    services: &Services,
    caller: &Caller,
    id: UserId,
    patch: UserPatch,
) -> AdminResult<User> {
    let user = writable(services, caller, id).await?;
    let patch = patch.validate()?;
    if patch.is_empty() {
        return Ok(user);
    }
    let deactivated = patch.active == Some(false);
    let updated = services
        .store
        .update_user(user.id, patch, &caller.audit)
        .await?;
    if deactivated {
        services.user_sessions_ended(user.id).await;
    }
    Ok(updated)
}

/// Deletes a user with its memberships, tokens and sessions. Nobody deletes themselves here.
pub async fn delete(services: &Services, caller: &Caller, id: UserId) -> AdminResult<()> {
    let user = writable(services, caller, id).await?;
    if user.id == caller.user.id {
        return Err(AdminError::Conflict(
            "you cannot delete your own account".into(),
        ));
    }
    services.store.delete_user(user.id, &caller.audit).await?;
    services.user_sessions_ended(user.id).await;
    Ok(())
}

/// Sets a user's password (records `password_set`); ends none of its sessions.
pub async fn set_password(
    services: &Services,
    caller: &Caller,
    id: UserId,
    password: String,
) -> AdminResult<()> {
    let user = writable(services, caller, id).await?;
    let hash = hash_checked(services, &user.username, user.email.as_deref(), password).await?;
    Ok(services
        .store
        .set_password_hash(user.id, Some(hash), &caller.audit)
        .await?)
}

/// Emails the user a single-use recovery link (through the outbox; needs `email.host`).
pub async fn send_recovery(services: &Services, caller: &Caller, id: UserId) -> AdminResult<()> {
    let user = writable(services, caller, id).await?;
    crate::mail::enqueue_sent_recovery(services, &user, &caller.audit)
        .await
        .map_err(|error| match error {
            crate::mail::QueueError::NotConfigured => AdminError::Conflict(
                "email is not configured (email.host); no recovery link can be sent".into(),
            ),
            crate::mail::QueueError::NoAddress => {
                AdminError::Conflict("the user has no email address".into())
            }
            crate::mail::QueueError::Store(store) => store.into(),
            other => {
                tracing::error!(error = %other, "could not queue a recovery message");
                AdminError::Internal
            }
        })?;
    Ok(())
}

/// A user's live sessions.
pub async fn sessions(
    services: &Services,
    caller: &Caller,
    id: UserId,
) -> AdminResult<Vec<Session>> {
    caller.require_read(AdminArea::Users)?;
    let user = find(services, id).await?;
    Ok(services.store.sessions_of(user.id).await?)
}

/// Ends one of a user's sessions; records `model_deleted` (model `session`).
pub async fn revoke_session(
    services: &Services,
    caller: &Caller,
    id: UserId,
    session: SessionId,
) -> AdminResult<()> {
    let user = writable(services, caller, id).await?;
    end_session_of(services, &user, session, &caller.audit).await
}

/// Ends `session` of `user` with its audit event (the admin service after its rights check,
/// and the CLI, whose operator holds every right); `NotFound` when it is not theirs.
pub async fn end_session_of(
    services: &Services,
    user: &User,
    session: SessionId,
    audit: &AuditContext,
) -> AdminResult<()> {
    if !services
        .store
        .sessions_of(user.id)
        .await?
        .iter()
        .any(|s| s.id == session)
    {
        return Err(AdminError::not_found("session"));
    }
    let event = NewEvent::about_model(EventAction::ModelDeleted, "session", session, "session")
        .with("user_id", user.id.to_string());
    let changes = vec![Change::EndSession(session), Change::RecordEvent(event)];
    Ok(services.apply_changes(&changes, audit).await?)
}

/// Ends every session of `user` with one audit event; returns how many there were.
pub async fn end_all_sessions_of(
    services: &Services,
    user: &User,
    audit: &AuditContext,
) -> AdminResult<usize> {
    let count = services.store.sessions_of(user.id).await?.len();
    let event = NewEvent::about_model(
        EventAction::ModelDeleted,
        "session",
        user.id,
        "every session",
    )
    .with("user_id", user.id.to_string());
    let changes = vec![
        Change::EndOtherSessions {
            user: user.id,
            keep: None,
        },
        Change::RecordEvent(event),
    ];
    services.apply_changes(&changes, audit).await?;
    Ok(count)
}

/// A user's MFA devices (never their secrets).
pub async fn devices(services: &Services, caller: &Caller, id: UserId) -> AdminResult<Vec<Device>> {
    caller.require_read(AdminArea::Users)?;
    let user = find(services, id).await?;
    Ok(services.store.devices_of(user.id).await?)
}

/// Removes one of a user's MFA devices; records `model_deleted` (model `device`).
pub async fn remove_device(
    services: &Services,
    caller: &Caller,
    id: UserId,
    device: DeviceId,
) -> AdminResult<()> {
    let user = writable(services, caller, id).await?;
    remove_device_of(services, &user, device, &caller.audit)
        .await
        .map(drop)
}

/// Removes `device` of `user` (the admin service after its rights check, and the CLI) and
/// returns it; `NotFound` when it is not theirs.
pub async fn remove_device_of(
    services: &Services,
    user: &User,
    device: DeviceId,
    audit: &AuditContext,
) -> AdminResult<Device> {
    match services.store.device(device).await? {
        Some(found) if found.user_id == user.id => {
            services.store.delete_device(device, audit).await?;
            Ok(found)
        }
        _ => Err(AdminError::not_found("device")),
    }
}

pub(super) async fn find(services: &Services, id: UserId) -> AdminResult<User> {
    services
        .store
        .user_by_id(id)
        .await?
        .ok_or_else(|| AdminError::not_found("user"))
}

/// The user, if the caller may change it: write access to users, and a superuser for a
/// user who holds administrative rights.
pub(super) async fn writable(
    services: &Services,
    caller: &Caller,
    id: UserId,
) -> AdminResult<User> {
    caller.require_write(AdminArea::Users)?;
    let user = find(services, id).await?;
    if user_is_privileged(services, user.id).await? {
        caller.require_privileged("change users who hold administrative rights")?;
    }
    Ok(user)
}

async fn hash_checked(
    services: &Services,
    username: &str,
    email: Option<&str>,
    password: String,
) -> AdminResult<String> {
    let mut identifiers = vec![username];
    identifiers.extend(email);
    gatehouse_core::password_policy::check(&password, &identifiers)
        .map_err(|e| AdminError::field("password", e.message))?;
    services.hasher.hash(password).await.map_err(|error| {
        tracing::error!(%error, "password hashing failed");
        AdminError::Internal
    })
}
