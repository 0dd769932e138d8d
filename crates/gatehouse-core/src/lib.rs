//! Gatehouse's domain: the types every crate agrees on, the rules that keep them valid, and the
//! ports (traits) through which protocol and web code reach storage without knowing SQL.

pub mod audit;
pub mod change;
pub mod device;
pub mod flow_definition;
pub mod group;
pub mod ids;
pub mod invitation;
pub mod key;
pub mod list;
pub mod outbox;
pub mod password_policy;
pub mod session;
pub mod static_codes;
pub mod store;
pub mod token;
pub mod user;
pub mod validate;

pub use audit::{AuditContext, Event, EventAction, EventQuery, NewEvent};
pub use change::{Change, ChangeSet};
pub use device::{Device, DeviceKind, NewDevice};
pub use flow_definition::FlowDefinition;
pub use group::{Group, GroupPatch, NewGroup};
pub use ids::{DeviceId, EmailId, EventId, GroupId, KeyId, SessionId, TokenId, UserId};
pub use invitation::{Enrollment, Invitation, InvitationStatus, InvitationStore, NewInvitation};
pub use key::{KeyAlgorithm, NewSigningKey, SigningKey};
pub use list::{ListQuery, Page};
pub use outbox::{
    EmailRequest, EmailStatus, NewEmail, OutboxStore, QueuedEmail, RetryDecision, RetryPolicy,
};
pub use session::Session;
pub use static_codes::StaticCodeStore;
pub use store::{
    DeviceStore, EventStore, FirstAdmin, FlowStore, GroupStore, KeyStore, SessionStore,
    SettingStore, Store, StoreError, TokenStore, UserStore,
};
pub use token::{NewToken, Token, TokenIntent};
pub use user::{NewUser, User, UserPatch, UserType};
pub use validate::ValidationError;
