//! Tokens by keyed digest: creation, lookup, listing, deletion and the expiry sweep. Digests
//! never appear in events or errors.

use crate::entity::token;
use crate::error::{db_err, insert_err};
use crate::ops::rows::corrupt;
use crate::ops::{events, users};
use crate::timestamp;
use chrono::{DateTime, Utc};
use gatehouse_core::store::StoreResult;
use gatehouse_core::{
    AuditContext, EventAction, NewEvent, NewToken, SpentLink, StoreError, Token, TokenId,
    TokenIntent, UserId, UserPatch, ValidationError,
};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
};

/// Stores a token.
pub(crate) async fn create<C: ConnectionTrait>(
    conn: &C,
    new: NewToken,
    audit: &AuditContext,
) -> StoreResult<Token> {
    let owner = new.user_id;
    let row = token::Model {
        id: TokenId::new().0,
        intent: new.intent.as_str().to_owned(),
        user_id: new.user_id.map(|id| id.0),
        description: new.description,
        digest: new.digest,
        expires_at: new.expires_at.map(timestamp::stored),
        created_at: timestamp::now(),
        state: new.state,
    };
    token::Entity::insert(row.clone().into_active_model())
        .exec_without_returning(conn)
        .await
        .map_err(|err| {
            insert_err(
                err,
                || "a token with this secret already exists".into(),
                || {
                    StoreError::not_found(
                        "user",
                        owner.map(|id| id.to_string()).unwrap_or_default(),
                    )
                },
            )
        })?;
    let created = from_row(row)?;
    let mut event = NewEvent::about_model(
        EventAction::ModelCreated,
        "token",
        created.id,
        &created.description,
    )
    .with("intent", created.intent.as_str());
    if let Some(user) = created.user_id {
        event = event.with("user_id", user.to_string());
    }
    events::record(conn, event, audit).await?;
    Ok(created)
}

/// Finds a token of `intent` by digest, expired or not.
pub(crate) async fn by_digest<C: ConnectionTrait>(
    conn: &C,
    intent: TokenIntent,
    digest: &str,
) -> StoreResult<Option<Token>> {
    token::Entity::find()
        .filter(token::Column::Intent.eq(intent.as_str()))
        .filter(token::Column::Digest.eq(digest))
        .one(conn)
        .await
        .map_err(db_err)?
        .map(from_row)
        .transpose()
}

/// Lists tokens (of one user, or all), oldest first.
pub(crate) async fn list<C: ConnectionTrait>(
    conn: &C,
    user: Option<UserId>,
) -> StoreResult<Vec<Token>> {
    let mut select = token::Entity::find();
    if let Some(user) = user {
        select = select.filter(token::Column::UserId.eq(user.0));
    }
    select
        .order_by_asc(token::Column::CreatedAt)
        .order_by_asc(token::Column::Id)
        .all(conn)
        .await
        .map_err(db_err)?
        .into_iter()
        .map(from_row)
        .collect()
}

/// Deletes a token; a missing one is `NotFound`.
pub(crate) async fn delete<C: ConnectionTrait>(
    conn: &C,
    id: TokenId,
    audit: &AuditContext,
) -> StoreResult<()> {
    let row = token::Entity::find_by_id(id.0)
        .one(conn)
        .await
        .map_err(db_err)?
        .ok_or_else(|| StoreError::not_found("token", id))?;
    token::Entity::delete_by_id(id.0)
        .exec(conn)
        .await
        .map_err(db_err)?;
    events::record(
        conn,
        NewEvent::about_model(EventAction::ModelDeleted, "token", id, &row.description)
            .with("intent", row.intent.as_str()),
        audit,
    )
    .await
}

/// Deletes every token of an intent; returns how many.
pub(crate) async fn delete_with_intent<C: ConnectionTrait>(
    conn: &C,
    intent: TokenIntent,
) -> StoreResult<u64> {
    let result = token::Entity::delete_many()
        .filter(token::Column::Intent.eq(intent.as_str()))
        .exec(conn)
        .await
        .map_err(db_err)?;
    Ok(result.rows_affected)
}

