//! The `email.*` settings: where the SMTP server is, how to reach it safely, and how hard to
//! retry. With no `email.host`, Gatehouse sends no mail and says so on the pages that need it.

use crate::config::Secret;
use serde::{Deserialize, Serialize};

/// How the SMTP connection is protected.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS, required (port 587).
    #[default]
    Starttls,
    /// TLS from the first byte, "SMTPS" (port 465).
    Tls,
    /// No encryption: only for a relay on the same host or a test sink.
    None,
}

impl SmtpTls {
    /// The usual port for this mode.
    pub fn default_port(self) -> u16 {
        match self {
            Self::Starttls => 587,
            Self::Tls => 465,
            Self::None => 25,
        }
    }
}

/// Outgoing email settings.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct EmailConfig {
    /// SMTP server host name; unset means "no email".
    pub host: Option<String>,
    /// SMTP port; defaults to the usual port of the `tls` mode (587, 465 or 25).
    pub port: Option<u16>,
    /// SMTP user name, if the server wants authentication.
    pub username: Option<String>,
    /// SMTP password (`env://` and `file://` work as for every secret).
    pub password: Option<Secret>,
    /// `starttls`, `tls` (implicit) or `none`.
    pub tls: SmtpTls,
    /// The sender address, e.g. `Gatehouse <gatehouse@example.com>`.
    pub from: Option<String>,
    /// Seconds to wait for the SMTP server on each step.
    pub timeout_secs: u64,
    /// Delivery attempts before a message is given up (with an audit event).
    pub max_attempts: u32,
    /// Seconds to wait after the first failed attempt; doubles after each further failure.
    pub retry_base_secs: u64,
    /// Milliseconds between checks of the outbox for due messages.
    pub poll_interval_ms: u64,
}

impl Default for EmailConfig {
    fn default() -> Self {
        Self {
            host: None,
            port: None,
            username: None,
            password: None,
            tls: SmtpTls::Starttls,
            from: None,
            timeout_secs: 10,
            max_attempts: 8,
            retry_base_secs: 30,
            poll_interval_ms: 1000,
        }
    }
}

impl EmailConfig {
    /// Whether an SMTP server is configured.
    pub fn is_configured(&self) -> bool {
        self.host.is_some()
    }

    /// The port to connect to.
    pub fn effective_port(&self) -> u16 {
        self.port.unwrap_or(self.tls.default_port())
    }

    /// The retry policy for the outbox.
    pub fn retry_policy(&self) -> gatehouse_core::RetryPolicy {
        gatehouse_core::RetryPolicy {
            max_attempts: self.max_attempts.max(1),
            base_delay: chrono::Duration::seconds(
                i64::try_from(self.retry_base_secs.max(1)).unwrap_or(i64::MAX / 4_000),
            ),
            max_delay: chrono::Duration::hours(1),
        }
    }

    /// Rules spanning several `email.*` keys; the message names the key.
    pub(crate) fn check(&self) -> Result<(), String> {
        let Some(host) = &self.host else {
            return Ok(());
        };
        if host.trim().is_empty() {
            return Err("email.host: is empty (unset it to send no email)".into());
        }
        match &self.from {
            None => return Err("email.from: is required when email.host is set".into()),
            Some(from) => {
                if from.parse::<lettre::message::Mailbox>().is_err() {
                    return Err(format!(
                        "email.from: {from:?} is not an email address (e.g. `Gatehouse <gatehouse@example.com>`)"
                    ));
                }
            }
        }
        if self.username.is_some() != self.password.is_some() {
            return Err("email.username and email.password: set both or neither".into());
        }
        if self.tls == SmtpTls::None && self.password.is_some() && !is_local(host) {
            return Err(format!(
                "email.tls: `none` would send the SMTP password unencrypted to {host}; use `starttls` or `tls`"
            ));
        }
        if self.timeout_secs == 0 {
            return Err("email.timeout_secs: must be at least 1".into());
        }
        if self.poll_interval_ms == 0 {
            return Err("email.poll_interval_ms: must be at least 1".into());
        }
        Ok(())
    }
}

/// Whether `host` names this machine.
fn is_local(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn configured() -> EmailConfig {
        EmailConfig {
            host: Some("smtp.example.com".into()),
            from: Some("Gatehouse <gatehouse@example.com>".into()),
            ..EmailConfig::default()
        }
    }

    #[test]
    fn unconfigured_is_fine_and_reports_so() {
        let config = EmailConfig::default();
        assert!(config.check().is_ok());
        assert!(!config.is_configured());
    }

    #[test]
    fn needs_a_valid_sender() {
        let mut config = configured();
        assert!(config.check().is_ok());
        config.from = None;
        assert!(
            config
                .check()
                .expect_err("refused")
                .starts_with("email.from")
        );
        config.from = Some("not an address".into());
        assert!(
            config
                .check()
                .expect_err("refused")
                .starts_with("email.from")
        );
    }

    #[test]
    fn refuses_a_password_in_clear_to_a_remote_host() {
        let mut config = configured();
        config.tls = SmtpTls::None;
        config.username = Some("mailer".into());
        config.password = Some(Secret::new("pw"));
        assert!(
            config
                .check()
                .expect_err("refused")
                .starts_with("email.tls")
        );
        config.host = Some("127.0.0.1".into());
        assert!(config.check().is_ok());
    }

    #[test]
    fn ports_follow_the_tls_mode() {
        let mut config = configured();
        assert_eq!(config.effective_port(), 587);
        config.tls = SmtpTls::Tls;
        assert_eq!(config.effective_port(), 465);
        config.port = Some(2525);
        assert_eq!(config.effective_port(), 2525);
    }
}
