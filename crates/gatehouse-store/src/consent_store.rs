//! [`SqlStore`]'s consent port: reads go straight to the pool, a grant runs in a write
//! transaction with its audit event, a form nonce is one conditional insert.

use crate::error::db_err;
use crate::ops::consents;
use crate::sql_store::SqlStore;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
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

    async fn spend_form_nonce(&self, nonce: &str, expires_at: DateTime<Utc>) -> StoreResult<bool> {
        consents::spend_nonce(&self.db, nonce, expires_at).await
    }

    async fn delete_expired_consents(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        let txn = self.begin_write().await?;
        let deleted = consents::delete_expired(&txn, now).await?;
        txn.commit().await.map_err(db_err)?;
        Ok(deleted)
    }
}
