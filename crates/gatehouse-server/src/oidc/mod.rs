//! The OAuth2/OIDC provider's glue between the pure protocol crate (`gatehouse-oidc`), the
//! store and the web layer: signing keys per algorithm, client secrets, token minting and
//! the grant services the endpoints call. No axum types here; `web::oidc` is the HTTP edge.

pub mod backchannel;
pub mod cache;
pub mod device;
pub mod grants;
pub mod issuer;
pub mod keys;
pub mod secrets;
pub mod service_account;
pub mod token_writer;

/// Checks a client's JWKS for `private_key_jwt` as the CLI and `apply` register it.
pub use gatehouse_oidc::client_assertion::registered_jwks;
