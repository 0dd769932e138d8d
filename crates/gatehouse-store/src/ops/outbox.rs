//! The email outbox: enqueue (with the token and event that go with a message), lease-based
//! claiming, and the sent / retry / give-up transitions. Claims are compare-and-set updates,
//! the same statement on SQLite and PostgreSQL, so several workers can share one queue.

use crate::entity::email_outbox;
use crate::error::db_err;
use crate::ops::leased::{self, LeasedQueue};
use crate::ops::rows::corrupt;
use crate::ops::{events, tokens};
use crate::timestamp;
use chrono::{DateTime, Duration, Utc};
use gatehouse_core::store::StoreResult;
use gatehouse_core::{
    AuditContext, EmailId, EmailRequest, EmailStatus, EventAction, NewEvent, QueuedEmail,
    RetryDecision, RetryPolicy,
};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter};
use uuid::Uuid;

/// Queues a message, creating its token and recording its event in the same connection
/// (the caller's transaction).
pub(crate) async fn enqueue<C: ConnectionTrait>(
    conn: &C,
    request: EmailRequest,
    audit: &AuditContext,
) -> StoreResult<EmailId> {
    if let Some(token) = request.token {
        tokens::create(conn, token, audit).await?;
    }
    let now = timestamp::now();
    let id = EmailId::new();
    let email = request.email;
    let row = email_outbox::Model {
        id: id.0,
        recipient: email.recipient,
        subject: email.subject,
        kind: email.kind,
        sealed_body: email.sealed_body,
        status: EmailStatus::Pending.as_str().to_owned(),
        attempts: 0,
        next_attempt_at: now,
        lease_owner: None,
        lease_until: None,
        last_error: None,
        created_at: now,
        sent_at: None,
    };
    email_outbox::Entity::insert(row.into_active_model())
        .exec_without_returning(conn)
        .await
        .map_err(db_err)?;
    if let Some(event) = request.event {
        events::record(conn, event.with("email_id", id.to_string()), audit).await?;
    }
    Ok(id)
}

impl LeasedQueue for email_outbox::Entity {
    fn id() -> email_outbox::Column {
        email_outbox::Column::Id
    }
    fn status() -> email_outbox::Column {
        email_outbox::Column::Status
    }
    fn attempts() -> email_outbox::Column {
        email_outbox::Column::Attempts
    }
    fn next_attempt_at() -> email_outbox::Column {
        email_outbox::Column::NextAttemptAt
    }
    fn lease_owner() -> email_outbox::Column {
        email_outbox::Column::LeaseOwner
    }
    fn lease_until() -> email_outbox::Column {
        email_outbox::Column::LeaseUntil
    }
    fn last_error() -> email_outbox::Column {
        email_outbox::Column::LastError
    }
}

/// Claims up to `limit` due messages for `worker`.
pub(crate) async fn claim_due<C: ConnectionTrait>(
    conn: &C,
    worker: Uuid,
    now: DateTime<Utc>,
    lease: Duration,
    limit: u64,
) -> StoreResult<Vec<QueuedEmail>> {
    let mut claimed = Vec::new();
    for id in leased::claim::<email_outbox::Entity, _>(conn, worker, now, lease, limit).await? {
        if let Some(row) = held(conn, EmailId(id), worker).await? {
            claimed.push(from_row(row)?);
        }
    }
    Ok(claimed)
}

/// The row if `worker` holds it and it is still pending.
async fn held<C: ConnectionTrait>(
    conn: &C,
    id: EmailId,
    worker: Uuid,
) -> StoreResult<Option<email_outbox::Model>> {
    email_outbox::Entity::find()
        .filter(leased::held::<email_outbox::Entity>(id.0, worker))
        .one(conn)
        .await
        .map_err(db_err)
}

