//! The one integration-test binary: real server processes, real databases, real clients.
//! Each module is one area; `support` holds the shared harness (databases, server processes,
//! the browser).

// The harness is shared between the modules of this one binary; `pub` there is crate-wide.
#![allow(unreachable_pub)]

mod apply_apps;
mod authn;
mod cli;
mod enrollment;
mod flows;
mod invitation_store;
mod login;
mod oidc;
mod oidc_authlib;
mod oidc_concurrent;
mod oidc_consent;
mod oidc_store;
mod outage;
mod outbox;
mod pages;
mod passkeys;
mod proxy;
mod recovery;
mod recovery_codes;
mod server;
mod setup;
mod store;
mod support;
mod tls;