/// Deletes tokens that expired before `now`; returns how many.
pub(crate) async fn delete_expired<C: ConnectionTrait>(
    conn: &C,
    now: DateTime<Utc>,
) -> StoreResult<u64> {
    let result = token::Entity::delete_many()
        .filter(token::Column::ExpiresAt.lt(timestamp::stored(now)))
        .exec(conn)
        .await
        .map_err(db_err)?;
    Ok(result.rows_affected)
}

/// Spends a setup token: it must exist and be unexpired at `now`; it is deleted and a
/// `token_used` event recorded. Anything else is `Invalid` on `token`.
pub(crate) async fn spend_setup_token<C: ConnectionTrait>(
    conn: &C,
    digest: &str,
    now: DateTime<Utc>,
    audit: &AuditContext,
) -> StoreResult<()> {
    match spend(conn, TokenIntent::Setup, digest, now, audit).await? {
        Some(_) => Ok(()),
        None => {
            Err(ValidationError::new("token", "the setup link is invalid or has expired").into())
        }
    }
}

/// Spends a single-use token of `intent`: if it exists and is unexpired at `now`, deletes it,
/// records `token_used` and returns it.
pub(crate) async fn spend<C: ConnectionTrait>(
    conn: &C,
    intent: TokenIntent,
    digest: &str,
    now: DateTime<Utc>,
    audit: &AuditContext,
) -> StoreResult<Option<Token>> {
    spend_row(conn, intent, digest, now, audit)
        .await?
        .map(from_row)
        .transpose()
}

/// Spends an email-verification link and marks its user's address verified; call inside a
/// transaction so both land or neither does.
pub(crate) async fn verify_email<C: ConnectionTrait>(
    conn: &C,
    digest: &str,
    now: DateTime<Utc>,
    audit: &AuditContext,
) -> StoreResult<Option<SpentLink>> {
    let Some(mut row) = spend_row(conn, TokenIntent::EmailVerification, digest, now, audit).await?
    else {
        return Ok(None);
    };
    let state = row.state.take();
    let token = from_row(row)?;
    if let Some(user) = token.user_id {
        let patch = UserPatch {
            email_verified: Some(true),
            ..UserPatch::default()
        };
        users::update(conn, user, patch, audit).await?;
    }
    Ok(Some(SpentLink { token, state }))
}

async fn spend_row<C: ConnectionTrait>(
    conn: &C,
    intent: TokenIntent,
    digest: &str,
    now: DateTime<Utc>,
    audit: &AuditContext,
) -> StoreResult<Option<token::Model>> {
    let condition = Condition::all()
        .add(token::Column::Intent.eq(intent.as_str()))
        .add(token::Column::Digest.eq(digest))
        .add(
            Condition::any()
                .add(token::Column::ExpiresAt.is_null())
                .add(token::Column::ExpiresAt.gt(timestamp::stored(now))),
        );
    let Some(row) = token::Entity::find()
        .filter(condition.clone())
        .one(conn)
        .await
        .map_err(db_err)?
    else {
        return Ok(None);
    };
    // Deleting by the same condition makes a concurrent spender of the same token lose.
    let result = token::Entity::delete_many()
        .filter(condition)
        .exec(conn)
        .await
        .map_err(db_err)?;
    if result.rows_affected == 0 {
        return Ok(None);
    }
    let mut event =
        NewEvent::about_model(EventAction::TokenUsed, "token", row.id, &row.description)
            .with("intent", row.intent.as_str());
    if let Some(user) = row.user_id {
        event = event.with("user_id", user.to_string());
    }
    events::record(conn, event, audit).await?;
    Ok(Some(row))
}

fn from_row(row: token::Model) -> StoreResult<Token> {
    let intent =
        TokenIntent::parse(&row.intent).ok_or_else(|| corrupt("tokens", "intent", &row.intent))?;
    Ok(Token {
        id: TokenId(row.id),
        intent,
        user_id: row.user_id.map(UserId),
        description: row.description,
        expires_at: row.expires_at,
        created_at: row.created_at,
    })
}
