//! Shared harness for the integration tests.
pub mod browser;
pub mod caddy;
pub mod db;
pub mod pg;
pub mod server;
pub mod smtp;
