//! The flow executor's passkey steps: sign-in with a passkey from the identification page,
//! a passkey as second factor, and registering one. A child of `flow` so the executor's
//! dispatch stays one line per stage; the WebAuthn work itself is in `web/webauthn.rs`.

use super::{FlowRun, store_error_page};
use crate::authn;
use crate::throttle::{LoginThrottle, ThrottleVerdict};
use crate::web::webauthn;
use axum::response::Response;
use gatehouse_core::{AuditContext, StoreError, User, ValidationError};
use gatehouse_flows::{AuthMethod, Effect, FlowExecution, StageOutcome};
use std::collections::HashMap;

impl FlowRun<'_> {
    /// Identification answered with a discoverable passkey: identifies and authenticates the
    /// user at once (user verification required), so the password and second-factor stages
    /// pass without a page.
    pub(super) async fn passkey_sign_in(
        &self,
        execution: &FlowExecution,
        form: &HashMap<String, String>,
    ) -> Result<StageOutcome, Response> {
        let address =
            LoginThrottle::address_key(self.audit.client_ip.as_deref().unwrap_or("unknown"));
        // No account is named before the signature is checked: failures count per address.
        let keys = [format!("passkey:{address}"), address];
        let throttle = &self.services.login_throttle;
        if let ThrottleVerdict::Wait(wait) = throttle.check(&keys).await {
            return Ok(StageOutcome::form_error(format!(
                "Too many failed attempts. Try again in {} seconds.",
                wait.as_secs().max(1)
            )));
        }
        match webauthn::sign_in(self.services, execution, form).await {
            Ok(Ok(user)) => {
                let mut marker = serde_json::Map::new();
                marker.insert(webauthn::PASSWORDLESS_KEY.into(), true.into());
                Ok(StageOutcome::passed([
                    Effect::IdentifiedUser(user.id),
                    Effect::Authenticated(AuthMethod::Webauthn),
                    Effect::PromptData(marker),
                ]))
            }
            Ok(Err(refusal)) => {
                tracing::info!(reason = %refusal.reason, "passkey sign-in refused");
                throttle.record_failure(&keys[0], &keys[1]).await;
                Ok(StageOutcome::form_error(refusal.message))
            }
            Err(error) => Err(store_error_page(self.services, error)),
        }
    }

    /// A passkey as second factor for the identified user (throttle keys already checked).
    pub(super) async fn passkey_second_factor(
        &self,
        execution: &FlowExecution,
        user: &User,
        form: &HashMap<String, String>,
        (account, address): (String, String),
    ) -> Result<StageOutcome, Response> {
        let throttle = &self.services.login_throttle;
        match webauthn::validate(self.services, execution, user, form).await {
            Ok(Ok(())) => {
                throttle.record_success(&account).await;
                Ok(StageOutcome::passed([Effect::Authenticated(
                    AuthMethod::Webauthn,
                )]))
            }
            Ok(Err(refusal)) => {
                throttle.record_failure(&account, &address).await;
                let reason = format!("passkey: {}", refusal.reason);
                authn::record_code_failure(self.services, user, &reason, &self.audit).await;
                Ok(StageOutcome::form_error(refusal.message))
            }
            Err(error) => Err(store_error_page(self.services, error)),
        }
    }

    /// Registers the signed-in user's new passkey under the name they gave.
    pub(super) async fn passkey_setup(
        &self,
        execution: &FlowExecution,
        form: &HashMap<String, String>,
    ) -> Result<StageOutcome, Response> {
        let Some(user) = self.pending_user(execution).await? else {
            return Ok(StageOutcome::Denied { message: None });
        };
        let name = form.get("name").map_or("", |n| n.trim());
        let name = if name.is_empty() { "Passkey" } else { name };
        let actor = AuditContext {
            actor_id: Some(user.id),
            actor: user.username.clone(),
            ..self.audit.clone()
        };
        match webauthn::register(self.services, execution, &user, form, name, &actor).await {
            Ok(Ok(())) => Ok(StageOutcome::passed([])),
            Ok(Err(refusal)) => {
                tracing::info!(reason = %refusal.reason, "passkey registration refused");
                Ok(StageOutcome::form_error(
                    "The passkey could not be registered. Try again.",
                ))
            }
            Err(StoreError::Invalid(error)) => Ok(StageOutcome::Failed {
                errors: vec![ValidationError::new("name", error.message)],
            }),
            Err(error) => Err(store_error_page(self.services, error)),
        }
    }
}
