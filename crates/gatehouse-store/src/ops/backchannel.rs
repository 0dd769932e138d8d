//! Back-Channel Logout 1.0 queue: when sessions end, the grants issued in them are looked up
//! by `oauth2_tokens.session_id`, [`gatehouse_core::plan_logout`] decides which clients are
//! told and which families are revoked, and one delivery row per client and session is
//! inserted, all on the caller's transaction. The worker's side (lease-based claims, delivered
//! / retry / give-up) mirrors the email outbox, with the same statements on both backends.

use crate::entity::{backchannel_logout, oauth2_provider, oauth2_token};
use crate::error::db_err;
use crate::ops::events;
use crate::ops::leased::{self, LeasedQueue};
use crate::ops::rows::corrupt;
use crate::timestamp;
use chrono::{DateTime, Duration, Utc};
use gatehouse_core::store::StoreResult;
use gatehouse_core::{
    ApplicationId, AuditContext, DeliveryStatus, EventAction, GrantFamilyId, LogoutDelivery,
    LogoutDeliveryId, NewEvent, RetryDecision, RetryPolicy, SessionGrant, SessionId, UserId,
    plan_logout,
};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    QuerySelect,
};
use std::collections::HashSet;
use uuid::Uuid;

/// Queues the back-channel logouts of `sessions`, which are ending on `conn` (the caller's
/// transaction), and revokes the grant families of the notified clients in them. Returns
/// how many deliveries were queued.
pub(crate) async fn queue_for_sessions<C: ConnectionTrait>(
    conn: &C,
    sessions: &[SessionId],
) -> StoreResult<u64> {
    if sessions.is_empty() {
        return Ok(0);
    }
    let ids: Vec<Uuid> = sessions.iter().map(|s| s.0).collect();
    let artefacts: Vec<(Uuid, Uuid, Option<Uuid>, Uuid)> = oauth2_token::Entity::find()
        .select_only()
        .column(oauth2_token::Column::SessionId)
        .column(oauth2_token::Column::ApplicationId)
        .column(oauth2_token::Column::UserId)
        .column(oauth2_token::Column::Family)
        .filter(oauth2_token::Column::SessionId.is_in(ids))
        .into_tuple()
        .all(conn)
        .await
        .map_err(db_err)?;
    if artefacts.is_empty() {
        return Ok(0);
    }
    let apps: HashSet<Uuid> = artefacts.iter().map(|a| a.1).collect();
    let with_uri: HashSet<Uuid> = oauth2_provider::Entity::find()
        .select_only()
        .column(oauth2_provider::Column::ApplicationId)
        .filter(oauth2_provider::Column::ApplicationId.is_in(apps))
        .filter(oauth2_provider::Column::BackchannelLogoutUri.is_not_null())
        .into_tuple::<Uuid>()
        .all(conn)
        .await
        .map_err(db_err)?
        .into_iter()
        .collect();
    let now = timestamp::now();
    let mut queued = 0;
    let mut revoke = Vec::new();
    for session in sessions {
        let grants: Vec<SessionGrant> = artefacts
            .iter()
            .filter(|a| a.0 == session.0)
            .map(|&(_, app, user, family)| SessionGrant {
                application_id: ApplicationId(app),
                has_backchannel_uri: with_uri.contains(&app),
                user_id: user.map(UserId),
                family: GrantFamilyId(family),
            })
            .collect();
        let plan = plan_logout(&grants);
        revoke.extend(plan.revoke.iter().map(|f| f.0));
        let rows: Vec<_> = plan
            .notify
            .iter()
            .map(|(app, user)| {
                backchannel_logout::Model {
                    id: LogoutDeliveryId::new().0,
                    application_id: app.0,
                    user_id: user.map(|u| u.0),
                    session_id: session.0,
                    status: DeliveryStatus::Pending.as_str().to_owned(),
                    attempts: 0,
                    next_attempt_at: now,
                    lease_owner: None,
                    lease_until: None,
                    last_error: None,
                    created_at: now,
                    finished_at: None,
                }
                .into_active_model()
            })
            .collect();
        if rows.is_empty() {
            continue;
        }
        queued += rows.len() as u64;
        backchannel_logout::Entity::insert_many(rows)
            .exec_without_returning(conn)
            .await
            .map_err(db_err)?;
    }
    if !revoke.is_empty() {
        oauth2_token::Entity::update_many()
            .col_expr(oauth2_token::Column::RevokedAt, Expr::value(Some(now)))
            .filter(oauth2_token::Column::Family.is_in(revoke))
            .filter(oauth2_token::Column::RevokedAt.is_null())
            .exec(conn)
            .await
            .map_err(db_err)?;
    }
    Ok(queued)
}

impl LeasedQueue for backchannel_logout::Entity {
    fn id() -> backchannel_logout::Column {
        backchannel_logout::Column::Id
    }
    fn status() -> backchannel_logout::Column {
        backchannel_logout::Column::Status
    }
    fn attempts() -> backchannel_logout::Column {
        backchannel_logout::Column::Attempts
    }
    fn next_attempt_at() -> backchannel_logout::Column {
        backchannel_logout::Column::NextAttemptAt
    }
    fn lease_owner() -> backchannel_logout::Column {
        backchannel_logout::Column::LeaseOwner
    }
    fn lease_until() -> backchannel_logout::Column {
        backchannel_logout::Column::LeaseUntil
    }
    fn last_error() -> backchannel_logout::Column {
        backchannel_logout::Column::LastError
    }
}

