//! The email stage in verification mode inside any flow (e.g. enrollment): the first time the
//! stage is shown, a single-use link is queued through the outbox together with its token,
//! and the token keeps the flow's sealed execution, so the link resumes the flow from any
//! browser, after a restart, on any replica. Following the link (a button press, so mail
//! scanners cannot spend it) spends the token and sets `email_verified` in one transaction,
//! then the flow continues where it waited. The pure rules are in `gatehouse_flows::email`.

use super::{FlowRun, flow_path, store_error_page};
use crate::mail::{self, QueueError};
use crate::web::{pages, recovery};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{Duration, Utc};
use gatehouse_core::{NewToken, TokenIntent};
use gatehouse_flows::{FlowError, FlowExecution, StageKind, email};

/// The address the link went to, kept in the execution for the "check your inbox" page.
const SENT_TO_KEY: &str = "email_verification_sent_to";

/// The longest token accepted from a link (ours are 43 characters).
const MAX_TOKEN_CHARS: usize = 128;

impl FlowRun<'_> {
    fn link_seal_context(&self) -> String {
        format!("email-link:{}", self.flow.slug)
    }

    /// Queues the verification link for the pending user, once per execution; the execution
    /// (already marked as sent) is sealed into the link's token. Any failure is a page, and
    /// nothing is marked sent, so the next visit tries again.
    pub(super) async fn send_verification_once(
        &self,
        stage_kind: &StageKind,
        execution: &mut FlowExecution,
    ) -> Result<(), Response> {
        let StageKind::Email {
            token_expiry_minutes,
            subject,
            ..
        } = stage_kind
        else {
            return Ok(());
        };
        if execution
            .context
            .prompt_data
            .contains_key(recovery::LINK_REQUESTED_KEY)
        {
            return Ok(());
        }
        let brand = &self.services.config.branding;
        let refuse = |status, message: &str| {
            pages::message(status, brand, "Email address not confirmed", message)
        };
        let Some(user) = self.pending_user(execution).await? else {
            return Err(refuse(
                StatusCode::FORBIDDEN,
                "There is no account whose address could be confirmed here.",
            ));
        };
        let Some(address) = user.email.clone() else {
            return Err(refuse(
                StatusCode::FORBIDDEN,
                "Your account has no email address to confirm. Ask an administrator.",
            ));
        };
        let mut waiting = execution.clone();
        let data = &mut waiting.context.prompt_data;
        data.insert(recovery::LINK_REQUESTED_KEY.into(), "sent".into());
        data.insert(SENT_TO_KEY.into(), address.into());
        let Ok(json) = serde_json::to_vec(&waiting) else {
            return Err(self.error_page(FlowError::Finished));
        };
        let state = self
            .services
            .secret_box
            .seal(&json, &self.link_seal_context());
        let secret = gatehouse_crypto::generate_token("");
        let link = format!(
            "{}{}?flow_token={secret}",
            self.services.config.base_url(),
            flow_path(self.flow)
        );
        let token = NewToken {
            intent: TokenIntent::EmailVerification,
            user_id: Some(user.id),
            description: "email verification link".into(),
            digest: self.services.digester.digest(&secret),
            expires_at: Some(Utc::now() + Duration::minutes(i64::from(*token_expiry_minutes))),
            state: Some(state),
        };
        let queued = mail::enqueue_verification(
            self.services,
            &user,
            subject,
            &link,
            *token_expiry_minutes,
            Some(token),
            &self.audit,
        )
        .await;
        match queued {
            Ok(id) => {
                tracing::info!(user = %user.username, email = %id, "verification link queued");
                *execution = waiting;
                Ok(())
            }
            Err(QueueError::NotConfigured) => Err(refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "Email addresses cannot be confirmed: this Gatehouse has no email server \
                 configured. Ask an administrator.",
            )),
            Err(QueueError::NoAddress) => Err(refuse(
                StatusCode::FORBIDDEN,
                "Your account has no email address to confirm. Ask an administrator.",
            )),
            Err(QueueError::Template) => Err(refuse(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The message could not be prepared. Try again in a moment.",
            )),
            Err(QueueError::Store(error)) => Err(store_error_page(self.services, error)),
        }
    }

    /// Follows a verification link: spends its token and confirms the address (one
    /// transaction), then resumes the execution stored with it past the email stage.
    pub(super) async fn resume_from_verification_link(&self, token: &str) -> Response {
        let brand = &self.services.config.branding;
        if token.is_empty() || token.len() > MAX_TOKEN_CHARS {
            return link_refused(self);
        }
        let digest = self.services.digester.digest(token);
        let spent = match self
            .services
            .store
            .verify_email_with_token(&digest, Utc::now(), &self.audit)
            .await
        {
            Ok(Some(spent)) => spent,
            Ok(None) => return link_refused(self),
            Err(error) => return store_error_page(self.services, error),
        };
        let resumed = spent.token.user_id.and_then(|user| {
            let sealed = spent.state.as_deref()?;
            let bytes = self
                .services
                .secret_box
                .open(sealed, &self.link_seal_context())
                .ok()?;
            let execution: FlowExecution = serde_json::from_slice(&bytes).ok()?;
            match email::resume_after_verification(self.flow, &execution, user, Utc::now()) {
                Ok(outcome) => Some((execution, outcome)),
                Err(refusal) => {
                    tracing::info!(flow = %self.flow.slug, %refusal, "verification link cannot resume its flow");
                    None
                }
            }
        });
        let Some((execution, outcome)) = resumed else {
            // The address is confirmed all the same: the link proved access to the mailbox.
            return pages::message(
                StatusCode::OK,
                brand,
                "Email address confirmed",
                "Your email address is confirmed. The page you started from can no longer be \
                 continued (it expired or was changed); sign in to continue.",
            );
        };
        self.advance_and_show(execution, outcome).await
    }
}

/// The refusal for an unknown, used or expired verification link.
fn link_refused(run: &FlowRun<'_>) -> Response {
    pages::message(
        StatusCode::GONE,
        &run.services.config.branding,
        "Link expired",
        "This confirmation link has expired or has already been used.",
    )
}

/// What the verification email stage's page says.
pub(super) fn stage_notice(execution: &FlowExecution, stage_kind: &StageKind) -> String {
    let minutes = match stage_kind {
        StageKind::Email {
            token_expiry_minutes,
            ..
        } => *token_expiry_minutes,
        _ => 0,
    };
    let to = execution
        .context
        .prompt_data
        .get(SENT_TO_KEY)
        .and_then(|v| v.as_str())
        .unwrap_or("your email address");
    format!(
        "Check your inbox: we've sent a link to {to}. Open it to confirm your address and \
         continue. The link works once, for {minutes} minutes. You can close this page."
    )
}
