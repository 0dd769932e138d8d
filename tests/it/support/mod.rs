//! Shared harness for the integration tests.
pub mod db;
