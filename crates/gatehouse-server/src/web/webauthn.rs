//! Passkeys and security keys (WebAuthn) for the flow pages: registering a credential
//! (`webauthn_setup`), using one as a second factor (`authenticator_validate`), and signing in
//! with a passkey alone from the identification page (a discoverable credential whose user
//! handle names the user; user verification required, so it counts as two factors).
//!
//! Challenges live in the encrypted flow state, a fresh one for every page shown, so a
//! response only answers the page it was made for. Replays of a sign-in response are refused
//! by the store: a device's use is recorded only if it was not used since the challenge was
//! issued (one compare-and-set), which holds across replicas and for authenticators whose
//! signature counter stays at zero. The checks themselves are in `gatehouse_crypto::webauthn`.

use crate::services::Services;
use chrono::{DateTime, Utc};
use gatehouse_core::{AuditContext, Device, DeviceKind, NewDevice, StoreError, User, UserId};
use gatehouse_crypto::webauthn::{
    self, AssertionResponse, RelyingParty, decode_b64url, encode_b64url,
};
use gatehouse_flows::{FlowExecution, StageKind};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Binds sealed credentials to their purpose.
const SEAL_CONTEXT: &str = "device:webauthn";
/// Flow-state key of the current page's challenge (base64url).
const CHALLENGE_KEY: &str = "webauthn_challenge";
/// Flow-state key of when that challenge was issued (RFC 3339).
const ISSUED_KEY: &str = "webauthn_challenge_issued";
/// Flow-state key set when the user signed in with a user-verified passkey alone.
pub(crate) const PASSWORDLESS_KEY: &str = "passkey_user_verified";
/// What a failed ceremony shows (the precise reason goes to the log and the audit event).
const NOT_VERIFIED: &str = "The passkey could not be verified. Try again.";

/// A credential as sealed in a device's `secret_sealed`.
#[derive(Serialize, Deserialize)]
struct StoredCredential {
    /// Credential id, base64url.
    id: String,
    /// COSE_Key bytes, base64url.
    public_key: String,
    /// COSE algorithm.
    alg: i64,
    /// Whether the credential may be synced between devices.
    backup_eligible: bool,
}

/// The relying party this server is, from the external URL.
pub(crate) fn relying_party(services: &Services) -> Option<RelyingParty> {
    RelyingParty::from_base_url(&services.config.base_url())
}

/// Whether a stage's page carries a WebAuthn ceremony.
pub(crate) fn uses_challenge(kind: &StageKind) -> bool {
    matches!(
        kind,
        StageKind::Identification { .. }
            | StageKind::AuthenticatorValidate { .. }
            | StageKind::WebAuthnSetup
    )
}

/// Puts a fresh challenge in the flow state, replacing the previous page's.
pub(crate) fn refresh_challenge(execution: &mut FlowExecution) {
    let data = &mut execution.context.prompt_data;
    data.insert(CHALLENGE_KEY.into(), webauthn::new_challenge().into());
    data.insert(ISSUED_KEY.into(), Utc::now().to_rfc3339().into());
}

/// Whether the user already signed in with a user-verified passkey in this flow, which stands
/// in for the password and the second factor.
pub(crate) fn signed_in_passwordless(execution: &FlowExecution) -> bool {
    execution.context.prompt_data.get(PASSWORDLESS_KEY) == Some(&serde_json::Value::Bool(true))
        && execution
            .context
            .authenticated_methods
            .contains(&gatehouse_flows::AuthMethod::Webauthn)
}

/// Whether a submitted form carries a WebAuthn response.
pub(crate) fn has_response(form: &HashMap<String, String>) -> bool {
    form.get("webauthn_client_data")
        .is_some_and(|v| !v.is_empty())
}

fn challenge(execution: &FlowExecution) -> Option<(Vec<u8>, DateTime<Utc>)> {
    let data = &execution.context.prompt_data;
    let challenge = decode_b64url(data.get(CHALLENGE_KEY)?.as_str()?)?;
    let issued = DateTime::parse_from_rfc3339(data.get(ISSUED_KEY)?.as_str()?).ok()?;
    Some((challenge, issued.with_timezone(&Utc)))
}

fn field(form: &HashMap<String, String>, name: &str) -> Option<Vec<u8>> {
    form.get(name)
        .filter(|v| v.len() <= 16 * 1024)
        .and_then(|v| decode_b64url(v))
}

