//! First-run setup: the first administrator, its superuser group and optional API token,
//! created together while the setup token is spent, so setup happens exactly once.

use crate::entity::group;
use crate::error::db_err;
use crate::ops::{events, groups, tokens, users};
use crate::timestamp;
use gatehouse_core::group::DEFAULT_ADMIN_GROUP;
use gatehouse_core::store::StoreResult;
use gatehouse_core::{
    AuditContext, EventAction, FirstAdmin, Group, NewEvent, NewGroup, NewToken, NewUser,
    StoreError, User,
};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

fn already_done() -> StoreError {
    StoreError::Conflict("setup is already complete: an administrator exists".into())
}

/// Runs the whole setup on `conn`, which must be a transaction.
pub(crate) async fn create_first_admin<C: ConnectionTrait>(
    conn: &C,
    admin: FirstAdmin,
    audit: &AuditContext,
) -> StoreResult<User> {
    // Validate before touching anything, so bad input never spends the token.
    let user = admin.user.validate()?;
    if let Some(digest) = &admin.setup_token_digest {
        tokens::spend_setup_token(conn, digest, timestamp::now(), audit).await?;
    }
    let admin_group = lock_admin_group(conn, audit).await?;
    if groups::superuser_exists(conn).await? {
        return Err(already_done());
    }
    let created = users::create(
        conn,
        NewUser {
            groups: vec![admin_group.name],
            ..user
        },
        audit,
    )
    .await?;
    if let Some(token) = admin.api_token {
        tokens::create(
            conn,
            NewToken {
                user_id: Some(created.id),
                ..token
            },
            audit,
        )
        .await?;
    }
    Ok(created)
}

/// Finds or creates the default admin group, making sure it grants superuser rights. Writing
/// its row (or inserting it) takes a row lock, so two concurrent setups on PostgreSQL queue
/// here and the second then sees the first one's administrator.
async fn lock_admin_group<C: ConnectionTrait>(
    conn: &C,
    audit: &AuditContext,
) -> StoreResult<Group> {
    let Some(existing) = groups::by_name(conn, DEFAULT_ADMIN_GROUP).await? else {
        let new = NewGroup {
            is_superuser: true,
            ..NewGroup::named(DEFAULT_ADMIN_GROUP)
        };
        return groups::create(conn, new, audit)
            .await
            .map_err(|err| match err {
                StoreError::Conflict(_) => already_done(),
                other => other,
            });
    };
    group::Entity::update_many()
        .col_expr(group::Column::IsSuperuser, Expr::value(true))
        .filter(group::Column::Id.eq(existing.id.0))
        .exec(conn)
        .await
        .map_err(db_err)?;
    if !existing.is_superuser {
        events::record(
            conn,
            NewEvent::about_model(
                EventAction::ModelUpdated,
                "group",
                existing.id,
                &existing.name,
            )
            .with("fields", vec!["is_superuser"]),
            audit,
        )
        .await?;
    }
    Ok(Group {
        is_superuser: true,
        ..existing
    })
}
