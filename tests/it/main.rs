//! The one integration-test binary: real server processes, real databases, real clients.
//! Each module is one area; `support` holds the shared harness (databases, server processes).

mod store;
mod support;
