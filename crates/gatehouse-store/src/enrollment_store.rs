//! [`SqlStore`]'s invitation and recovery-code ports: thin wrappers that open a write
//! transaction when the operation writes, call the operation in `crate::ops`, and commit.

use crate::error::db_err;
use crate::ops::{invitations, static_codes};
use crate::sql_store::SqlStore;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use gatehouse_core::store::StoreResult;
use gatehouse_core::{
    AuditContext, Device, DeviceId, Enrollment, Invitation, InvitationStore, NewInvitation,
    StaticCodeStore, TokenId, User, UserId,
};
use sea_orm::DatabaseTransaction;

async fn commit(txn: DatabaseTransaction) -> StoreResult<()> {
    txn.commit().await.map_err(db_err)
}

#[async_trait]
impl InvitationStore for SqlStore {
    async fn create_invitation(
        &self,
        invitation: NewInvitation,
        audit: &AuditContext,
    ) -> StoreResult<Invitation> {
        let txn = self.begin_write().await?;
        let created = invitations::create(&txn, invitation, audit).await?;
        commit(txn).await?;
        Ok(created)
    }

    async fn invitation_by_digest(&self, digest: &str) -> StoreResult<Option<Invitation>> {
        invitations::by_digest(&self.db, digest).await
    }

    async fn invitation(&self, id: TokenId) -> StoreResult<Option<Invitation>> {
        invitations::by_id(&self.db, id).await
    }

    async fn list_invitations(&self) -> StoreResult<Vec<Invitation>> {
        invitations::list(&self.db).await
    }

    async fn delete_invitation(&self, id: TokenId, audit: &AuditContext) -> StoreResult<()> {
        let txn = self.begin_write().await?;
        invitations::delete(&txn, id, audit).await?;
        commit(txn).await
    }

    async fn delete_finished_invitations(
        &self,
        cutoff: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<u64> {
        invitations::delete_finished(&self.db, cutoff).await
    }

    async fn enroll_with_invitation(
        &self,
        enrollment: Enrollment,
        audit: &AuditContext,
    ) -> StoreResult<User> {
        let txn = self.begin_write().await?;
        let created = invitations::enroll(&txn, enrollment, audit).await?;
        commit(txn).await?;
        Ok(created)
    }
}

#[async_trait]
impl StaticCodeStore for SqlStore {
    async fn replace_static_codes(
        &self,
        user: UserId,
        name: &str,
        digests: Vec<String>,
        audit: &AuditContext,
    ) -> StoreResult<Device> {
        let txn = self.begin_write().await?;
        let created = static_codes::replace(&txn, user, name, digests, audit).await?;
        commit(txn).await?;
        Ok(created)
    }

    async fn spend_static_code(
        &self,
        user: UserId,
        digest: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let txn = self.begin_write().await?;
        let spent = static_codes::spend(&txn, user, digest, at).await?;
        commit(txn).await?;
        Ok(spent)
    }

    async fn static_codes_left(&self, device: DeviceId) -> StoreResult<u64> {
        static_codes::left(&self.db, device).await
    }
}
