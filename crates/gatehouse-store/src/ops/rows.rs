//! Converting stored rows into domain types. A row that cannot be converted means the
//! database holds something Gatehouse never writes; that is logged and reported as `Internal`.

use gatehouse_core::StoreError;
use serde_json::{Map, Value};

/// A JSON column that must hold an object.
pub(crate) fn json_object(
    value: Value,
    table: &str,
    column: &str,
) -> Result<Map<String, Value>, StoreError> {
    match value {
        Value::Object(map) => Ok(map),
        Value::Null => Ok(Map::new()),
        other => Err(corrupt(table, column, &other.to_string())),
    }
}

/// Logs a value that cannot be read back and returns `Internal`.
pub(crate) fn corrupt(table: &str, column: &str, value: &str) -> StoreError {
    tracing::error!(table, column, value, "unreadable value in the database");
    StoreError::Internal
}

/// The SQL sort direction for a list asked for in natural (`false`) or reverse order.
pub(crate) fn direction(descending: bool) -> sea_orm::Order {
    if descending {
        sea_orm::Order::Desc
    } else {
        sea_orm::Order::Asc
    }
}

/// Clamps a page offset/limit to what SQL accepts.
pub(crate) fn page_bounds(limit: u64, offset: u64) -> (u64, u64) {
    (limit, offset.min(i64::MAX as u64))
}
