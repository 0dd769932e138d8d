//! Change sets (`gatehouse apply`): every change executed in order on one transaction, names
//! resolved as they go so later changes see earlier ones. The caller commits only if all
//! succeed.

use crate::ops::{
    application_update, applications, events, flows, groups, memberships, sessions, sources, users,
};
use gatehouse_core::store::StoreResult;
use gatehouse_core::{AuditContext, Change, ChangeSet};
use sea_orm::ConnectionTrait;

/// Applies every change on `conn`, which must be a transaction; stops at the first error.
pub(crate) async fn apply<C: ConnectionTrait>(
    conn: &C,
    changes: &ChangeSet,
    audit: &AuditContext,
) -> StoreResult<()> {
    for (index, change) in changes.iter().enumerate() {
        apply_one(conn, change, audit).await.inspect_err(|err| {
            tracing::info!(index, change = %change, error = %err, "change set rejected; nothing applied");
        })?;
    }
    Ok(())
}

async fn apply_one<C: ConnectionTrait>(
    conn: &C,
    change: &Change,
    audit: &AuditContext,
) -> StoreResult<()> {
    match change {
        Change::CreateGroup(new) => {
            groups::create(conn, new.clone(), audit).await?;
        }
        Change::UpdateGroup { name, patch } => {
            let group = groups::require_by_name(conn, name).await?;
            groups::update(conn, group.id, patch.clone(), audit).await?;
        }
        Change::CreateUser(new) => {
            users::create(conn, new.clone(), audit).await?;
        }
        Change::UpdateUser { username, patch } => {
            let user = users::require_by_username(conn, username).await?;
            users::update(conn, user.id, patch.clone(), audit).await?;
        }
        Change::SetPasswordHash { username, hash } => {
            let user = users::require_by_username(conn, username).await?;
            users::set_password_hash(conn, user.id, Some(hash.clone()), audit).await?;
        }
        Change::SetUserGroups { username, groups } => {
            let user = users::require_by_username(conn, username).await?;
            memberships::set(conn, &user, groups, audit).await?;
        }
        Change::PutFlow { slug, definition } => {
            flows::put(conn, slug, definition, audit).await?;
        }
        Change::CreateApplication(new) => {
            applications::create(conn, new.clone(), audit).await?;
        }
        Change::UpdateApplication { slug, patch } => {
            application_update::update(conn, slug, patch, audit).await?;
        }
        Change::PutSource(new) => match sources::by_slug(conn, &new.slug).await? {
            Some(existing) => {
                sources::update(conn, existing.id, (**new).clone(), audit).await?;
            }
            None => {
                sources::create(conn, (**new).clone(), audit).await?;
            }
        },
        Change::StartSession(session) => sessions::create(conn, session.clone()).await?,
        Change::EndSession(id) => sessions::delete(conn, *id).await?,
        Change::EndOtherSessions { user, keep } => {
            sessions::delete_others(conn, *user, *keep).await?;
        }
        Change::RecordLogin { user, at } => users::record_login(conn, *user, *at).await?,
        Change::RecordEvent(event) => events::record(conn, event.clone(), audit).await?,
    }
    Ok(())
}
