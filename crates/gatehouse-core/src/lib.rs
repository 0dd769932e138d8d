//! Gatehouse's domain: the types every crate agrees on, the rules that keep them valid, and the
//! ports (traits) through which protocol and web code reach storage without knowing SQL.

pub mod admin_role;
pub mod application;
pub mod application_patch;
pub mod audit;
pub mod backchannel;
pub mod change;
pub mod consent;
pub mod device;
pub mod device_authorization;
pub mod flow_definition;
pub mod group;
pub mod ids;
pub mod invitation;
pub mod key;
pub mod list;
pub mod oauth2_token;
pub mod outbox;
pub mod password_policy;
pub mod scope_mapping;
pub mod session;
pub mod source;
pub mod static_codes;
pub mod store;
pub mod token;
pub mod user;
pub mod validate;
pub mod worker;

pub use admin_role::{AdminArea, AdminRights, AdminRole};
pub use application::{
    AllowedGroup, Application, ClientType, ConsentMode, Lifetimes, NewApplication, OAuth2Provider,
    SubjectMode, TokenEndpointAuthMethod,
};
pub use application_patch::ApplicationPatch;
pub use audit::{AuditContext, Event, EventAction, EventQuery, NewEvent};
pub use backchannel::{
    BackchannelLogoutStore, DeliveryStatus, LogoutDelivery, LogoutPlan, SessionGrant, plan_logout,
};
pub use change::{Change, ChangeSet};
pub use consent::{Consent, ConsentStore};
pub use device::{Device, DeviceKind, NewDevice};
pub use device_authorization::{
    DeviceAuthorization, DeviceAuthorizationStatus, DeviceAuthorizationStore, DeviceDecision,
    NewDeviceAuthorization,
};
pub use flow_definition::FlowDefinition;
pub use group::{Group, GroupPatch, NewGroup};
pub use ids::{
    ApplicationId, DeviceId, EmailId, EventId, GrantFamilyId, GroupId, KeyId, LogoutDeliveryId,
    OAuth2TokenId, SessionId, SourceConnectionId, SourceId, TokenId, UserId,
};
pub use invitation::{Enrollment, Invitation, InvitationStatus, InvitationStore, NewInvitation};
pub use key::{KeyAlgorithm, NewSigningKey, SigningKey};
pub use list::{ListQuery, Page};
pub use oauth2_token::{IssuedGrant, NewOAuth2Token, OAuth2Token, OAuth2TokenKind};
pub use outbox::{
    EmailRequest, EmailStatus, NewEmail, OutboxStore, QueuedEmail, RetryDecision, RetryPolicy,
};
pub use scope_mapping::{ClaimSource, ScopeMappings};
pub use session::{AuthenticationMethod, Session};
pub use source::{
    ClaimPaths, GroupChanges, GroupSync, GroupSyncMode, NewSource, NewSourceConnection, Source,
    SourceConnection, SourceEndpoints, SourceKind, SourceLogin, SourceStore, UserMatching,
};
pub use static_codes::StaticCodeStore;
pub use store::{
    ApplicationStore, ClientAssertionStore, DeviceStore, EventStore, FirstAdmin, FlowStore,
    GroupStore, KeyStore, OAuth2TokenStore, SessionStore, SettingStore, Store, StoreError,
    TokenStore, UserStore,
};
pub use token::{NewToken, SpentLink, Token, TokenIntent};
pub use user::{NewUser, User, UserPatch, UserType};
pub use validate::ValidationError;
pub use worker::{WorkerHeartbeat, WorkerHeartbeatStore};
