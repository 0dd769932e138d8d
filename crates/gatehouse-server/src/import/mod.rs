//! Importers that turn another identity provider's configuration into Gatehouse's
//! declarative document, so a migration goes through the same planner, transaction and
//! audit trail as `gatehouse apply`, and running it twice changes nothing.

pub mod dex;
