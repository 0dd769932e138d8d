//! WebAuthn Level 3 relying-party checks (§7.1 registering a credential, §7.2 verifying an
//! assertion), pure and on aws-lc-rs: no HTTP, no storage. The web layer hands in what the
//! browser sent and the challenge it kept; these functions say whether to believe it.
//!
//! Attestation: Gatehouse asks for `attestation: "none"` and accepts the formats `none` and
//! `packed` *self*-attestation (signed by the credential key itself). It does not verify
//! attestation certificate chains, so it makes no claim about the authenticator's make or
//! model; `packed` with a certificate (`x5c`) and other formats are refused.

mod cbor;
mod cose;
mod data;
#[cfg(test)]
mod tests;

pub use cose::SUPPORTED_ALGORITHMS;

use crate::random::random_array;
use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cbor::Value;
use cose::CosePublicKey;
use data::{check_client_data, parse_authenticator_data};

/// Why a registration or an assertion was refused. Messages are safe to log and show.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WebauthnError {
    /// The client data is not the JSON WebAuthn defines.
    #[error("the client data is malformed")]
    ClientData,
    /// The client data is of the other ceremony (`webauthn.get` for a registration, ...).
    #[error("the response belongs to another kind of ceremony")]
    WrongCeremony,
    /// The response answers another challenge (stale, replayed, or from another flow).
    #[error("the response does not answer this challenge")]
    ChallengeMismatch,
    /// The page that called WebAuthn is not ours (or was framed cross-origin).
    #[error("the response was made for another origin")]
    OriginMismatch,
    /// Malformed CBOR.
    #[error("malformed CBOR: {0}")]
    Cbor(&'static str),
    /// Malformed attestation object.
    #[error("malformed attestation object: {0}")]
    Attestation(&'static str),
    /// Malformed authenticator data.
    #[error("malformed authenticator data: {0}")]
    AuthenticatorData(&'static str),
    /// The authenticator data is for another relying party id.
    #[error("the response was made for another relying party")]
    RpIdMismatch,
    /// The user-present flag is not set.
    #[error("the authenticator did not confirm the user was present")]
    UserNotPresent,
    /// User verification was required and not performed.
    #[error("the authenticator did not verify the user (PIN or biometrics)")]
    UserNotVerified,
    /// The public key is malformed.
    #[error("unusable credential public key: {0}")]
    PublicKey(&'static str),
    /// The public key's algorithm is not ES256, RS256 or EdDSA.
    #[error("unsupported credential algorithm")]
    UnsupportedAlgorithm,
    /// The attestation statement's format is not `none` or `packed` self-attestation.
    #[error("unsupported attestation format")]
    UnsupportedAttestation,
    /// The signature does not verify.
    #[error("the signature does not verify")]
    BadSignature,
    /// The signature counter did not increase: the credential may have been cloned.
    #[error("the signature counter went backwards (possible cloned authenticator)")]
    CounterRegression,
}

/// The relying party: its id (a registrable domain, the host of the external URL) and the one
/// origin whose pages may use its credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelyingParty {
    /// RP ID, e.g. `login.example.com`.
    pub id: String,
    /// Exact origin, e.g. `https://login.example.com`.
    pub origin: String,
}

impl RelyingParty {
    /// From a base URL such as `https://login.example.com/`: the origin is scheme, host and
    /// port; the RP ID is the host. `None` when the URL has no `http(s)://` scheme or host.
    pub fn from_base_url(base_url: &str) -> Option<Self> {
        let (scheme, rest) = base_url.split_once("://")?;
        if scheme != "http" && scheme != "https" {
            return None;
        }
        let authority = rest.split(['/', '?', '#']).next()?.to_ascii_lowercase();
        let host = if authority.starts_with('[') {
            authority.split_inclusive(']').next()?.to_owned()
        } else {
            authority.split(':').next()?.to_owned()
        };
        (!host.is_empty() && !authority.contains('@')).then(|| Self {
            id: host,
            origin: format!("{scheme}://{authority}"),
        })
    }

    fn id_hash(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(digest(&SHA256, self.id.as_bytes()).as_ref());
        out
    }
}

/// A fresh 32-byte ceremony challenge, base64url without padding (as browsers echo it).
pub fn new_challenge() -> String {
    URL_SAFE_NO_PAD.encode(random_array::<32>())
}

/// Decodes a challenge made by [`new_challenge`] (or a credential id, user handle, ...).
pub fn decode_b64url(value: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(value.trim_end_matches('=')).ok()
}

/// Encodes bytes as base64url without padding.
pub fn encode_b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A credential that passed registration, ready to store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewCredential {
    /// The credential id the authenticator chose.
    pub credential_id: Vec<u8>,
    /// The COSE_Key exactly as the authenticator sent it.
    pub public_key: Vec<u8>,
    /// COSE algorithm of the key.
    pub algorithm: i64,
    /// Initial signature counter (0 for authenticators that do not count).
    pub sign_count: u32,
    /// Whether the user was verified (PIN, biometrics).
    pub user_verified: bool,
    /// Whether the credential may be synced (a multi-device passkey).
    pub backup_eligible: bool,
}

/// §7.1: checks a `navigator.credentials.create()` response against the challenge the server
/// issued. `require_user_verification` refuses responses without the UV flag.
pub fn verify_registration(
    rp: &RelyingParty,
    challenge: &[u8],
    client_data_json: &[u8],
    attestation_object: &[u8],
    require_user_verification: bool,
) -> Result<NewCredential, WebauthnError> {
    check_client_data(client_data_json, "webauthn.create", challenge, &rp.origin)?;
    let object = cbor::decode(attestation_object).map_err(|e| WebauthnError::Cbor(e.0))?;
    let fmt = object
        .get_text("fmt")
        .and_then(Value::as_text)
        .ok_or(WebauthnError::Attestation("missing fmt"))?;
    let statement = object
        .get_text("attStmt")
        .filter(|v| matches!(v, Value::Map(_)))
        .ok_or(WebauthnError::Attestation("missing attStmt"))?;
    let auth_data_bytes = object
        .get_text("authData")
        .and_then(Value::as_bytes)
        .ok_or(WebauthnError::Attestation("missing authData"))?;
    let auth_data = parse_authenticator_data(auth_data_bytes)?;
    check_flags_and_rp(rp, &auth_data, require_user_verification)?;
    let Some((credential_id, key_bytes)) = &auth_data.attested else {
        return Err(WebauthnError::AuthenticatorData(
            "no attested credential data",
        ));
    };
    let key_value = cbor::decode(key_bytes).map_err(|e| WebauthnError::Cbor(e.0))?;
    let key = CosePublicKey::from_cbor(&key_value)?;
    match fmt {
        "none" => {
            if statement != &Value::Map(Vec::new()) {
                return Err(WebauthnError::Attestation("none with a statement"));
            }
        }
        "packed" => {
            if statement.get_text("x5c").is_some() || statement.get_text("ecdaaKeyId").is_some() {
                return Err(WebauthnError::UnsupportedAttestation);
            }
            let alg = statement
                .get_text("alg")
                .and_then(Value::as_int)
                .ok_or(WebauthnError::Attestation("packed without alg"))?;
            let sig = statement
                .get_text("sig")
                .and_then(Value::as_bytes)
                .ok_or(WebauthnError::Attestation("packed without sig"))?;
            if alg != i128::from(key.algorithm()) {
                return Err(WebauthnError::Attestation(
                    "self-attestation alg differs from the credential's",
                ));
            }
            key.verify(&signed_bytes(auth_data_bytes, client_data_json), sig)?;
        }
        _ => return Err(WebauthnError::UnsupportedAttestation),
    }
    Ok(NewCredential {
        credential_id: credential_id.clone(),
        public_key: key_bytes.to_vec(),
        algorithm: key.algorithm(),
        sign_count: auth_data.sign_count,
        user_verified: auth_data.user_verified(),
        backup_eligible: auth_data.backup_eligible(),
    })
}

/// What the browser returned from `navigator.credentials.get()` (decoded from base64url).
#[derive(Clone, Debug, Default)]
pub struct AssertionResponse {
    /// `clientDataJSON`.
    pub client_data_json: Vec<u8>,
    /// `authenticatorData`.
    pub authenticator_data: Vec<u8>,
    /// `signature`.
    pub signature: Vec<u8>,
}

/// The result of a valid assertion.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VerifiedAssertion {
    /// The new signature counter, to store.
    pub sign_count: u32,
    /// Whether the user was verified (PIN, biometrics).
    pub user_verified: bool,
    /// Whether the credential is currently backed up (synced).
    pub backed_up: bool,
}

/// §7.2: checks an assertion by the stored credential (`public_key` as returned by
/// [`verify_registration`], `stored_sign_count` as last stored).
pub fn verify_assertion(
    rp: &RelyingParty,
    challenge: &[u8],
    public_key: &[u8],
    stored_sign_count: u32,
    response: &AssertionResponse,
    require_user_verification: bool,
) -> Result<VerifiedAssertion, WebauthnError> {
    check_client_data(
        &response.client_data_json,
        "webauthn.get",
        challenge,
        &rp.origin,
    )?;
    let auth_data = parse_authenticator_data(&response.authenticator_data)?;
    check_flags_and_rp(rp, &auth_data, require_user_verification)?;
    if auth_data.attested.is_some() {
        return Err(WebauthnError::AuthenticatorData(
            "attested credential data in an assertion",
        ));
    }
    let key = CosePublicKey::from_bytes(public_key)?;
    key.verify(
        &signed_bytes(&response.authenticator_data, &response.client_data_json),
        &response.signature,
    )?;
    // §7.2 step 22: a counter that does not grow (when either side counts) suggests a clone.
    let count = auth_data.sign_count;
    if (count != 0 || stored_sign_count != 0) && count <= stored_sign_count {
        return Err(WebauthnError::CounterRegression);
    }
    Ok(VerifiedAssertion {
        sign_count: count,
        user_verified: auth_data.user_verified(),
        backed_up: auth_data.backed_up(),
    })
}

fn check_flags_and_rp(
    rp: &RelyingParty,
    auth_data: &data::AuthenticatorData<'_>,
    require_user_verification: bool,
) -> Result<(), WebauthnError> {
    if !crate::constant_time_eq(auth_data.rp_id_hash, &rp.id_hash()) {
        return Err(WebauthnError::RpIdMismatch);
    }
    if !auth_data.user_present() {
        return Err(WebauthnError::UserNotPresent);
    }
    if require_user_verification && !auth_data.user_verified() {
        return Err(WebauthnError::UserNotVerified);
    }
    Ok(())
}

/// `authenticatorData || SHA-256(clientDataJSON)`, what assertions and attestations sign.
fn signed_bytes(authenticator_data: &[u8], client_data_json: &[u8]) -> Vec<u8> {
    let mut message = authenticator_data.to_vec();
    message.extend_from_slice(digest(&SHA256, client_data_json).as_ref());
    message
}
