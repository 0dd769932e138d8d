//! [`SqlStore`]'s consent port: reads go straight to the pool, a grant runs in a write
//! transaction with its audit event.

use crate::error::db_err;
use crate::ops::consents;
use crate::sql_store::SqlStore;
use async_trait::async_trait;
use gatehouse_core::store::StoreResult;
use gatehouse_core::{ApplicationId, AuditContext, Consent, ConsentStore, UserId};

#[async_trait]
impl ConsentStore for SqlStore {
    async fn consent(
        &self,
        user: UserId,
        application: ApplicationId,
    ) -> StoreResult<Option<Consent>> {
        consents::find(&self.db, user, application).await
    }

    async fn grant_consent(
        &self,
        consent: Consent,
        app_slug: &str,
        audit: &AuditContext,
    ) -> StoreResult<()> {
        let txn = self.begin_write().await?;
        consents::grant(&txn, consent, app_slug, audit).await?;
        txn.commit().await.map_err(db_err)
    }
}