/// Marks a held message sent, dropping its bodies.
pub(crate) async fn mark_sent<C: ConnectionTrait>(
    conn: &C,
    id: EmailId,
    worker: Uuid,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let result = email_outbox::Entity::update_many()
        .col_expr(
            email_outbox::Column::Status,
            Expr::value(EmailStatus::Sent.as_str()),
        )
        .col_expr(
            email_outbox::Column::SentAt,
            Expr::value(timestamp::stored(now)),
        )
        .col_expr(email_outbox::Column::SealedBody, Expr::value(""))
        .col_expr(
            email_outbox::Column::LeaseUntil,
            Expr::value(None::<DateTime<Utc>>),
        )
        .col_expr(email_outbox::Column::LastError, Expr::value(None::<String>))
        .filter(email_outbox::Column::Id.eq(id.0))
        .filter(email_outbox::Column::LeaseOwner.eq(worker))
        .filter(email_outbox::Column::Status.eq(EmailStatus::Pending.as_str()))
        .exec(conn)
        .await
        .map_err(db_err)?;
    Ok(result.rows_affected == 1)
}

/// Records a failed attempt on a held message: reschedule or give up (with an event).
pub(crate) async fn mark_failed<C: ConnectionTrait>(
    conn: &C,
    id: EmailId,
    worker: Uuid,
    now: DateTime<Utc>,
    error: &str,
    policy: &RetryPolicy,
    audit: &AuditContext,
) -> StoreResult<Option<RetryDecision>> {
    let failure = leased::record_failure::<email_outbox::Entity, _>(
        conn,
        id.0,
        worker,
        now,
        error,
        policy,
        EmailStatus::Failed.as_str(),
        // A message that will never go out keeps no body.
        |update| update.col_expr(email_outbox::Column::SealedBody, Expr::value("")),
    )
    .await?;
    let Some(failure) = failure else {
        return Ok(None);
    };
    if failure.decision == RetryDecision::GiveUp
        && let Some(row) = email_outbox::Entity::find_by_id(id.0)
            .one(conn)
            .await
            .map_err(db_err)?
    {
        let event = NewEvent::about_model(EventAction::ConfigurationError, "email", id, &row.kind)
            .with("message", "email delivery gave up")
            .with("attempts", failure.attempts)
            .with("error", failure.error);
        events::record(conn, event, audit).await?;
    }
    Ok(Some(failure.decision))
}

/// Looks a message up.
pub(crate) async fn by_id<C: ConnectionTrait>(
    conn: &C,
    id: EmailId,
) -> StoreResult<Option<QueuedEmail>> {
    email_outbox::Entity::find_by_id(id.0)
        .one(conn)
        .await
        .map_err(db_err)?
        .map(from_row)
        .transpose()
}

fn from_row(row: email_outbox::Model) -> StoreResult<QueuedEmail> {
    let status = EmailStatus::parse(&row.status)
        .ok_or_else(|| corrupt("email_outbox", "status", &row.status))?;
    Ok(QueuedEmail {
        id: EmailId(row.id),
        recipient: row.recipient,
        subject: row.subject,
        kind: row.kind,
        sealed_body: row.sealed_body,
        status,
        attempts: u32::try_from(row.attempts).unwrap_or(0),
        next_attempt_at: row.next_attempt_at,
        lease_until: row.lease_until,
        last_error: row.last_error,
        created_at: row.created_at,
        sent_at: row.sent_at,
    })
}

/// Deletes messages sent before `cutoff`; returns how many.
pub(crate) async fn delete_sent<C: ConnectionTrait>(
    conn: &C,
    cutoff: DateTime<Utc>,
) -> StoreResult<u64> {
    let result = email_outbox::Entity::delete_many()
        .filter(email_outbox::Column::Status.eq(EmailStatus::Sent.as_str()))
        .filter(email_outbox::Column::SentAt.lt(timestamp::stored(cutoff)))
        .exec(conn)
        .await
        .map_err(db_err)?;
    Ok(result.rows_affected)
}
