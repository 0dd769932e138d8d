//! The two structures every WebAuthn ceremony signs or hashes: the client data JSON
//! (WebAuthn Level 3 §5.8.1) and the authenticator data (§6.1), with its attested credential
//! data (§6.5.1) when a credential is created.

use super::WebauthnError;
use super::cbor;
use crate::constant_time_eq;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

/// User present.
const FLAG_UP: u8 = 0x01;
/// User verified.
const FLAG_UV: u8 = 0x04;
/// Backup eligible.
const FLAG_BE: u8 = 0x08;
/// Backed up.
const FLAG_BS: u8 = 0x10;
/// Attested credential data included.
const FLAG_AT: u8 = 0x40;
/// Extension data included.
const FLAG_ED: u8 = 0x80;

/// The longest credential id the spec allows (§5.8.3 / CTAP2).
const MAX_CREDENTIAL_ID: usize = 1023;

#[derive(Deserialize)]
struct RawClientData {
    #[serde(rename = "type")]
    kind: String,
    challenge: String,
    origin: String,
    #[serde(rename = "crossOrigin", default)]
    cross_origin: Option<bool>,
}

/// Checks the client data of a ceremony: its type, that it answers `challenge`, and that it
/// was made by a page of `origin` (exact match) in a top-level context.
pub(crate) fn check_client_data(
    json: &[u8],
    expected_type: &str,
    challenge: &[u8],
    origin: &str,
) -> Result<(), WebauthnError> {
    let data: RawClientData =
        serde_json::from_slice(json).map_err(|_| WebauthnError::ClientData)?;
    if data.kind != expected_type {
        return Err(WebauthnError::WrongCeremony);
    }
    let answered = URL_SAFE_NO_PAD
        .decode(data.challenge.trim_end_matches('='))
        .map_err(|_| WebauthnError::ChallengeMismatch)?;
    if !constant_time_eq(&answered, challenge) {
        return Err(WebauthnError::ChallengeMismatch);
    }
    if data.origin != origin {
        return Err(WebauthnError::OriginMismatch);
    }
    if data.cross_origin == Some(true) {
        return Err(WebauthnError::OriginMismatch);
    }
    Ok(())
}

/// Parsed authenticator data.
#[derive(Debug)]
pub(crate) struct AuthenticatorData<'a> {
    pub(crate) rp_id_hash: &'a [u8],
    pub(crate) flags: u8,
    pub(crate) sign_count: u32,
    /// With the AT flag: credential id and the COSE_Key bytes exactly as sent.
    pub(crate) attested: Option<(Vec<u8>, &'a [u8])>,
}

impl AuthenticatorData<'_> {
    pub(crate) fn user_present(&self) -> bool {
        self.flags & FLAG_UP != 0
    }
    pub(crate) fn user_verified(&self) -> bool {
        self.flags & FLAG_UV != 0
    }
    pub(crate) fn backup_eligible(&self) -> bool {
        self.flags & FLAG_BE != 0
    }
    pub(crate) fn backed_up(&self) -> bool {
        self.flags & FLAG_BS != 0
    }
}

/// Parses authenticator data; every byte must be accounted for.
pub(crate) fn parse_authenticator_data(
    bytes: &[u8],
) -> Result<AuthenticatorData<'_>, WebauthnError> {
    let bad = WebauthnError::AuthenticatorData;
    if bytes.len() < 37 {
        return Err(bad("shorter than 37 bytes"));
    }
    let rp_id_hash = &bytes[..32];
    let flags = bytes[32];
    let sign_count = u32::from_be_bytes([bytes[33], bytes[34], bytes[35], bytes[36]]);
    if flags & FLAG_BS != 0 && flags & FLAG_BE == 0 {
        return Err(bad("backed up but not backup eligible"));
    }
    let mut rest = &bytes[37..];
    let attested = if flags & FLAG_AT != 0 {
        if rest.len() < 18 {
            return Err(bad("attested credential data truncated"));
        }
        let id_len = usize::from(u16::from_be_bytes([rest[16], rest[17]]));
        rest = &rest[18..];
        if id_len == 0 || id_len > MAX_CREDENTIAL_ID || rest.len() < id_len {
            return Err(bad("credential id length out of range"));
        }
        let credential_id = rest[..id_len].to_vec();
        rest = &rest[id_len..];
        let (_, after) = cbor::decode_prefix(rest).map_err(|e| WebauthnError::Cbor(e.0))?;
        let key_len = rest.len() - after.len();
        let key = &rest[..key_len];
        rest = after;
        Some((credential_id, key))
    } else {
        None
    };
    if flags & FLAG_ED != 0 {
        let (extensions, after) =
            cbor::decode_prefix(rest).map_err(|e| WebauthnError::Cbor(e.0))?;
        if !matches!(extensions, cbor::Value::Map(_)) {
            return Err(bad("extensions are not a map"));
        }
        rest = after;
    }
    if !rest.is_empty() {
        return Err(bad("trailing bytes"));
    }
    Ok(AuthenticatorData {
        rp_id_hash,
        flags,
        sign_count,
        attested,
    })
}
