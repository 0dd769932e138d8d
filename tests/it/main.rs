//! The one integration-test binary: real server processes, real databases, real clients.
//! Each module is one area; `support` holds the shared harness (databases, server processes,
//! the browser).

// The harness is shared between the modules of this one binary; `pub` there is crate-wide.
#![allow(unreachable_pub)]

mod admin_api;
mod admin_api_fuzz;
mod admin_ui;
mod app_update;
mod apply_apps;
mod authn;
mod backchannel_store;
mod cli;
mod device_store;
mod dex_import;
mod enrollment;
mod flows;
mod invitation_store;
mod login;
mod oidc;
mod oidc_authlib;
mod oidc_backchannel;
mod oidc_browser;
mod oidc_concurrent;
mod oidc_consent;
mod oidc_device;
mod oidc_keys;
mod oidc_private_key_jwt;
mod oidc_reauth;
mod oidc_scope_mappings;
mod oidc_service_account;
mod oidc_store;
mod oidc_throttle;
mod outage;
mod outbox;
mod pages;
mod passkeys;
mod proxy;
mod recovery;
mod recovery_codes;
mod redis;
mod replicas;
mod server;
mod setup;
mod source_admin;
mod source_cli;
mod source_login;
mod source_store;
mod store;
mod support;
mod sweep_store;
mod tls;
mod verification;
