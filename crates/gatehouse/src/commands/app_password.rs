//! `gatehouse user app-password …` and `gatehouse user api-token …`: app passwords are the
//! secrets a service account sends as `password` with `username` in the client_credentials
//! grant; API tokens are bearer credentials for the admin API. Only a keyed digest of either
//! is stored, so the secret is printed once, at creation.

use crate::cli::UserSecretCommand;
use crate::commands::invitation::expiry;
use crate::commands::user::find;
use anyhow::{Context, bail};
use chrono::Utc;
use gatehouse_core::{AuditContext, NewToken, TokenId, TokenIntent, UserType};
use gatehouse_server::Services;

pub(crate) async fn run(
    command: UserSecretCommand,
    services: &Services,
    intent: TokenIntent,
) -> anyhow::Result<()> {
    let audit = AuditContext::cli();
    let label = match intent {
        TokenIntent::Api => "API token",
        _ => "app password",
    };
    match command {
        UserSecretCommand::Create {
            username,
            name,
            expires,
        } => {
            let user = find(services, &username).await?;
            if intent == TokenIntent::AppPassword && user.user_type != UserType::ServiceAccount {
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
                        intent,
                        user_id: Some(user.id),
                        description: name.unwrap_or_else(|| label.to_owned()),
                        digest: services.digester.digest(&secret),
                        expires_at,
                        state: None,
                    },
                    &audit,
                )
                .await?;
            eprintln!(
                "created {label} {} for {username} ({}); it is shown only now:",
                token.id,
                token.expires_at.map_or("never expires".into(), |t| format!(
                    "expires {}",
                    t.to_rfc3339()
                )),
            );
            println!("{secret}");
        }
        UserSecretCommand::List { username, json } => {
            let passwords = secrets_of(services, &username, intent).await?;
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
        UserSecretCommand::Delete { username, id } => {
            let id: TokenId = id
                .parse()
                .with_context(|| format!("{id:?} is not an {label} id"))?;
            if !secrets_of(services, &username, intent)
                .await?
                .iter()
                .any(|t| t.id == id)
            {
                bail!("{username} has no {label} {id}");
            }
            services.store.delete_token(id, &audit).await?;
            println!("deleted {label} {id}");
        }
    }
    Ok(())
}

async fn secrets_of(
    services: &Services,
    username: &str,
    intent: TokenIntent,
) -> anyhow::Result<Vec<gatehouse_core::Token>> {
    let user = find(services, username).await?;
    Ok(services
        .store
        .list_tokens(Some(user.id))
        .await?
        .into_iter()
        .filter(|t| t.intent == intent)
        .collect())
}
