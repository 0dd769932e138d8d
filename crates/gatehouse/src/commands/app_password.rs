//! `gatehouse user app-password …`: app passwords are the secrets a service account sends as
//! `password` with `username` in the client_credentials grant. Only a keyed digest is
//! stored, so the secret is printed once, at creation.

use crate::cli::AppPasswordCommand;
use crate::commands::invitation::expiry;
use crate::commands::user::find;
use anyhow::{Context, bail};
use chrono::Utc;
use gatehouse_core::{AuditContext, NewToken, TokenId, TokenIntent, UserType};
use gatehouse_server::Services;

pub(crate) async fn run(command: AppPasswordCommand, services: &Services) -> anyhow::Result<()> {
    let audit = AuditContext::cli();
    match command {
        AppPasswordCommand::Create {
            username,
            name,
            expires,
        } => {
            let user = find(services, &username).await?;
            if user.user_type != UserType::ServiceAccount {
                bail!(
                    "{username} is not a service account; app passwords only work for users created with --type service_account"
                );
            }
            let expires_at = expiry(&expires, Utc::now())?;
            let secret = gatehouse_crypto::generate_token("");
            let token = services
                .store
                .create_token(
                    NewToken {
                        intent: TokenIntent::AppPassword,
                        user_id: Some(user.id),
                        description: name,
                        digest: services.digester.digest(&secret),
                        expires_at,
                        state: None,
                    },
                    &audit,
                )
                .await?;
            eprintln!(
                "created app password {} for {username} ({}); it is shown only now:",
                token.id,
                token.expires_at.map_or("never expires".into(), |t| format!(
                    "expires {}",
                    t.to_rfc3339()
                )),
            );
            println!("{secret}");
        }
        AppPasswordCommand::List { username, json } => {
            let passwords = app_passwords(services, &username).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&passwords)?);
                return Ok(());
            }
            println!(
                "{:<38} {:<24} {:<26} {:<26}",
                "ID", "NAME", "CREATED", "EXPIRES"
            );
            for token in &passwords {
                println!(
                    "{:<38} {:<24} {:<26} {:<26}",
                    token.id,
                    token.description,
                    token.created_at.to_rfc3339(),
                    token.expires_at.map_or("never".into(), |t| t.to_rfc3339()),
                );
            }
        }
        AppPasswordCommand::Delete { username, id } => {
            let id: TokenId = id
                .parse()
                .with_context(|| format!("{id:?} is not an app password id"))?;
            if !app_passwords(services, &username)
                .await?
                .iter()
                .any(|t| t.id == id)
            {
                bail!("{username} has no app password {id}");
            }
            services.store.delete_token(id, &audit).await?;
            println!("deleted app password {id}");
        }
    }
    Ok(())
}

async fn app_passwords(
    services: &Services,
    username: &str,
) -> anyhow::Result<Vec<gatehouse_core::Token>> {
    let user = find(services, username).await?;
    Ok(services
        .store
        .list_tokens(Some(user.id))
        .await?
        .into_iter()
        .filter(|t| t.intent == TokenIntent::AppPassword)
        .collect())
}
