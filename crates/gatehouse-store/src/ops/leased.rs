//! The lease-based claiming both delivery queues share (the email outbox and the back-channel
//! logout queue): a due, pending row that no live lease holds is claimed by one
//! compare-and-set `UPDATE` that also counts the attempt, the same statement on SQLite and
//! PostgreSQL, so several workers can share a queue without two holding the same row. A
//! failed attempt is recorded the same way for both: rescheduled by the retry policy, or
//! marked failed once it gives up.

use crate::error::db_err;
use crate::timestamp;
use chrono::{DateTime, Duration, Utc};
use gatehouse_core::store::StoreResult;
use gatehouse_core::{RetryDecision, RetryPolicy};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, ExprTrait, QueryFilter, QueryOrder,
    QuerySelect, UpdateMany,
};
use uuid::Uuid;

/// The status every queue stores for a row still waiting to go out.
pub(crate) const PENDING: &str = "pending";

/// A queue table's lease columns.
pub(crate) trait LeasedQueue: EntityTrait {
    /// The primary key (a UUID).
    fn id() -> Self::Column;
    /// The status (`pending` while waiting).
    fn status() -> Self::Column;
    /// Attempts started.
    fn attempts() -> Self::Column;
    /// When the row may next be tried.
    fn next_attempt_at() -> Self::Column;
    /// The worker holding the row.
    fn lease_owner() -> Self::Column;
    /// Until when it holds it.
    fn lease_until() -> Self::Column;
    /// The last attempt's error.
    fn last_error() -> Self::Column;
}

/// The longest error text kept on a row.
const MAX_ERROR_CHARS: usize = 500;

/// What a failed attempt on a held row came to.
#[derive(Debug)]
pub(crate) struct Failure {
    /// Rescheduled, or given up.
    pub decision: RetryDecision,
    /// Attempts made so far, this one included.
    pub attempts: u32,
    /// The error as stored (truncated).
    pub error: String,
}

/// Pending, due, and not held by a live lease at `now`.
fn claimable<Q: LeasedQueue>(now: DateTime<Utc>) -> Condition {
    Condition::all()
        .add(Q::status().eq(PENDING))
        .add(Q::next_attempt_at().lte(now))
        .add(
            Condition::any()
                .add(Q::lease_until().is_null())
                .add(Q::lease_until().lte(now)),
        )
}

/// Row `id`, held by `worker` and still pending.
pub(crate) fn held<Q: LeasedQueue>(id: Uuid, worker: Uuid) -> Condition {
    Condition::all()
        .add(Q::id().eq(id))
        .add(Q::lease_owner().eq(worker))
        .add(Q::status().eq(PENDING))
}

/// Claims up to `limit` due rows for `worker` until `now + lease`, oldest due first, counting
/// an attempt on each; returns the ids this worker won.
pub(crate) async fn claim<Q: LeasedQueue, C: ConnectionTrait>(
    conn: &C,
    worker: Uuid,
    now: DateTime<Utc>,
    lease: Duration,
    limit: u64,
) -> StoreResult<Vec<Uuid>> {
    let now = timestamp::stored(now);
    let candidates: Vec<Uuid> = Q::find()
        .select_only()
        .column(Q::id())
        .filter(claimable::<Q>(now))
        .order_by_asc(Q::next_attempt_at())
        .order_by_asc(Q::id())
        .limit(limit)
        .into_tuple()
        .all(conn)
        .await
        .map_err(db_err)?;
    let mut won = Vec::new();
    for id in candidates {
        // Only the worker whose update still finds the row claimable gets it.
        let result = Q::update_many()
            .col_expr(Q::lease_owner(), Expr::value(worker))
            .col_expr(
                Q::lease_until(),
                Expr::value(timestamp::stored(now + lease)),
            )
            .col_expr(Q::attempts(), Expr::col(Q::attempts()).add(1))
            .filter(Q::id().eq(id))
            .filter(claimable::<Q>(now))
            .exec(conn)
            .await
            .map_err(db_err)?;
        if result.rows_affected == 1 {
            won.push(id);
        }
    }
    Ok(won)
}

/// Records a failed attempt on row `id` held by `worker`: reschedules it as `policy` says, or
/// marks it `failed_status` with the extra columns `on_give_up` sets (bodies to erase, a
/// finish time). `None` when the worker no longer holds the row (its lease ran out and
/// another worker took it), so nothing was changed.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn record_failure<Q: LeasedQueue, C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    worker: Uuid,
    now: DateTime<Utc>,
    error: &str,
    policy: &RetryPolicy,
    failed_status: &str,
    on_give_up: impl FnOnce(UpdateMany<Q>) -> UpdateMany<Q>,
) -> StoreResult<Option<Failure>> {
    let attempts: Option<i32> = Q::find()
        .select_only()
        .column(Q::attempts())
        .filter(held::<Q>(id, worker))
        .into_tuple()
        .one(conn)
        .await
        .map_err(db_err)?;
    let Some(attempts) = attempts else {
        return Ok(None);
    };
    let attempts = u32::try_from(attempts).unwrap_or(0);
    let decision = policy.after_failure(attempts, now);
    let error: String = error.chars().take(MAX_ERROR_CHARS).collect();
    let update = Q::update_many()
        .col_expr(Q::lease_until(), Expr::value(None::<DateTime<Utc>>))
        .col_expr(Q::last_error(), Expr::value(error.clone()));
    let update = match decision {
        RetryDecision::RetryAt(at) => {
            update.col_expr(Q::next_attempt_at(), Expr::value(timestamp::stored(at)))
        }
        RetryDecision::GiveUp => {
            on_give_up(update.col_expr(Q::status(), Expr::value(failed_status)))
        }
    };
    let result = update
        .filter(held::<Q>(id, worker))
        .exec(conn)
        .await
        .map_err(db_err)?;
    Ok((result.rows_affected == 1).then_some(Failure {
        decision,
        attempts,
        error,
    }))
}
