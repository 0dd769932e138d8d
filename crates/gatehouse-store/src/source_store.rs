//! [`SqlStore`]'s upstream-source port: reads go straight to the pool; every write runs in a
//! write transaction with its audit events, so a just-in-time enrollment or a login's group
//! sync is all or nothing.

use crate::error::db_err;
use crate::ops::sources as ops;
use crate::sql_store::SqlStore;
use async_trait::async_trait;
use gatehouse_core::store::StoreResult;
use gatehouse_core::{
    AuditContext, NewSource, NewSourceConnection, NewUser, Source, SourceConnection, SourceId,
    SourceLogin, SourceStore, User, UserId,
};

#[async_trait]
impl SourceStore for SqlStore {
    async fn create_source(&self, source: NewSource, audit: &AuditContext) -> StoreResult<Source> {
        let txn = self.begin_write().await?;
        let created = ops::create(&txn, source, audit).await?;
        txn.commit().await.map_err(db_err)?;
        Ok(created)
    }

    async fn source_by_slug(&self, slug: &str) -> StoreResult<Option<Source>> {
        ops::by_slug(&self.db, slug).await
    }

    async fn list_sources(&self) -> StoreResult<Vec<Source>> {
        ops::list(&self.db).await
    }

    async fn update_source(
        &self,
        id: SourceId,
        settings: NewSource,
        audit: &AuditContext,
    ) -> StoreResult<Source> {
        let txn = self.begin_write().await?;
        let updated = ops::update(&txn, id, settings, audit).await?;
        txn.commit().await.map_err(db_err)?;
        Ok(updated)
    }

    async fn delete_source(&self, id: SourceId, audit: &AuditContext) -> StoreResult<()> {
        let txn = self.begin_write().await?;
        ops::delete(&txn, id, audit).await?;
        txn.commit().await.map_err(db_err)
    }

    async fn source_connection(
        &self,
        source: SourceId,
        upstream_id: &str,
    ) -> StoreResult<Option<SourceConnection>> {
        ops::connection(&self.db, source, upstream_id).await
    }

    async fn source_connections_of(&self, user: UserId) -> StoreResult<Vec<SourceConnection>> {
        ops::connections_of(&self.db, user).await
    }

    async fn link_source(
        &self,
        connection: NewSourceConnection,
        audit: &AuditContext,
    ) -> StoreResult<SourceConnection> {
        let txn = self.begin_write().await?;
        let linked = ops::link(&txn, connection, audit).await?;
        txn.commit().await.map_err(db_err)?;
        Ok(linked)
    }

    async fn enroll_from_source(
        &self,
        user: NewUser,
        source: SourceId,
        upstream_id: &str,
        upstream_username: Option<String>,
        audit: &AuditContext,
    ) -> StoreResult<(User, SourceConnection)> {
        let txn = self.begin_write().await?;
        let enrolled =
            ops::enroll(&txn, user, source, upstream_id, upstream_username, audit).await?;
        txn.commit().await.map_err(db_err)?;
        Ok(enrolled)
    }

    async fn record_source_login(
        &self,
        login: SourceLogin,
        audit: &AuditContext,
    ) -> StoreResult<SourceConnection> {
        let txn = self.begin_write().await?;
        let connection = ops::record_login(&txn, login, audit).await?;
        txn.commit().await.map_err(db_err)?;
        Ok(connection)
    }

    async fn unlink_source(
        &self,
        user: UserId,
        source: SourceId,
        audit: &AuditContext,
    ) -> StoreResult<()> {
        let txn = self.begin_write().await?;
        ops::unlink(&txn, user, source, audit).await?;
        txn.commit().await.map_err(db_err)
    }
}
