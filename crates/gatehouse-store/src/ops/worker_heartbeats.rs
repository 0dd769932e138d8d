//! Worker heartbeats: an upsert per beat (the primary key is the worker's id, so one row
//! per process on both backends), a read for the overview, and forgetting old processes.

use crate::entity::worker_heartbeat;
use crate::error::db_err;
use crate::timestamp;
use chrono::{DateTime, Utc};
use gatehouse_core::WorkerHeartbeat;
use gatehouse_core::store::StoreResult;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
};

/// Inserts or refreshes the row of `beat.worker_id`.
pub(crate) async fn record<C: ConnectionTrait>(
    conn: &C,
    beat: &WorkerHeartbeat,
) -> StoreResult<()> {
    let row = worker_heartbeat::Model {
        worker_id: beat.worker_id.clone(),
        description: beat.description.clone(),
        started_at: timestamp::stored(beat.started_at),
        last_seen: timestamp::stored(beat.last_seen),
        interval_secs: beat.interval_secs,
    };
    worker_heartbeat::Entity::insert(row.into_active_model())
        .on_conflict(
            OnConflict::column(worker_heartbeat::Column::WorkerId)
                .update_columns([
                    worker_heartbeat::Column::LastSeen,
                    worker_heartbeat::Column::IntervalSecs,
                ])
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await
        .map_err(db_err)?;
    Ok(())
}

/// Every recorded worker, the most recently seen first.
pub(crate) async fn list<C: ConnectionTrait>(conn: &C) -> StoreResult<Vec<WorkerHeartbeat>> {
    Ok(worker_heartbeat::Entity::find()
        .order_by_desc(worker_heartbeat::Column::LastSeen)
        .all(conn)
        .await
        .map_err(db_err)?
        .into_iter()
        .map(|row| WorkerHeartbeat {
            worker_id: row.worker_id,
            description: row.description,
            started_at: row.started_at,
            last_seen: row.last_seen,
            interval_secs: row.interval_secs,
        })
        .collect())
}

/// Deletes workers last seen before `cutoff`; returns how many.
pub(crate) async fn forget_before<C: ConnectionTrait>(
    conn: &C,
    cutoff: DateTime<Utc>,
) -> StoreResult<u64> {
    let result = worker_heartbeat::Entity::delete_many()
        .filter(worker_heartbeat::Column::LastSeen.lt(timestamp::stored(cutoff)))
        .exec(conn)
        .await
        .map_err(db_err)?;
    Ok(result.rows_affected)
}
