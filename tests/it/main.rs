//! The one integration-test binary: real server processes, real databases, real clients.
//! Each module is one area; `support` holds the shared harness (databases, server processes,
//! the browser).

// The harness is shared between the modules of this one binary; `pub` there is crate-wide.
#![allow(unreachable_pub)]

mod apply_apps;
mod authn;
mod cli;
mod device_store;
mod enrollment;
mod flows;
mod invitation_store;
mod login;
mod oidc;
mod oidc_authlib;
mod oidc_browser;
mod oidc_concurrent;
mod oidc_consent;
mod oidc_device;
mod oidc_keys;
mod oidc_private_key_jwt;
mod oidc_reauth;
mod oidc_service_account;
mod oidc_store;
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
mod store;
mod support;
mod sweep_store;
mod tls;
mod verification;
