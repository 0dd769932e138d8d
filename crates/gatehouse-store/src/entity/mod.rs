//! The sea-orm entities: one file per table, mirroring the migration in `crate::migration`.
//! They are private to the crate; the domain types in `gatehouse-core` are what callers see.

pub(crate) mod application;
pub(crate) mod backchannel_logout;
pub(crate) mod consent;
pub(crate) mod device;
pub(crate) mod device_authorization;
pub(crate) mod email_outbox;
pub(crate) mod event;
pub(crate) mod flow;
pub(crate) mod group;
pub(crate) mod group_member;
pub(crate) mod invitation;
pub(crate) mod oauth2_client_assertion;
pub(crate) mod oauth2_provider;
pub(crate) mod oauth2_token;
pub(crate) mod session;
pub(crate) mod setting;
pub(crate) mod signing_key;
pub(crate) mod source;
pub(crate) mod source_connection;
pub(crate) mod spent_nonce;
pub(crate) mod static_code;
pub(crate) mod token;
pub(crate) mod user;
pub(crate) mod worker_heartbeat;
