//! Static recovery codes for the flow pages: the setup stage (codes generated with the
//! system CSPRNG, kept in the encrypted flow state until the person confirms they saved
//! them, then stored only as keyed digests) and checking a code at sign-in. A typed code is
//! digested with the secret key and spent by deleting the row with that digest, so timing
//! reveals nothing about stored codes and two concurrent sign-ins cannot both use one code.

use crate::services::Services;
use chrono::Utc;
use gatehouse_core::{AuditContext, DeviceKind, StoreError, User};
use gatehouse_crypto::{generate_recovery_code, normalise_recovery_code};
use gatehouse_flows::{DeviceClass, FlowExecution, StageKind};
use serde_json::Value;

/// Where a pending setup keeps its codes in the flow state.
const PENDING_CODES_KEY: &str = "static_codes";
/// The name of the device that holds a user's codes.
const DEVICE_NAME: &str = "Recovery codes";

/// Generates the codes for a static-setup stage about to be shown, once per execution.
pub(crate) fn prepare(stage: &StageKind, execution: &mut FlowExecution) {
    let StageKind::StaticSetup { token_count } = stage else {
        return;
    };
    if execution
        .context
        .prompt_data
        .contains_key(PENDING_CODES_KEY)
    {
        return;
    }
    let codes: Vec<Value> = (0..*token_count)
        .map(|_| Value::String(generate_recovery_code()))
        .collect();
    execution
        .context
        .prompt_data
        .insert(PENDING_CODES_KEY.into(), Value::Array(codes));
}

/// The codes a pending setup shows.
pub(crate) fn pending(execution: &FlowExecution) -> Vec<String> {
    execution
        .context
        .prompt_data
        .get(PENDING_CODES_KEY)
        .and_then(Value::as_array)
        .map(|codes| {
            codes
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// Stores the pending codes as the user's recovery codes, replacing earlier ones. Returns
/// `false` when there were none to store.
pub(crate) async fn confirm(
    services: &Services,
    user: &User,
    execution: &FlowExecution,
    audit: &AuditContext,
) -> Result<bool, StoreError> {
    let digests: Vec<String> = pending(execution)
        .iter()
        .filter_map(|code| normalise_recovery_code(code))
        .map(|code| services.digester.digest(&code))
        .collect();
    if digests.is_empty() {
        return Ok(false);
    }
    services
        .store
        .replace_static_codes(user.id, DEVICE_NAME, digests, audit)
        .await?;
    Ok(true)
}

/// Checks `typed` as a recovery code when the stage accepts them: `None` when it is not in
/// the form of a recovery code (so it may be a TOTP code), otherwise whether a code of the
/// user's was spent.
pub(crate) async fn check(
    services: &Services,
    user: &User,
    classes: &[DeviceClass],
    typed: &str,
) -> Result<Option<bool>, StoreError> {
    if !classes.contains(&DeviceClass::Static) {
        return Ok(None);
    }
    let Some(code) = normalise_recovery_code(typed) else {
        return Ok(None);
    };
    let digest = services.digester.digest(&code);
    services
        .store
        .spend_static_code(user.id, &digest, Utc::now())
        .await
        .map(Some)
}

/// Whether the user has a device of the accepted classes that is checked by typing a code
/// (TOTP or recovery codes), which makes the validation stage a page.
pub(crate) async fn has_code_device(
    services: &Services,
    user: &User,
    classes: &[DeviceClass],
) -> Result<bool, StoreError> {
    Ok(services
        .store
        .devices_of(user.id)
        .await?
        .iter()
        .any(|d| match d.kind {
            DeviceKind::Totp => classes.contains(&DeviceClass::Totp),
            DeviceKind::Static => classes.contains(&DeviceClass::Static),
            DeviceKind::Webauthn => false,
        }))
}
