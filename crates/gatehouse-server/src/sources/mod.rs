//! Upstream login sources at run time (issue 6): fetching from the upstream over HTTP behind
//! the SSRF guard ([`fetch`]) and carrying one login from the authorization request to a
//! Gatehouse user ([`login`]). The protocol decisions (endpoints, PKCE/state/nonce, ID-token
//! checks, matching, the group-sync plan) are `gatehouse-sources`'; this module only does the
//! I/O around them.

pub mod fetch;
pub mod login;
