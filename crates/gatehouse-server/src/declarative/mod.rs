//! The declarative document behind `gatehouse apply -f FILE` and `gatehouse export`: users,
//! groups, flows, applications and sources addressed by natural key, planned into a change set the store applies atomically.
//! Applying the same document twice plans nothing the second time.

mod app_export;
mod app_plan;
mod app_spec;
mod document;
mod export;
mod plan;
mod snapshot;
mod source_spec;

pub use app_plan::application_update;
pub use app_spec::{ApplicationSpec, OidcSpec};
pub use document::{Document, DocumentError, GroupSpec, UserSpec};
pub use export::export;
pub use plan::{PlanError, plan};
pub use snapshot::Snapshot;
pub use source_spec::SourceSpec;
