//! SMTP delivery with lettre over tokio and rustls (on aws-lc-rs, like the rest of our TLS):
//! STARTTLS (required, never silently skipped), implicit TLS, or plain for a local relay.

use super::config::{EmailConfig, SmtpTls};
use super::message::MessageBody;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::time::Duration;

/// Why a message could not be sent.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The configuration cannot work (bad host or sender); retrying will not help.
    #[error("email configuration: {0}")]
    Config(String),
    /// The recipient address is not one lettre can send to; retrying will not help.
    #[error("invalid recipient address")]
    Recipient,
    /// The SMTP server refused for good (a 5xx reply).
    #[error("SMTP server refused the message: {0}")]
    Permanent(String),
    /// Anything that may pass: connection, TLS, timeout, a 4xx reply.
    #[error("SMTP delivery failed: {0}")]
    Transient(String),
}

impl SendError {
    /// Whether trying again later cannot succeed.
    pub fn is_permanent(&self) -> bool {
        !matches!(self, Self::Transient(_))
    }
}

/// A configured SMTP client; one per worker, reusing connections through lettre's pool.
#[derive(Clone)]
pub struct Sender {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender")
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

impl Sender {
    /// Builds the client from `email.*`; `Ok(None)` when no SMTP server is configured.
    pub fn from_config(config: &EmailConfig) -> Result<Option<Self>, SendError> {
        let Some(host) = &config.host else {
            return Ok(None);
        };
        let from: Mailbox = config
            .from
            .as_deref()
            .unwrap_or_default()
            .parse()
            .map_err(|_| SendError::Config("email.from is not an email address".into()))?;
        let builder = match config.tls {
            SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host),
            SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host),
            SmtpTls::None => Ok(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(
                host.as_str(),
            )),
        }
        .map_err(|e| SendError::Config(format!("email.host: {e}")))?;
        let mut builder = builder
            .port(config.effective_port())
            .timeout(Some(Duration::from_secs(config.timeout_secs.max(1))));
        if let (Some(user), Some(password)) = (&config.username, &config.password) {
            builder =
                builder.credentials(Credentials::new(user.clone(), password.expose().to_owned()));
        }
        Ok(Some(Self {
            transport: builder.build(),
            from,
        }))
    }

    /// Sends one message with a plain-text and an HTML part.
    pub async fn send(
        &self,
        recipient: &str,
        subject: &str,
        body: &MessageBody,
    ) -> Result<(), SendError> {
        let to: Mailbox = recipient.parse().map_err(|_| SendError::Recipient)?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .multipart(MultiPart::alternative_plain_html(
                body.text.clone(),
                body.html.clone(),
            ))
            .map_err(|e| SendError::Config(format!("cannot build the message: {e}")))?;
        match self.transport.send(message).await {
            Ok(_) => Ok(()),
            Err(error) if error.is_permanent() => Err(SendError::Permanent(error.to_string())),
            Err(error) => Err(SendError::Transient(error.to_string())),
        }
    }
}
