//! Invitations by keyed digest: creation (groups must exist), lookups, listing, deletion,
//! and enrollment, which spends the invitation and creates the user on one connection so the
//! caller's transaction makes them one change. Digests never appear in events or errors.

use crate::entity::invitation;
use crate::error::{db_err, insert_err};
use crate::ops::rows::{corrupt, json_object};
use crate::ops::{events, groups, users};
use crate::timestamp;
use chrono::{DateTime, Utc};
use gatehouse_core::store::StoreResult;
use gatehouse_core::{
    AuditContext, Enrollment, EventAction, Invitation, InvitationStatus, NewEvent, NewInvitation,
    StoreError, TokenId, User, UserId, ValidationError,
};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, ExprTrait, IntoActiveModel, QueryFilter,
    QueryOrder,
};
use serde_json::Value;

/// The name an invitation has in events and listings.
fn display_name(invitation: &Invitation) -> String {
    match invitation.fixed_email() {
        Some(email) => format!("invitation for {email}"),
        None => format!("invitation {}", invitation.id),
    }
}

/// Stores an invitation; its groups must exist. Records `model_created`.
pub(crate) async fn create<C: ConnectionTrait>(
    conn: &C,
    new: NewInvitation,
    audit: &AuditContext,
) -> StoreResult<Invitation> {
    let new = new.validate()?;
    groups::require_by_names(conn, &new.groups).await?;
    let row = invitation::Model {
        id: TokenId::new().0,
        digest: new.digest,
        flow_slug: new.flow_slug,
        single_use: new.single_use,
        fixed_data: Value::Object(new.fixed_data),
        groups: Value::from(new.groups),
        expires_at: new.expires_at.map(timestamp::stored),
        created_by: new.created_by.map(|id| id.0),
        created_by_name: audit.actor.clone(),
        created_at: timestamp::now(),
        use_count: 0,
        last_used_at: None,
    };
    invitation::Entity::insert(row.clone().into_active_model())
        .exec_without_returning(conn)
        .await
        .map_err(|err| {
            insert_err(
                err,
                || "an invitation with this token already exists".into(),
                || StoreError::Internal,
            )
        })?;
    let created = from_row(row)?;
    events::record(
        conn,
        NewEvent::about_model(
            EventAction::ModelCreated,
            "invitation",
            created.id,
            &display_name(&created),
        )
        .with("flow", created.flow_slug.as_str())
        .with("single_use", created.single_use)
        .with("groups", created.groups.clone()),
        audit,
    )
    .await?;
    Ok(created)
}

/// Finds an invitation by digest, whatever its status.
pub(crate) async fn by_digest<C: ConnectionTrait>(
    conn: &C,
    digest: &str,
) -> StoreResult<Option<Invitation>> {
    invitation::Entity::find()
        .filter(invitation::Column::Digest.eq(digest))
        .one(conn)
        .await
        .map_err(db_err)?
        .map(from_row)
        .transpose()
}

/// Looks an invitation up by id.
pub(crate) async fn by_id<C: ConnectionTrait>(
    conn: &C,
    id: TokenId,
) -> StoreResult<Option<Invitation>> {
    invitation::Entity::find_by_id(id.0)
        .one(conn)
        .await
        .map_err(db_err)?
        .map(from_row)
        .transpose()
}

/// Every invitation, oldest first.
pub(crate) async fn list<C: ConnectionTrait>(conn: &C) -> StoreResult<Vec<Invitation>> {
    invitation::Entity::find()
        .order_by_asc(invitation::Column::CreatedAt)
        .order_by_asc(invitation::Column::Id)
        .all(conn)
        .await
        .map_err(db_err)?
        .into_iter()
        .map(from_row)
        .collect()
}

/// Deletes an invitation; a missing one is `NotFound`. Records `model_deleted`.
pub(crate) async fn delete<C: ConnectionTrait>(
    conn: &C,
    id: TokenId,
    audit: &AuditContext,
) -> StoreResult<()> {
    let found = by_id(conn, id)
        .await?
        .ok_or_else(|| StoreError::not_found("invitation", id))?;
    invitation::Entity::delete_by_id(id.0)
        .exec(conn)
        .await
        .map_err(db_err)?;
    events::record(
        conn,
        NewEvent::about_model(
            EventAction::ModelDeleted,
            "invitation",
            id,
            &display_name(&found),
        ),
        audit,
    )
    .await
}

