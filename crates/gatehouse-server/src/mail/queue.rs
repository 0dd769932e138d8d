//! Queuing messages: renders a template, seals the body, and hands it to the outbox together
//! with the token its link carries and the audit event, so the three are written in one
//! transaction. The worker is woken at once; delivery itself never holds up a request.

use super::message::{self, MessageBody, RecoveryFacts, seal_body};
use crate::services::Services;
use chrono::{DateTime, Duration, Utc};
use gatehouse_core::{
    AuditContext, EmailId, EmailRequest, EventAction, NewEmail, NewEvent, NewToken, StoreError,
    TokenIntent, User,
};
use gatehouse_flows::defaults::DEFAULT_RECOVERY_FLOW;

/// Why a message was not queued.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// No SMTP server is configured.
    #[error("email is not configured")]
    NotConfigured,
    /// The user has no email address.
    #[error("the user has no email address")]
    NoAddress,
    /// A template failed to render (a bug; details logged).
    #[error("the message could not be rendered")]
    Template,
    /// The outbox write failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn rendered(result: Result<MessageBody, askama::Error>) -> Result<MessageBody, QueueError> {
    result.map_err(|error| {
        tracing::error!(%error, "email template failed");
        QueueError::Template
    })
}

/// A message with its body sealed for the outbox.
fn sealed(
    services: &Services,
    recipient: &str,
    subject: &str,
    kind: &str,
    body: &MessageBody,
) -> NewEmail {
    NewEmail {
        recipient: recipient.to_owned(),
        subject: subject.to_owned(),
        kind: kind.to_owned(),
        sealed_body: seal_body(&services.secret_box, body),
    }
}

async fn enqueue(
    services: &Services,
    request: EmailRequest,
    audit: &AuditContext,
) -> Result<EmailId, QueueError> {
    if !services.config.email.is_configured() {
        return Err(QueueError::NotConfigured);
    }
    let kind = request.email.kind.clone();
    let id = services.store.enqueue_email(request, audit).await?;
    services.outbox_wakeup.notify_one();
    if let Some(link) = &services.redis {
        // A worker in another process starts at once rather than at its next poll.
        crate::redis::wakeup::nudge(link, crate::redis::wakeup::Queue::Outbox).await;
    }
    metrics::counter!("gatehouse_email_queued_total", "kind" => kind).increment(1);
    Ok(id)
}

/// How long a recovery link that an administrator or operator sends stays valid.
const SENT_RECOVERY_MINUTES: u32 = 30;

/// Queues the recovery link an administrator (admin UI or API) or an operator (CLI) sends a
/// user on their behalf: one subject and lifetime for every way it is sent.
pub async fn enqueue_sent_recovery(
    services: &Services,
    user: &User,
    audit: &AuditContext,
) -> Result<EmailId, QueueError> {
    let subject = format!("{}: reset your password", services.config.branding.title);
    enqueue_recovery(services, user, &subject, SENT_RECOVERY_MINUTES, audit).await
}

/// Creates a single-use recovery link for `user` valid for `minutes`, and queues the message
/// carrying it, with a `recovery_requested` event, in one transaction.
pub async fn enqueue_recovery(
    services: &Services,
    user: &User,
    subject: &str,
    minutes: u32,
    audit: &AuditContext,
) -> Result<EmailId, QueueError> {
    let recipient = user.email.as_deref().ok_or(QueueError::NoAddress)?;
    let secret = gatehouse_crypto::generate_token("");
    let link = format!(
        "{}/if/flow/{DEFAULT_RECOVERY_FLOW}/?flow_token={secret}",
        services.config.base_url()
    );
    let brand = &services.config.branding.title;
    let body = rendered(message::recovery(&RecoveryFacts {
        brand,
        subject,
        name: if user.name.is_empty() {
            &user.username
        } else {
            &user.name
        },
        username: &user.username,
        link: &link,
        minutes,
    }))?;
    let token = NewToken {
        intent: TokenIntent::Recovery,
        user_id: Some(user.id),
        description: "password recovery link".into(),
        digest: services.digester.digest(&secret),
        expires_at: Some(Utc::now() + Duration::minutes(i64::from(minutes))),
        state: None,
    };
    let event = NewEvent::about_model(
        EventAction::RecoveryRequested,
        "user",
        user.id,
        &user.username,
    );
    let request = EmailRequest {
        email: sealed(services, recipient, subject, "recovery", &body),
        token: Some(token),
        event: Some(event),
    };
    enqueue(services, request, audit).await
}

/// Queues an address verification message for `user` with a `link` the caller made, and
/// the caller's token behind it, in one transaction.
pub async fn enqueue_verification(
    services: &Services,
    user: &User,
    subject: &str,
    link: &str,
    minutes: u32,
    token: Option<NewToken>,
    audit: &AuditContext,
) -> Result<EmailId, QueueError> {
    let recipient = user.email.as_deref().ok_or(QueueError::NoAddress)?;
    let name = if user.name.is_empty() {
        &user.username
    } else {
        &user.name
    };
    let body = rendered(message::verification(
        &services.config.branding.title,
        subject,
        name,
        link,
        minutes,
    ))?;
    let request = EmailRequest {
        email: sealed(services, recipient, subject, "verification", &body),
        token,
        event: None,
    };
    enqueue(services, request, audit).await
}

/// Queues an invitation to `recipient` carrying `link` (an enrollment flow URL with the
/// invitation token), optionally with the invitation token itself so both are written in
/// one transaction. `expires_at` is mentioned in the message.
pub async fn enqueue_invitation(
    services: &Services,
    recipient: &str,
    link: &str,
    expires_at: Option<DateTime<Utc>>,
    token: Option<NewToken>,
    audit: &AuditContext,
) -> Result<EmailId, QueueError> {
    let subject = format!("You are invited to {}", services.config.branding.title);
    let days = expires_at.map(|at| (at - Utc::now()).num_days().max(1));
    let body = rendered(message::invitation(
        &services.config.branding.title,
        &subject,
        link,
        days,
    ))?;
    let request = EmailRequest {
        email: sealed(services, recipient, &subject, "invitation", &body),
        token,
        event: None,
    };
    enqueue(services, request, audit).await
}
