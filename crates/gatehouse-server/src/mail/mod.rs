//! Outgoing email: the `email.*` configuration, the message templates, queuing messages in the
//! outbox (in the same transaction as the change that causes them), and the worker task that
//! delivers them over SMTP with lettre.

mod config;
mod delivery;
mod message;
mod queue;
mod sender;

pub use config::{EmailConfig, SmtpTls};
pub use delivery::{DeliveryReport, deliver_due, run_delivery};
pub use message::{MessageBody, seal_body};
pub use queue::{
    QueueError, enqueue_invitation, enqueue_recovery, enqueue_sent_recovery, enqueue_verification,
};
pub use sender::{SendError, Sender};
