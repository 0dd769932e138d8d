//! Gatehouse's server: configuration, the HTTP and metrics listeners, the worker, start-up
//! preparation and the declarative `apply`/`export` document. The binary crate is a thin CLI
//! over this library.

pub mod admin;
pub mod authn;
pub mod client_addr;
pub mod config;
pub mod declarative;
pub mod flow_catalog;
pub mod https;
pub mod import;
pub mod invitations;
pub mod lifecycle;
pub mod mail;
pub mod oidc;
pub mod prepare;
pub mod recovery_limit;
pub mod redis;
pub mod reference;
pub mod services;
pub mod sources;
pub mod sweep;
pub mod telemetry;
pub mod throttle;
pub mod web;
pub mod worker;

pub use config::Config;
pub use services::Services;
