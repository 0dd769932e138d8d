//! OAuth2 grant artefacts by keyed digest: issuing (with the audit event in the same
//! transaction), single-use exchange by compare-and-set, family revocation and the expiry
//! sweep. Digests never appear in events or errors.

use crate::entity::oauth2_token;
use crate::error::{conflict_or_db_err, db_err};
use crate::ops::applications::string_list;
use crate::ops::events;
use crate::ops::rows::{corrupt, json_object};
use crate::timestamp;
use chrono::{DateTime, Utc};
use gatehouse_core::store::StoreResult;
use gatehouse_core::{
    ApplicationId, AuditContext, GrantFamilyId, IssuedGrant, NewEvent, NewOAuth2Token, OAuth2Token,
    OAuth2TokenId, OAuth2TokenKind, SessionId, UserId,
};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter};
use serde_json::Value;

/// Stores artefacts (no event: callers record one for the whole grant).
pub(crate) async fn insert<C: ConnectionTrait>(
    conn: &C,
    tokens: Vec<NewOAuth2Token>,
) -> StoreResult<()> {
    if tokens.is_empty() {
        return Ok(());
    }
    let now = timestamp::now();
    let rows = tokens.into_iter().map(|new| {
        oauth2_token::Model {
            id: OAuth2TokenId::new().0,
            kind: new.kind.as_str().to_owned(),
            application_id: new.application_id.0,
            user_id: new.user_id.map(|id| id.0),
            family: new.family.0,
            session_id: new.session_id.map(|id| id.0),
            digest: new.digest,
            scopes: Value::from(new.scopes),
            data: Value::Object(new.data),
            expires_at: timestamp::stored(new.expires_at),
            used_at: None,
            revoked_at: None,
            created_at: now,
        }
        .into_active_model()
    });
    oauth2_token::Entity::insert_many(rows)
        .exec_without_returning(conn)
        .await
        .map_err(|err| {
            conflict_or_db_err(err, || "a token with this secret already exists".into())
        })?;
    Ok(())
}

/// Stores artefacts and their event.
pub(crate) async fn issue<C: ConnectionTrait>(
    conn: &C,
    tokens: Vec<NewOAuth2Token>,
    event: NewEvent,
    audit: &AuditContext,
) -> StoreResult<()> {
    insert(conn, tokens).await?;
    events::record(conn, event, audit).await
}

/// Stores several grants' artefacts and events: one multi-row `INSERT` for the artefacts and
/// one for the events, whatever the number of grants.
pub(crate) async fn issue_batch<C: ConnectionTrait>(
    conn: &C,
    grants: Vec<IssuedGrant>,
) -> StoreResult<()> {
    let mut tokens = Vec::new();
    let mut recorded = Vec::with_capacity(grants.len());
    for grant in grants {
        tokens.extend(grant.tokens);
        recorded.push((grant.event, grant.audit));
    }
    insert(conn, tokens).await?;
    events::record_many(conn, recorded).await
}

/// Spends `spent` if it is unspent and unrevoked (one conditional `UPDATE`), then stores
/// `tokens` and `event`. Returns whether it was spent by this call.
pub(crate) async fn exchange<C: ConnectionTrait>(
    conn: &C,
    spent: OAuth2TokenId,
    at: DateTime<Utc>,
    tokens: Vec<NewOAuth2Token>,
    event: NewEvent,
    audit: &AuditContext,
) -> StoreResult<bool> {
    let result = oauth2_token::Entity::update_many()
        .col_expr(
            oauth2_token::Column::UsedAt,
            Expr::value(Some(timestamp::stored(at))),
        )
        .filter(oauth2_token::Column::Id.eq(spent.0))
        .filter(oauth2_token::Column::UsedAt.is_null())
        .filter(oauth2_token::Column::RevokedAt.is_null())
        .exec(conn)
        .await
        .map_err(db_err)?;
    if result.rows_affected != 1 {
        return Ok(false);
    }
    issue(conn, tokens, event, audit).await?;
    Ok(true)
}

/// Finds an artefact by digest.
pub(crate) async fn by_digest<C: ConnectionTrait>(
    conn: &C,
    digest: &str,
) -> StoreResult<Option<OAuth2Token>> {
    oauth2_token::Entity::find()
        .filter(oauth2_token::Column::Digest.eq(digest))
        .one(conn)
        .await
        .map_err(db_err)?
        .map(from_row)
        .transpose()
}

/// Revokes one artefact; returns whether it was unrevoked.
pub(crate) async fn revoke<C: ConnectionTrait>(
    conn: &C,
    id: OAuth2TokenId,
    at: DateTime<Utc>,
) -> StoreResult<bool> {
    let result = oauth2_token::Entity::update_many()
        .col_expr(
            oauth2_token::Column::RevokedAt,
            Expr::value(Some(timestamp::stored(at))),
        )
        .filter(oauth2_token::Column::Id.eq(id.0))
        .filter(oauth2_token::Column::RevokedAt.is_null())
        .exec(conn)
        .await
        .map_err(db_err)?;
    Ok(result.rows_affected == 1)
}

/// Revokes a whole family and records `event`; returns how many were unrevoked.
pub(crate) async fn revoke_family<C: ConnectionTrait>(
    conn: &C,
    family: GrantFamilyId,
    at: DateTime<Utc>,
    event: NewEvent,
    audit: &AuditContext,
) -> StoreResult<u64> {
    let result = oauth2_token::Entity::update_many()
        .col_expr(
            oauth2_token::Column::RevokedAt,
            Expr::value(Some(timestamp::stored(at))),
        )
        .filter(oauth2_token::Column::Family.eq(family.0))
        .filter(oauth2_token::Column::RevokedAt.is_null())
        .exec(conn)
        .await
        .map_err(db_err)?;
    events::record(conn, event.with("revoked", result.rows_affected), audit).await?;
    Ok(result.rows_affected)
}

/// Deletes artefacts that expired before `now`.
pub(crate) async fn delete_expired<C: ConnectionTrait>(
    conn: &C,
    now: DateTime<Utc>,
) -> StoreResult<u64> {
    let result = oauth2_token::Entity::delete_many()
        .filter(oauth2_token::Column::ExpiresAt.lt(timestamp::stored(now)))
        .exec(conn)
        .await
        .map_err(db_err)?;
    Ok(result.rows_affected)
}

fn from_row(row: oauth2_token::Model) -> StoreResult<OAuth2Token> {
    const TABLE: &str = "oauth2_tokens";
    Ok(OAuth2Token {
        id: OAuth2TokenId(row.id),
        kind: OAuth2TokenKind::parse(&row.kind).ok_or_else(|| corrupt(TABLE, "kind", &row.kind))?,
        application_id: ApplicationId(row.application_id),
        user_id: row.user_id.map(UserId),
        family: GrantFamilyId(row.family),
        session_id: row.session_id.map(SessionId),
        scopes: string_list(&row.scopes, TABLE, "scopes")?,
        data: json_object(row.data, TABLE, "data")?,
        expires_at: row.expires_at,
        used_at: row.used_at,
        revoked_at: row.revoked_at,
        created_at: row.created_at,
    })
}
