//! Installation-wide settings, with an insert-if-absent that concurrent replicas agree on.

use crate::entity::setting;
use crate::error::db_err;
use gatehouse_core::StoreError;
use gatehouse_core::store::StoreResult;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ConnectionTrait, EntityTrait, IntoActiveModel};

/// Reads a setting.
pub(crate) async fn get<C: ConnectionTrait>(conn: &C, name: &str) -> StoreResult<Option<String>> {
    Ok(setting::Entity::find_by_id(name.to_owned())
        .one(conn)
        .await
        .map_err(db_err)?
        .map(|row| row.value))
}

/// Writes `value` unless `name` is already set, then returns what is stored.
pub(crate) async fn insert_if_absent<C: ConnectionTrait>(
    conn: &C,
    name: &str,
    value: &str,
) -> StoreResult<String> {
    let row = setting::Model {
        name: name.to_owned(),
        value: value.to_owned(),
    };
    setting::Entity::insert(row.into_active_model())
        .on_conflict(
            OnConflict::column(setting::Column::Name)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await
        .map_err(db_err)?;
    get(conn, name).await?.ok_or_else(|| {
        tracing::error!(
            setting = name,
            "setting vanished right after it was written"
        );
        StoreError::Internal
    })
}
