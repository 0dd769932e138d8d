//! `gatehouse invitation …`: enrollment invitations for administrators. The link printed by
//! `create` is the only copy of the token; the database keeps a keyed digest.

use crate::cli::{InvitationCommand, InvitationCreate};
use anyhow::{Context, bail};
use chrono::{DateTime, Duration, Utc};
use gatehouse_core::{AuditContext, InvitationStatus, TokenId};
use gatehouse_server::Services;
use gatehouse_server::invitations::{InvitationRequest, issue_invitation};
use std::process::ExitCode;

pub(crate) async fn run(
    command: InvitationCommand,
    services: Services,
) -> anyhow::Result<ExitCode> {
    let audit = AuditContext::cli();
    match command {
        InvitationCommand::Create(args) => create(args, &services, &audit).await?,
        InvitationCommand::List { json } => {
            let invitations = services.store.list_invitations().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&invitations)?);
            } else {
                let now = Utc::now();
                println!(
                    "{:<36} {:<28} {:<10} {:<8} {:<20} GROUPS",
                    "ID", "EMAIL", "USE", "STATUS", "EXPIRES"
                );
                for invitation in &invitations {
                    let status = match invitation.status_at(now) {
                        InvitationStatus::Usable => "usable",
                        InvitationStatus::Expired => "expired",
                        InvitationStatus::Used => "used",
                    };
                    let uses = if invitation.single_use {
                        format!("single/{}", invitation.use_count)
                    } else {
                        format!("multi/{}", invitation.use_count)
                    };
                    println!(
                        "{:<36} {:<28} {:<10} {:<8} {:<20} {}",
                        invitation.id,
                        invitation.fixed_email().unwrap_or("-"),
                        uses,
                        status,
                        invitation.expires_at.map_or("never".into(), |t| t
                            .format("%Y-%m-%d %H:%M UTC")
                            .to_string()),
                        if invitation.groups.is_empty() {
                            "-".into()
                        } else {
                            invitation.groups.join(",")
                        }
                    );
                }
                println!("({} invitations)", invitations.len());
            }
        }
        InvitationCommand::Delete { id } => {
            let id: TokenId = id
                .parse()
                .with_context(|| format!("{id:?} is not an invitation id"))?;
            services.store.delete_invitation(id, &audit).await?;
            println!("deleted invitation {id}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn create(
    args: InvitationCreate,
    services: &Services,
    audit: &AuditContext,
) -> anyhow::Result<()> {
    let expires_at = expiry(&args.expires, Utc::now())?;
    // Refuse before creating anything, so a failed --send leaves no unsent invitation behind.
    let send_to = if args.send {
        let Some(email) = args.email.clone() else {
            anyhow::bail!("--send needs --email: the address to send the invitation to");
        };
        if !services.config.email.is_configured() {
            anyhow::bail!(
                "--send needs email delivery: set email.host (see docs/configuration.md, \"Email\")"
            );
        }
        Some(email)
    } else {
        None
    };
    let issued = issue_invitation(
        services,
        InvitationRequest {
            flow: Some(args.flow),
            email: args.email,
            groups: args.groups,
            expires_at,
            multi_use: args.multi_use,
            created_by: None,
        },
        audit,
    )
    .await?;
    let invitation = &issued.invitation;
    eprintln!(
        "created invitation {} ({}, {}); the link is shown only now:",
        invitation.id,
        if invitation.single_use {
            "one account"
        } else {
            "several accounts"
        },
        invitation
            .expires_at
            .map_or("never expires".into(), |t| format!(
                "expires {}",
                t.to_rfc3339()
            )),
    );
    println!("{}", issued.link);
    if let Some(email) = send_to {
        gatehouse_server::mail::enqueue_invitation(
            services,
            &email,
            &issued.link,
            invitation.expires_at,
            None,
            audit,
        )
        .await
        .with_context(|| {
            format!("the invitation exists, but its email to {email} could not be queued")
        })?;
        eprintln!("queued the invitation email to {email}; the worker delivers it");
    }
    Ok(())
}

/// Parses `30m`, `12h`, `7d`, `2w` or `never` into an expiry time after `now`.
pub(crate) fn expiry(text: &str, now: DateTime<Utc>) -> anyhow::Result<Option<DateTime<Utc>>> {
    let text = text.trim();
    if text == "never" {
        return Ok(None);
    }
    let split = text.len().saturating_sub(1);
    let (number, unit) = text.split_at(split);
    let Ok(amount) = number.parse::<i64>() else {
        bail!("--expires: {text:?} is not a duration like 30m, 12h, 7d, 2w or never");
    };
    if amount <= 0 || amount > 100_000 {
        bail!("--expires: the amount must be between 1 and 100000");
    }
    let duration = match unit {
        "m" => Duration::minutes(amount),
        "h" => Duration::hours(amount),
        "d" => Duration::days(amount),
        "w" => Duration::weeks(amount),
        _ => bail!("--expires: {text:?} needs a unit: m, h, d or w (or never)"),
    };
    Ok(Some(now + duration))
}

#[cfg(test)]
mod tests {
    use super::expiry;
    use chrono::{Duration, Utc};

    #[test]
    fn expiry_durations() {
        let now = Utc::now();
        assert_eq!(
            expiry("7d", now).ok().flatten(),
            Some(now + Duration::days(7))
        );
        assert_eq!(
            expiry("30m", now).ok().flatten(),
            Some(now + Duration::minutes(30))
        );
        assert_eq!(
            expiry("2w", now).ok().flatten(),
            Some(now + Duration::weeks(2))
        );
        assert!(matches!(expiry("never", now), Ok(None)));
        for bad in ["", "d", "7", "0d", "-1d", "7y", "x7d", "9999999999d"] {
            assert!(expiry(bad, now).is_err(), "{bad:?}");
        }
    }
}
