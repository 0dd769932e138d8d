//! TOTP as a second factor for the flow pages: setting up an authenticator app (secret kept in
//! the encrypted flow state until the first code proves the app has it) and checking codes at
//! sign-in (each time step accepted once per device, enforced by a compare-and-set in the
//! store so concurrent requests cannot spend one code twice).

use crate::services::Services;
use chrono::Utc;
use gatehouse_core::{AuditContext, Device, DeviceKind, NewDevice, StoreError, User};
use gatehouse_crypto::totp::{self, TotpParams, TotpSecret, TotpVerification};

/// Binds sealed TOTP seeds to their purpose.
const SEAL_CONTEXT: &str = "device:totp";
/// Where a pending setup keeps its secret (base32) in the flow state.
pub(crate) const PENDING_SECRET_KEY: &str = "totp_secret";

/// What a submitted code turned out to be.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum CodeCheck {
    /// Accepted and recorded as used.
    Valid,
    /// Well-formed but matches no device at this time.
    Invalid,
    /// Matches a step that device already accepted.
    Replayed,
}

/// The user's TOTP devices.
pub(crate) async fn totp_devices(
    services: &Services,
    user: &User,
) -> Result<Vec<Device>, StoreError> {
    Ok(services
        .store
        .devices_of(user.id)
        .await?
        .into_iter()
        .filter(|d| d.kind == DeviceKind::Totp)
        .collect())
}

/// Checks `code` against each of the user's TOTP devices and spends it on the first match.
pub(crate) async fn check_code(
    services: &Services,
    user: &User,
    code: &str,
) -> Result<CodeCheck, StoreError> {
    let now = unix_now();
    let params = TotpParams::default();
    let mut replayed = false;
    for device in totp_devices(services, user).await? {
        let Some(secret) = open_secret(services, &device) else {
            tracing::error!(device = %device.id, "a TOTP seed cannot be opened (was the secret key changed?)");
            continue;
        };
        let last = device.last_used_step.and_then(|s| u64::try_from(s).ok());
        match totp::verify(&secret, &params, code, now, last) {
            TotpVerification::Valid { step } => {
                let step = i64::try_from(step).unwrap_or(i64::MAX);
                if services
                    .store
                    .record_totp_step(device.id, step, Utc::now())
                    .await?
                {
                    return Ok(CodeCheck::Valid);
                }
                // Another request spent this step between our read and write.
                replayed = true;
            }
            TotpVerification::Replayed => replayed = true,
            TotpVerification::Invalid => {}
        }
    }
    Ok(if replayed {
        CodeCheck::Replayed
    } else {
        CodeCheck::Invalid
    })
}

/// What the setup page shows.
pub(crate) struct SetupView {
    /// The QR code to scan.
    pub(crate) qr_svg: String,
    /// The secret in base32, for typing in by hand.
    pub(crate) secret: String,
    /// The `otpauth://` URI (a link phones can open directly).
    pub(crate) uri: String,
}

/// A fresh secret for a setup, in base32.
pub(crate) fn new_pending_secret() -> String {
    TotpSecret::generate().to_base32().to_string()
}

/// The QR code and texts for a pending secret.
pub(crate) fn setup_view(
    services: &Services,
    secret_base32: &str,
    user: &User,
) -> Option<SetupView> {
    let secret = TotpSecret::from_base32(secret_base32).ok()?;
    // The Key Uri Format forbids colons in the issuer.
    let issuer = services.config.branding.title.replace(':', " ");
    let uri = totp::provisioning_uri(&secret, &TotpParams::default(), &issuer, &user.username)
        .to_string();
    let qr_svg = totp::qr_svg(&uri).ok()?;
    Some(SetupView {
        qr_svg,
        secret: secret_base32.to_owned(),
        uri,
    })
}

/// What confirming a setup came to.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum SetupOutcome {
    /// The device was stored.
    Added,
    /// The code did not match the pending secret.
    WrongCode,
}

/// Stores the device if `code` proves the app has the pending secret; the confirming code's
/// step is recorded as used so it cannot also sign someone in.
pub(crate) async fn confirm_setup(
    services: &Services,
    user: &User,
    secret_base32: &str,
    code: &str,
    name: &str,
    audit: &AuditContext,
) -> Result<SetupOutcome, StoreError> {
    let Ok(secret) = TotpSecret::from_base32(secret_base32) else {
        return Ok(SetupOutcome::WrongCode);
    };
    let TotpVerification::Valid { step } =
        totp::verify(&secret, &TotpParams::default(), code, unix_now(), None)
    else {
        return Ok(SetupOutcome::WrongCode);
    };
    services
        .store
        .create_device(
            NewDevice {
                user_id: user.id,
                kind: DeviceKind::Totp,
                name: name.to_owned(),
                secret_sealed: services.secret_box.seal(secret.as_bytes(), SEAL_CONTEXT),
                last_used_step: i64::try_from(step).ok(),
            },
            audit,
        )
        .await?;
    Ok(SetupOutcome::Added)
}

fn open_secret(services: &Services, device: &Device) -> Option<TotpSecret> {
    let bytes = services
        .secret_box
        .open(&device.secret_sealed, SEAL_CONTEXT)
        .ok()?;
    TotpSecret::from_bytes(&bytes).ok()
}

fn unix_now() -> u64 {
    u64::try_from(Utc::now().timestamp()).unwrap_or_default()
}
