//! The store's operations, each written once as a function over any sea-orm connection or
//! transaction. `SqlStore`'s trait methods wrap single operations in a transaction;
//! `create_first_admin` and `apply_changes` run several inside one.

pub(crate) mod application_update;
pub(crate) mod applications;
pub(crate) mod backchannel;
pub(crate) mod changes;
pub(crate) mod client_assertions;
pub(crate) mod consents;
pub(crate) mod device_authorizations;
pub(crate) mod devices;
pub(crate) mod events;
pub(crate) mod flows;
pub(crate) mod groups;
pub(crate) mod invitations;
pub(crate) mod keys;
pub(crate) mod leased;
pub(crate) mod memberships;
pub(crate) mod oauth2_tokens;
pub(crate) mod outbox;
pub(crate) mod rows;
pub(crate) mod sessions;
pub(crate) mod settings;
pub(crate) mod setup;
pub(crate) mod sources;
pub(crate) mod static_codes;
pub(crate) mod tokens;
pub(crate) mod users;
pub(crate) mod worker_heartbeats;
