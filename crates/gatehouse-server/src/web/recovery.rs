//! The web side of password recovery by email: finding the account by username or email,
//! the email stage (queue a link once, then say "if an account exists, we've sent a link"
//! whatever happened), and following the link, which needs a button press (a POST) so that
//! mail scanners fetching the link cannot spend it (verification links share that page).

use super::{cookies, csrf, pages};
use crate::mail::{self, QueueError};
use crate::services::Services;
use askama::Template;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::Utc;
use gatehouse_core::{AuditContext, StoreError, TokenIntent, User, UserId};
use gatehouse_flows::{EmailPurpose, FlowExecution, StageKind};

/// Marks in the execution that the email stage has run, and how: `sent` or `limited`.
pub(super) const LINK_REQUESTED_KEY: &str = "email_link_requested";

/// The longest token accepted from a link (ours are 43 characters).
const MAX_TOKEN_CHARS: usize = 128;

/// The account an identifier names: an address (containing `@`) is looked up by email,
/// ignoring case, anything else by exact username. One lookup either way, so the time taken
/// does not depend on which kind of identifier matched.
pub(super) async fn identify(services: &Services, uid: &str) -> Result<Option<User>, StoreError> {
    if uid.contains('@') {
        services.store.user_by_email(uid).await
    } else {
        services.store.user_by_username(uid).await
    }
}

/// The page a recovery flow shows when no SMTP server is configured.
pub(super) fn not_available(services: &Services) -> Response {
    pages::message(
        StatusCode::SERVICE_UNAVAILABLE,
        &services.config.branding,
        "Recovery not available",
        "Recovery by email is not available: this Gatehouse has no email server configured. \
         Ask an administrator to reset your password.",
    )
}

/// Runs the email stage's I/O once per execution: queues the link for the pending user (if
/// there is one, it is active, has an address, and has not had too many links lately) in a
/// background task, so the response takes the same time whether or not an account exists.
/// A client over its request limit gets no link and a page that says so.
pub(super) async fn request_link_once(
    services: &Services,
    stage_kind: &StageKind,
    execution: &mut FlowExecution,
    audit: &AuditContext,
) {
    if execution
        .context
        .prompt_data
        .contains_key(LINK_REQUESTED_KEY)
    {
        return;
    }
    let StageKind::Email {
        purpose,
        token_expiry_minutes,
        subject,
        ..
    } = stage_kind
    else {
        return;
    };
    let address = audit.client_ip.as_deref().unwrap_or("unknown");
    let allowed = services.recovery_limiter.allow_address(address).await;
    execution.context.prompt_data.insert(
        LINK_REQUESTED_KEY.into(),
        (if allowed { "sent" } else { "limited" }).into(),
    );
    if !allowed || *purpose != EmailPurpose::Recovery {
        // Verification links are sent by `flow/verification.rs`.
        return;
    }
    let Some(user_id) = execution.context.pending_user else {
        tracing::info!("recovery requested for an unknown account; no email sent");
        return;
    };
    let (services, audit) = (services.clone(), audit.clone());
    let (subject, minutes) = (subject.clone(), *token_expiry_minutes);
    tokio::spawn(async move {
        send_recovery(&services, user_id, &subject, minutes, &audit).await;
    });
}

async fn send_recovery(
    services: &Services,
    user_id: UserId,
    subject: &str,
    minutes: u32,
    audit: &AuditContext,
) {
    let user = match services.store.user_by_id(user_id).await {
        Ok(Some(user)) if user.active => user,
        Ok(_) => {
            tracing::info!(user = %user_id, "recovery requested for an inactive or deleted account; no email sent");
            return;
        }
        Err(error) => {
            tracing::warn!(%error, "recovery request could not be handled");
            return;
        }
    };
    if !services
        .recovery_limiter
        .allow_account(&user.id.to_string())
        .await
    {
        tracing::warn!(user = %user.username, "too many recovery links for this account; no email sent");
        return;
    }
    match mail::enqueue_recovery(services, &user, subject, minutes, audit).await {
        Ok(id) => tracing::info!(user = %user.username, email = %id, "recovery link queued"),
        Err(QueueError::NoAddress) => {
            tracing::info!(user = %user.username, "recovery requested for an account without an email address");
        }
        Err(error) => tracing::warn!(user = %user.username, %error, "recovery link not queued"),
    }
}

/// What the email stage's page says.
pub(super) fn stage_notice(execution: &FlowExecution, stage_kind: &StageKind) -> String {
    let limited = execution
        .context
        .prompt_data
        .get(LINK_REQUESTED_KEY)
        .and_then(|v| v.as_str())
        == Some("limited");
    if limited {
        return "Too many recovery requests came from your network. Wait a few minutes and try \
                again."
            .into();
    }
    let minutes = match stage_kind {
        StageKind::Email {
            token_expiry_minutes,
            ..
        } => *token_expiry_minutes,
        _ => 0,
    };
    format!(
        "If an account with that name or address exists, we've sent a link to its email \
         address. The link works once, for {minutes} minutes. You can close this page."
    )
}

#[derive(Template)]
#[template(path = "recovery_link.html")]
struct LinkPage<'a> {
    brand: &'a crate::config::BrandingConfig,
    heading: &'a str,
    text: &'a str,
    action: String,
    csrf: String,
    flow_token: String,
}

/// What a link page says: for a recovery link, or an email-verification link.
pub(super) enum LinkKind {
    /// A password recovery link.
    Recovery,
    /// An email-verification link.
    Verification,
}

/// `GET` of a recovery or verification link: a page with one button that posts the token.
pub(super) fn link_page(
    services: &Services,
    headers: &HeaderMap,
    action: String,
    flow_token: &str,
    kind: LinkKind,
) -> Response {
    let (heading, text) = match kind {
        LinkKind::Recovery => (
            "Reset your password",
            "Continue to choose a new password. This link works once.",
        ),
        LinkKind::Verification => (
            "Confirm your email address",
            "Continue to confirm your email address. This link works once.",
        ),
    };
    let (csrf, set_cookie) = csrf::form_token(services, headers);
    let mut response = pages::render(
        StatusCode::OK,
        &LinkPage {
            brand: &services.config.branding,
            heading,
            text,
            action,
            csrf,
            flow_token: flow_token.chars().take(MAX_TOKEN_CHARS).collect(),
        },
    );
    if let Some(cookie) = set_cookie {
        cookies::append(&mut response, &cookie);
    }
    response
}

/// The refusal for an unknown, used or expired link.
pub(super) fn link_refused(services: &Services) -> Response {
    pages::message(
        StatusCode::GONE,
        &services.config.branding,
        "Link expired",
        "This recovery link has expired or has already been used. Request a new one with \
         \"Forgot password?\" on the sign-in page.",
    )
}

/// Spends a recovery link's token; the user it was issued for, if it was valid.
pub(super) async fn spend_link(
    services: &Services,
    flow_token: &str,
    audit: &AuditContext,
) -> Result<Option<UserId>, StoreError> {
    if flow_token.is_empty() || flow_token.len() > MAX_TOKEN_CHARS {
        return Ok(None);
    }
    let digest = services.digester.digest(flow_token);
    let token = services
        .store
        .spend_token(TokenIntent::Recovery, &digest, Utc::now(), audit)
        .await?;
    Ok(token.and_then(|t| t.user_id))
}