/// Held by `worker` and still pending.
fn held_by(id: LogoutDeliveryId, worker: Uuid) -> Condition {
    leased::held::<backchannel_logout::Entity>(id.0, worker)
}

/// Claims up to `limit` due deliveries for `worker`; each claim is a compare-and-set.
pub(crate) async fn claim_due<C: ConnectionTrait>(
    conn: &C,
    worker: Uuid,
    now: DateTime<Utc>,
    lease: Duration,
    limit: u64,
) -> StoreResult<Vec<LogoutDelivery>> {
    let mut claimed = Vec::new();
    for id in
        leased::claim::<backchannel_logout::Entity, _>(conn, worker, now, lease, limit).await?
    {
        if let Some(row) = backchannel_logout::Entity::find()
            .filter(held_by(LogoutDeliveryId(id), worker))
            .one(conn)
            .await
            .map_err(db_err)?
        {
            claimed.push(from_row(row)?);
        }
    }
    Ok(claimed)
}

/// Marks a held delivery delivered.
pub(crate) async fn mark_delivered<C: ConnectionTrait>(
    conn: &C,
    id: LogoutDeliveryId,
    worker: Uuid,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let result = backchannel_logout::Entity::update_many()
        .col_expr(
            backchannel_logout::Column::Status,
            Expr::value(DeliveryStatus::Delivered.as_str()),
        )
        .col_expr(
            backchannel_logout::Column::FinishedAt,
            Expr::value(Some(timestamp::stored(now))),
        )
        .col_expr(
            backchannel_logout::Column::LeaseUntil,
            Expr::value(None::<DateTime<Utc>>),
        )
        .col_expr(
            backchannel_logout::Column::LastError,
            Expr::value(None::<String>),
        )
        .filter(held_by(id, worker))
        .exec(conn)
        .await
        .map_err(db_err)?;
    Ok(result.rows_affected == 1)
}

/// Records a failed attempt on a held delivery: reschedule, or give up with an event.
pub(crate) async fn mark_failed<C: ConnectionTrait>(
    conn: &C,
    id: LogoutDeliveryId,
    worker: Uuid,
    now: DateTime<Utc>,
    error: &str,
    policy: &RetryPolicy,
    audit: &AuditContext,
) -> StoreResult<Option<RetryDecision>> {
    let failure = leased::record_failure::<backchannel_logout::Entity, _>(
        conn,
        id.0,
        worker,
        now,
        error,
        policy,
        DeliveryStatus::Failed.as_str(),
        |update| {
            update.col_expr(
                backchannel_logout::Column::FinishedAt,
                Expr::value(Some(timestamp::stored(now))),
            )
        },
    )
    .await?;
    let Some(failure) = failure else {
        return Ok(None);
    };
    if failure.decision == RetryDecision::GiveUp
        && let Some(row) = backchannel_logout::Entity::find_by_id(id.0)
            .one(conn)
            .await
            .map_err(db_err)?
    {
        let event = NewEvent::about_model(
            EventAction::ConfigurationError,
            "application",
            ApplicationId(row.application_id),
            "backchannel_logout",
        )
        .with("message", "back-channel logout delivery gave up")
        .with("delivery_id", id.to_string())
        .with("session_id", row.session_id.to_string())
        .with("attempts", failure.attempts)
        .with("error", failure.error);
        events::record(conn, event, audit).await?;
    }
    Ok(Some(failure.decision))
}

/// The deliveries queued for `session`, oldest first.
pub(crate) async fn of_session<C: ConnectionTrait>(
    conn: &C,
    session: SessionId,
) -> StoreResult<Vec<LogoutDelivery>> {
    backchannel_logout::Entity::find()
        .filter(backchannel_logout::Column::SessionId.eq(session.0))
        .order_by_asc(backchannel_logout::Column::CreatedAt)
        .order_by_asc(backchannel_logout::Column::Id)
        .all(conn)
        .await
        .map_err(db_err)?
        .into_iter()
        .map(from_row)
        .collect()
}

/// Deletes deliveries delivered or given up before `cutoff`.
pub(crate) async fn delete_finished<C: ConnectionTrait>(
    conn: &C,
    cutoff: DateTime<Utc>,
) -> StoreResult<u64> {
    let result = backchannel_logout::Entity::delete_many()
        .filter(backchannel_logout::Column::Status.ne(DeliveryStatus::Pending.as_str()))
        .filter(backchannel_logout::Column::FinishedAt.lt(timestamp::stored(cutoff)))
        .exec(conn)
        .await
        .map_err(db_err)?;
    Ok(result.rows_affected)
}

fn from_row(row: backchannel_logout::Model) -> StoreResult<LogoutDelivery> {
    let status = DeliveryStatus::parse(&row.status)
        .ok_or_else(|| corrupt("backchannel_logouts", "status", &row.status))?;
    Ok(LogoutDelivery {
        id: LogoutDeliveryId(row.id),
        application_id: ApplicationId(row.application_id),
        user_id: row.user_id.map(UserId),
        session_id: SessionId(row.session_id),
        status,
        attempts: u32::try_from(row.attempts).unwrap_or(0),
        next_attempt_at: row.next_attempt_at,
        last_error: row.last_error,
        created_at: row.created_at,
        finished_at: row.finished_at,
    })
}
