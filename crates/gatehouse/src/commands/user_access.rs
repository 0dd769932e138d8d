//! `gatehouse user sessions|end-sessions|devices|remove-device|send-recovery|unlink`: what an
//! administrator does for a locked-out or compromised account in the admin UI, from the
//! shell. The changes are the admin services' own (`end_session_of`, `remove_device_of`,
//! `unlink_of`, `enqueue_sent_recovery`), with their audit events; only the rights check is
//! left out, since the operator at the shell holds every right.

use super::user::find;
use crate::cli::UserCommand;
use anyhow::{anyhow, bail};
use gatehouse_core::{AuditContext, DeviceId, SessionId};
use gatehouse_server::Services;
use gatehouse_server::admin::{AdminError, sources, users};
use serde_json::json;

/// Runs one of the account-access subcommands of `gatehouse user`.
pub(crate) async fn run(command: UserCommand, services: &Services) -> anyhow::Result<()> {
    let audit = AuditContext::cli();
    let store = &services.store;
    match command {
        UserCommand::Sessions { username, json } => {
            let user = find(services, &username).await?;
            let sessions = store.sessions_of(user.id).await?;
            if json {
                let rows: Vec<_> = sessions
                    .iter()
                    .map(|s| {
                        json!({
                            "id": s.id.to_string(),
                            "created_at": s.created_at,
                            "expires_at": s.expires_at,
                            "auth_time": s.auth_time,
                            "methods": s.auth_methods.iter().map(|m| m.as_str()).collect::<Vec<_>>(),
                            "client_ip": s.client_ip,
                            "user_agent": s.user_agent,
                        })
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                println!(
                    "{:<38} {:<26} {:<16} {:<14} USER AGENT",
                    "ID", "SIGNED IN", "CLIENT", "METHODS"
                );
                for s in &sessions {
                    let methods: Vec<_> = s.auth_methods.iter().map(|m| m.as_str()).collect();
                    println!(
                        "{:<38} {:<26} {:<16} {:<14} {}",
                        s.id,
                        s.auth_time
                            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                        s.client_ip.as_deref().unwrap_or("-"),
                        methods.join("+"),
                        s.user_agent.as_deref().unwrap_or("-")
                    );
                }
                println!("({} sessions)", sessions.len());
            }
        }
        UserCommand::EndSessions { username, session } => {
            let user = find(services, &username).await?;
            match session {
                Some(id) => {
                    let id: SessionId = id
                        .parse()
                        .map_err(|_| anyhow!("--session: {id:?} is not a session id"))?;
                    match users::end_session_of(services, &user, id, &audit).await {
                        Ok(()) => println!("ended session {id}"),
                        Err(AdminError::NotFound(_)) => bail!("{username} has no session {id}"),
                        Err(other) => return Err(other.into()),
                    }
                }
                None => {
                    let count = users::end_all_sessions_of(services, &user, &audit).await?;
                    println!("ended {count} sessions of {username}");
                }
            }
        }
        UserCommand::Devices { username, json } => {
            let user = find(services, &username).await?;
            let devices = store.devices_of(user.id).await?;
            if json {
                let rows: Vec<_> = devices
                    .iter()
                    .map(|d| {
                        json!({
                            "id": d.id.to_string(),
                            "kind": d.kind.as_str(),
                            "name": d.name,
                            "created_at": d.created_at,
                            "last_used_at": d.last_used_at,
                        })
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                println!("{:<38} {:<16} {:<26} NAME", "ID", "KIND", "LAST USED");
                for d in &devices {
                    println!(
                        "{:<38} {:<16} {:<26} {}",
                        d.id,
                        d.kind.as_str(),
                        d.last_used_at.map_or("never".into(), |t| t.to_rfc3339()),
                        d.name
                    );
                }
                println!("({} devices)", devices.len());
            }
        }
        UserCommand::RemoveDevice { username, id } => {
            let user = find(services, &username).await?;
            let device: DeviceId = id
                .parse()
                .map_err(|_| anyhow!("{id:?} is not a device id"))?;
            match users::remove_device_of(services, &user, device, &audit).await {
                Ok(found) => println!(
                    "removed {} device {:?} of {username}",
                    found.kind.as_str(),
                    found.name
                ),
                Err(AdminError::NotFound(_)) => bail!("{username} has no device {id}"),
                Err(other) => return Err(other.into()),
            }
        }
        UserCommand::SendRecovery { username } => {
            let user = find(services, &username).await?;
            gatehouse_server::mail::enqueue_sent_recovery(services, &user, &audit)
                .await
                .map_err(|e| anyhow!("cannot send {username} a recovery link: {e}"))?;
            println!(
                "queued a recovery link to {}",
                user.email.as_deref().unwrap_or_default()
            );
        }
        UserCommand::Unlink { username, source } => {
            let user = find(services, &username).await?;
            if store.source_by_slug(&source).await?.is_none() {
                bail!("source {source:?} not found");
            }
            match sources::unlink_of(services, &user, &source, &audit).await {
                Ok(()) => println!("unlinked {username} from {source}"),
                Err(AdminError::NotFound(_)) => bail!("{username} has no link at {source}"),
                Err(other) => return Err(other.into()),
            }
        }
        other => bail!("not an account-access command: {other:?}"),
    }
    Ok(())
}
