//! Shared harness for the integration tests.
pub mod browser;
pub mod caddy;
pub mod db;
pub mod forms;
pub mod pg;
pub mod redis;
pub mod server;
pub mod smtp;
