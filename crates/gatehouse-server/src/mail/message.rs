//! The message templates (askama; a plain-text and a simple HTML part each) and the sealed
//! form in which bodies wait in the outbox: the links they carry are bearer secrets, so the
//! database holds them only encrypted under the secret key, and only until delivery.

use askama::Template;
use gatehouse_crypto::SecretBox;
use serde::{Deserialize, Serialize};

/// The secret-box context of outbox bodies (keeps them from being opened as anything else).
const SEAL_CONTEXT: &str = "email-outbox-body";

/// A rendered message: the plain-text part and the HTML part.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageBody {
    /// `text/plain` part.
    pub text: String,
    /// `text/html` part.
    pub html: String,
}

impl std::fmt::Debug for MessageBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MessageBody(..)")
    }
}

/// Encrypts a body for the outbox.
pub fn seal_body(secret_box: &SecretBox, body: &MessageBody) -> String {
    // Serialising two strings cannot fail.
    let json = serde_json::to_vec(body).unwrap_or_default();
    secret_box.seal(&json, SEAL_CONTEXT)
}

/// Decrypts a body from the outbox; `None` if it was sealed under another key or damaged.
pub(crate) fn open_body(secret_box: &SecretBox, sealed: &str) -> Option<MessageBody> {
    let json = secret_box.open(sealed, SEAL_CONTEXT).ok()?;
    serde_json::from_slice(&json).ok()
}

/// Renders both parts of a message; a template error is a bug, logged by the caller.
fn render(text: &impl Template, html: &impl Template) -> Result<MessageBody, askama::Error> {
    Ok(MessageBody {
        text: text.render()?,
        html: html.render()?,
    })
}

/// What the recovery message says.
pub(crate) struct RecoveryFacts<'a> {
    pub(crate) brand: &'a str,
    pub(crate) subject: &'a str,
    pub(crate) name: &'a str,
    pub(crate) username: &'a str,
    pub(crate) link: &'a str,
    pub(crate) minutes: u32,
}

#[derive(Template)]
#[template(path = "email/recovery.txt")]
struct RecoveryText<'a> {
    brand: &'a str,
    name: &'a str,
    username: &'a str,
    link: &'a str,
    minutes: u32,
}

#[derive(Template)]
#[template(path = "email/recovery.html")]
struct RecoveryHtml<'a> {
    brand: &'a str,
    subject: &'a str,
    name: &'a str,
    username: &'a str,
    link: &'a str,
    minutes: u32,
}

/// The password recovery message.
pub(crate) fn recovery(facts: &RecoveryFacts<'_>) -> Result<MessageBody, askama::Error> {
    render(
        &RecoveryText {
            brand: facts.brand,
            name: facts.name,
            username: facts.username,
            link: facts.link,
            minutes: facts.minutes,
        },
        &RecoveryHtml {
            brand: facts.brand,
            subject: facts.subject,
            name: facts.name,
            username: facts.username,
            link: facts.link,
            minutes: facts.minutes,
        },
    )
}

#[derive(Template)]
#[template(path = "email/verification.txt")]
struct VerificationText<'a> {
    brand: &'a str,
    name: &'a str,
    link: &'a str,
    minutes: u32,
}

#[derive(Template)]
#[template(path = "email/verification.html")]
struct VerificationHtml<'a> {
    brand: &'a str,
    subject: &'a str,
    name: &'a str,
    link: &'a str,
    minutes: u32,
}

/// The address verification message.
pub(crate) fn verification(
    brand: &str,
    subject: &str,
    name: &str,
    link: &str,
    minutes: u32,
) -> Result<MessageBody, askama::Error> {
    render(
        &VerificationText {
            brand,
            name,
            link,
            minutes,
        },
        &VerificationHtml {
            brand,
            subject,
            name,
            link,
            minutes,
        },
    )
}

#[derive(Template)]
#[template(path = "email/invitation.txt")]
struct InvitationText<'a> {
    brand: &'a str,
    link: &'a str,
    days: Option<i64>,
}

#[derive(Template)]
#[template(path = "email/invitation.html")]
struct InvitationHtml<'a> {
    brand: &'a str,
    subject: &'a str,
    link: &'a str,
    days: Option<i64>,
}

/// The invitation message.
pub(crate) fn invitation(
    brand: &str,
    subject: &str,
    link: &str,
    days: Option<i64>,
) -> Result<MessageBody, askama::Error> {
    render(
        &InvitationText { brand, link, days },
        &InvitationHtml {
            brand,
            subject,
            link,
            days,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_escapes_html_but_not_text() {
        let body = recovery(&RecoveryFacts {
            brand: "Gatehouse",
            subject: "Reset your password",
            name: "<Alice>",
            username: "alice",
            link: "https://id.example.com/if/flow/default-recovery-flow/?flow_token=abc&x=1",
            minutes: 30,
        })
        .expect("renders");
        assert!(body.text.contains("Hello <Alice>,"));
        assert!(body.text.contains("?flow_token=abc&x=1"));
        assert!(!body.html.contains("<Alice>") && body.html.contains("Alice"));
        assert!(
            body.html.contains("flow_token=abc&amp;x=1")
                || body.html.contains("flow_token=abc&#38;x=1")
        );
        assert!(body.html.contains("30 minutes"));
    }

    #[test]
    fn bodies_round_trip_sealed() {
        let key = gatehouse_crypto::SecretKey::from_configured(
            "0123456789abcdef0123456789abcdef0123456789",
        )
        .expect("key");
        let secret_box = SecretBox::new(&key);
        let body =
            invitation("Gatehouse", "Join", "https://x.example/i?t=1", Some(7)).expect("renders");
        let sealed = seal_body(&secret_box, &body);
        assert!(!sealed.contains("x.example"));
        assert_eq!(open_body(&secret_box, &sealed), Some(body));
        assert_eq!(open_body(&secret_box, "garbage"), None);
    }
}