fn open(services: &Services, device: &Device) -> Option<StoredCredential> {
    let bytes = services
        .secret_box
        .open(&device.secret_sealed, SEAL_CONTEXT)
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The user's WebAuthn devices with their credentials.
async fn credentials(
    services: &Services,
    user: UserId,
) -> Result<Vec<(Device, StoredCredential)>, StoreError> {
    Ok(services
        .store
        .devices_of(user)
        .await?
        .into_iter()
        .filter(|d| d.kind == DeviceKind::Webauthn)
        .filter_map(|d| {
            let credential = open(services, &d);
            if credential.is_none() {
                tracing::error!(device = %d.id, "a WebAuthn credential cannot be opened (was the secret key changed?)");
            }
            credential.map(|c| (d, c))
        })
        .collect())
}

/// Whether the user has a WebAuthn device.
pub(crate) async fn has_credentials(services: &Services, user: UserId) -> Result<bool, StoreError> {
    Ok(!credentials(services, user).await?.is_empty())
}

/// What a page needs to run the ceremony in the browser (read by /static/webauthn.js).
pub(crate) struct CeremonyView {
    /// `create` (setup), `get` (second factor) or `discover` (passkey sign-in).
    pub(crate) mode: &'static str,
    /// The challenge, base64url.
    pub(crate) challenge: String,
    /// RP ID.
    pub(crate) rp_id: String,
    /// RP name shown by the authenticator.
    pub(crate) rp_name: String,
    /// For `create`: the user handle (base64url), name and display name.
    pub(crate) user_handle: String,
    /// For `create`: the account name.
    pub(crate) user_name: String,
    /// For `create`: the person's name.
    pub(crate) user_display: String,
    /// Credential ids (base64url) as a JSON array: `allowCredentials` for `get`,
    /// `excludeCredentials` for `create`.
    pub(crate) credentials_json: String,
    /// `userVerification`.
    pub(crate) user_verification: &'static str,
    /// On a second-factor page: whether the user also has an authenticator app or recovery
    /// codes.
    pub(crate) offer_code: bool,
}

/// The ceremony for a stage's page, if it has one.
pub(crate) async fn ceremony_view(
    services: &Services,
    kind: &StageKind,
    execution: &FlowExecution,
    user: Option<&User>,
) -> Result<Option<CeremonyView>, StoreError> {
    let (Some(rp), Some((challenge, _))) = (relying_party(services), self::challenge(execution))
    else {
        return Ok(None);
    };
    let ids = |list: &[(Device, StoredCredential)]| {
        serde_json::to_string(&list.iter().map(|(_, c)| c.id.as_str()).collect::<Vec<_>>())
            .unwrap_or_else(|_| "[]".into())
    };
    let mut view = CeremonyView {
        mode: "discover",
        challenge: encode_b64url(&challenge),
        rp_id: rp.id,
        rp_name: services.config.branding.title.clone(),
        user_handle: String::new(),
        user_name: String::new(),
        user_display: String::new(),
        credentials_json: "[]".into(),
        user_verification: "required",
        offer_code: false,
    };
    match (kind, user) {
        (StageKind::Identification { .. }, _) => {}
        (StageKind::AuthenticatorValidate { device_classes, .. }, Some(user)) => {
            let list = if device_classes.contains(&gatehouse_flows::DeviceClass::Webauthn) {
                credentials(services, user.id).await?
            } else {
                Vec::new()
            };
            view.offer_code =
                super::recovery_codes::has_code_device(services, user, device_classes).await?;
            if list.is_empty() {
                return Ok(None);
            }
            view.mode = "get";
            view.credentials_json = ids(&list);
            view.user_verification = "preferred";
        }
        (StageKind::WebAuthnSetup, Some(user)) => {
            view.mode = "create";
            view.user_handle = encode_b64url(user.id.0.as_bytes());
            view.user_name.clone_from(&user.username);
            view.user_display.clone_from(&user.name);
            view.credentials_json = ids(&credentials(services, user.id).await?);
            view.user_verification = "preferred";
        }
        _ => return Ok(None),
    }
    Ok(Some(view))
}

/// A ceremony that did not succeed: the message for the page and the reason for the log.
pub(crate) struct Refusal {
    /// Shown to the person.
    pub(crate) message: &'static str,
    /// For the audit event and the log.
    pub(crate) reason: String,
}

fn refuse(reason: impl Into<String>) -> Refusal {
    Refusal {
        message: NOT_VERIFIED,
        reason: reason.into(),
    }
}

fn assertion_of(form: &HashMap<String, String>) -> Option<(Vec<u8>, AssertionResponse)> {
    Some((
        field(form, "webauthn_id")?,
        AssertionResponse {
            client_data_json: field(form, "webauthn_client_data")?,
            authenticator_data: field(form, "webauthn_authenticator_data")?,
            signature: field(form, "webauthn_signature")?,
        },
    ))
}

/// Checks an assertion by one of `user`'s credentials and records its use. `require_uv`
/// refuses authenticators that did not verify the user.
async fn verify_for_user(
    services: &Services,
    execution: &FlowExecution,
    user: UserId,
    form: &HashMap<String, String>,
    require_uv: bool,
) -> Result<Result<(), Refusal>, StoreError> {
    let (Some(rp), Some((challenge, issued))) = (relying_party(services), challenge(execution))
    else {
        return Ok(Err(refuse("no challenge in the flow state")));
    };
    let Some((credential_id, response)) = assertion_of(form) else {
        return Ok(Err(refuse("malformed response fields")));
    };
    let list = credentials(services, user).await?;
    let Some((device, stored)) = list
        .iter()
        .find(|(_, c)| decode_b64url(&c.id).is_some_and(|id| id == credential_id))
    else {
        return Ok(Err(refuse("unknown credential")));
    };
    let Some(public_key) = decode_b64url(&stored.public_key) else {
        return Ok(Err(refuse("stored public key unreadable")));
    };
    let stored_count = device
        .last_used_step
        .and_then(|c| u32::try_from(c).ok())
        .unwrap_or(0);
    let verified = match webauthn::verify_assertion(
        &rp,
        &challenge,
        &public_key,
        stored_count,
        &response,
        require_uv,
    ) {
        Ok(verified) => verified,
        Err(error) => return Ok(Err(refuse(error.to_string()))),
    };
    if !services
        .store
        .record_webauthn_use(
            device.id,
            i64::from(verified.sign_count),
            issued,
            Utc::now(),
        )
        .await?
    {
        return Ok(Err(refuse("challenge already used")));
    }
    Ok(Ok(()))
}

/// Second factor: an assertion by one of `user`'s credentials (user verification preferred).
pub(crate) async fn validate(
    services: &Services,
    execution: &FlowExecution,
    user: &User,
    form: &HashMap<String, String>,
) -> Result<Result<(), Refusal>, StoreError> {
    verify_for_user(services, execution, user.id, form, false).await
}

/// Passkey sign-in: the user handle names the user, the credential must be theirs, and the
/// authenticator must have verified the user. Returns the user.
pub(crate) async fn sign_in(
    services: &Services,
    execution: &FlowExecution,
    form: &HashMap<String, String>,
) -> Result<Result<User, Refusal>, StoreError> {
    let handle = field(form, "webauthn_user_handle").unwrap_or_default();
    let Ok(uuid) = uuid::Uuid::from_slice(&handle) else {
        return Ok(Err(refuse("missing or malformed user handle")));
    };
    let Some(user) = services.store.user_by_id(UserId(uuid)).await? else {
        return Ok(Err(refuse("user handle of no user")));
    };
    if !user.active {
        return Ok(Err(refuse("account deactivated")));
    }
    Ok(verify_for_user(services, execution, user.id, form, true)
        .await?
        .map(|()| user))
}

/// Registration: stores the credential as a device named `name`.
pub(crate) async fn register(
    services: &Services,
    execution: &FlowExecution,
    user: &User,
    form: &HashMap<String, String>,
    name: &str,
    audit: &AuditContext,
) -> Result<Result<(), Refusal>, StoreError> {
    let (Some(rp), Some((challenge, _))) = (relying_party(services), challenge(execution)) else {
        return Ok(Err(refuse("no challenge in the flow state")));
    };
    let (Some(client_data), Some(attestation)) = (
        field(form, "webauthn_client_data"),
        field(form, "webauthn_attestation"),
    ) else {
        return Ok(Err(refuse("malformed response fields")));
    };
    let credential =
        match webauthn::verify_registration(&rp, &challenge, &client_data, &attestation, false) {
            Ok(credential) => credential,
            Err(error) => return Ok(Err(refuse(error.to_string()))),
        };
    let id = encode_b64url(&credential.credential_id);
    if credentials(services, user.id)
        .await?
        .iter()
        .any(|(_, c)| c.id == id)
    {
        return Ok(Err(refuse("credential already registered")));
    }
    let stored = StoredCredential {
        id,
        public_key: encode_b64url(&credential.public_key),
        alg: credential.algorithm,
        backup_eligible: credential.backup_eligible,
    };
    let json = serde_json::to_vec(&stored).map_err(|_| StoreError::Internal)?;
    services
        .store
        .create_device(
            NewDevice {
                user_id: user.id,
                kind: DeviceKind::Webauthn,
                name: name.to_owned(),
                secret_sealed: services.secret_box.seal(&json, SEAL_CONTEXT),
                last_used_step: Some(i64::from(credential.sign_count)),
            },
            audit,
        )
        .await?;
    Ok(Ok(()))
}