fn refused(message: &str) -> StoreError {
    ValidationError::new("invitation", message).into()
}

/// Spends the invitation and creates the user with its fixed data and groups. The spend is
/// one conditional `UPDATE` (unexpired, and unused when single-use): PostgreSQL re-checks the
/// condition after waiting for a concurrent spender's row lock and SQLite runs writers one at
/// a time, so a single-use invitation creates at most one account.
pub(crate) async fn enroll<C: ConnectionTrait>(
    conn: &C,
    enrollment: Enrollment,
    audit: &AuditContext,
) -> StoreResult<User> {
    let now = timestamp::stored(enrollment.now);
    let found = by_id(conn, enrollment.invitation)
        .await?
        .ok_or_else(|| refused("This invitation is not valid."))?;
    match found.status_at(now) {
        InvitationStatus::Usable => {}
        InvitationStatus::Expired => return Err(refused("This invitation has expired.")),
        InvitationStatus::Used => return Err(refused("This invitation has already been used.")),
    }
    let mut condition = Condition::all()
        .add(invitation::Column::Id.eq(found.id.0))
        .add(
            Condition::any()
                .add(invitation::Column::ExpiresAt.is_null())
                .add(invitation::Column::ExpiresAt.gt(now)),
        );
    if found.single_use {
        condition = condition.add(invitation::Column::UseCount.eq(0));
    }
    let spent = invitation::Entity::update_many()
        .col_expr(
            invitation::Column::UseCount,
            Expr::col(invitation::Column::UseCount).add(1),
        )
        .col_expr(invitation::Column::LastUsedAt, Expr::value(now))
        .filter(condition)
        .exec(conn)
        .await
        .map_err(db_err)?;
    if spent.rows_affected == 0 {
        return Err(refused("This invitation has already been used."));
    }

    let mut user = enrollment.user;
    if let Some(email) = found.fixed_email() {
        user.email = Some(email.to_owned());
    }
    if let Some(name) = found.fixed_data.get("name").and_then(Value::as_str) {
        name.clone_into(&mut user.name);
    }
    for group in &found.groups {
        if !user.groups.contains(group) {
            user.groups.push(group.clone());
        }
    }
    let created = users::create(conn, user, audit).await?;
    events::record(
        conn,
        NewEvent::about_model(
            EventAction::TokenUsed,
            "invitation",
            found.id,
            &display_name(&found),
        )
        .with("user", created.username.as_str())
        .with("user_id", created.id.to_string()),
        audit,
    )
    .await?;
    Ok(created)
}

fn from_row(row: invitation::Model) -> StoreResult<Invitation> {
    let groups = match row.groups {
        Value::Array(items) => items
            .into_iter()
            .map(|item| match item {
                Value::String(name) => Ok(name),
                other => Err(corrupt("invitations", "groups", &other.to_string())),
            })
            .collect::<StoreResult<Vec<_>>>()?,
        Value::Null => Vec::new(),
        other => return Err(corrupt("invitations", "groups", &other.to_string())),
    };
    Ok(Invitation {
        id: TokenId(row.id),
        flow_slug: row.flow_slug,
        single_use: row.single_use,
        fixed_data: json_object(row.fixed_data, "invitations", "fixed_data")?,
        groups,
        expires_at: row.expires_at,
        created_by: row.created_by.map(UserId),
        created_by_name: row.created_by_name,
        created_at: row.created_at,
        use_count: row.use_count,
        last_used_at: row.last_used_at,
    })
}

/// Deletes invitations expired before `cutoff`, or single-use and used before it.
pub(crate) async fn delete_finished<C: ConnectionTrait>(
    conn: &C,
    cutoff: DateTime<Utc>,
) -> StoreResult<u64> {
    let cutoff = timestamp::stored(cutoff);
    let finished = Condition::any()
        .add(invitation::Column::ExpiresAt.lt(cutoff))
        .add(
            Condition::all()
                .add(invitation::Column::SingleUse.eq(true))
                .add(invitation::Column::UseCount.gt(0))
                .add(invitation::Column::LastUsedAt.lt(cutoff)),
        );
    let result = invitation::Entity::delete_many()
        .filter(finished)
        .exec(conn)
        .await
        .map_err(db_err)?;
    Ok(result.rows_affected)
}
