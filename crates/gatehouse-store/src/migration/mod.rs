//! The schema, as one ordered migration set that runs unchanged on SQLite and PostgreSQL.
//! Add a new file per change; never edit one that has shipped.

use sea_orm_migration::prelude::*;

mod m20260101_000001_initial;
mod m20261129_000001_devices;
mod m20261129_000003_email_outbox;
mod m20261129_000004_invitations;
mod m20261129_000005_oauth2;
mod m20261129_000006_flows;
mod m20261129_000007_consents;
mod m20261129_000008_end_session;
mod m20261129_000009_token_state;
mod m20261129_000010_spent_nonces;
mod m20261129_000011_session_authentication;
mod m20261129_000012_device_authorizations;
mod m20261129_000013_private_key_jwt;
mod m20261129_000014_key_rotation;
mod m20261129_000015_backchannel_logout;
mod m20261129_000016_scope_mappings;
mod m20261129_000017_sources;
mod m20261129_000018_user_search;
mod m20261129_000019_worker_heartbeats;
mod m20261129_000020_event_time_indexes;

/// Every migration, oldest first.
pub(crate) struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20260101_000001_initial::Migration),
            Box::new(m20261129_000001_devices::Migration),
            Box::new(m20261129_000003_email_outbox::Migration),
            Box::new(m20261129_000004_invitations::Migration),
            Box::new(m20261129_000005_oauth2::Migration),
            Box::new(m20261129_000006_flows::Migration),
            Box::new(m20261129_000007_consents::Migration),
            Box::new(m20261129_000008_end_session::Migration),
            Box::new(m20261129_000009_token_state::Migration),
            Box::new(m20261129_000010_spent_nonces::Migration),
            Box::new(m20261129_000011_session_authentication::Migration),
            Box::new(m20261129_000012_device_authorizations::Migration),
            Box::new(m20261129_000013_private_key_jwt::Migration),
            Box::new(m20261129_000014_key_rotation::Migration),
            Box::new(m20261129_000015_backchannel_logout::Migration),
            Box::new(m20261129_000016_scope_mappings::Migration),
            Box::new(m20261129_000017_sources::Migration),
            Box::new(m20261129_000018_user_search::Migration),
            Box::new(m20261129_000019_worker_heartbeats::Migration),
            Box::new(m20261129_000020_event_time_indexes::Migration),
        ]
    }

    fn migration_table_name() -> DynIden {
        "gatehouse_migrations".into_iden()
    }
}
