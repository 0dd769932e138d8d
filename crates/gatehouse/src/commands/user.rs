//! `gatehouse user …`

use crate::cli::{ListArgs, UserCommand, UserCreate};
use anyhow::{Context, anyhow, bail};
use gatehouse_core::{
    AuditContext, ListQuery, NewUser, TokenIntent, User, UserPatch, UserType, password_policy,
};
use gatehouse_server::Services;
use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;

pub(crate) async fn run(command: UserCommand, services: Services) -> anyhow::Result<ExitCode> {
    let audit = AuditContext::cli();
    let store = &services.store;
    match command {
        UserCommand::Create(args) => create(args, &services, &audit).await?,
        UserCommand::List(args) => list(args, &services).await?,
        UserCommand::Show { username, json } => {
            let user = find(&services, &username).await?;
            let groups = store.direct_groups(user.id).await?;
            let effective = store.effective_groups(user.id).await?;
            if json {
                let mut value = serde_json::to_value(&user)?;
                value["groups"] = groups.iter().map(|g| g.name.clone()).collect();
                value["effective_groups"] = effective.iter().map(|g| g.name.clone()).collect();
                value["has_password"] = user.password_hash.is_some().into();
                println!("{}", serde_json::to_string_pretty(&value)?);
            } else {
                println!("id:               {}", user.id);
                println!("username:         {}", user.username);
                println!("name:             {}", user.name);
                println!(
                    "email:            {}{}",
                    user.email.as_deref().unwrap_or("-"),
                    if user.email_verified {
                        " (verified)"
                    } else {
                        ""
                    }
                );
                println!("type:             {}", user.user_type.as_str());
                println!("active:           {}", user.active);
                println!(
                    "password:         {}",
                    if user.password_hash.is_some() {
                        "set"
                    } else {
                        "not set"
                    }
                );
                println!("groups:           {}", names(&groups));
                println!("effective groups: {}", names(&effective));
                println!("created:          {}", user.created_at.to_rfc3339());
                println!(
                    "last login:       {}",
                    user.last_login.map_or("never".into(), |t| t.to_rfc3339())
                );
            }
        }
        UserCommand::SetPassword { username } => {
            let user = find(&services, &username).await?;
            let password = read_password()?;
            check_strength(&password, &user.username, user.email.as_deref())?;
            let hash = services.hasher.hash(password).await?;
            store.set_password_hash(user.id, Some(hash), &audit).await?;
            println!("password set for {}", user.username);
        }
        UserCommand::Deactivate { username } => {
            set_active(&services, &username, false, &audit).await?
        }
        UserCommand::Activate { username } => {
            set_active(&services, &username, true, &audit).await?
        }
        UserCommand::Delete { username, yes } => {
            let user = find(&services, &username).await?;
            if !yes {
                if !std::io::stdin().is_terminal() {
                    bail!("refusing to delete {username} without --yes");
                }
                eprint!("Delete user {username}? Type the username to confirm: ");
                let mut answer = String::new();
                std::io::stdin().lock().read_line(&mut answer)?;
                if answer.trim() != username {
                    bail!("not confirmed; nothing deleted");
                }
            }
            store.delete_user(user.id, &audit).await?;
            services.user_sessions_ended(user.id).await;
            println!("deleted user {username}");
        }
        UserCommand::AppPassword(command) => {
            super::app_password::run(command, &services, TokenIntent::AppPassword).await?
        }
        UserCommand::ApiToken(command) => {
            super::app_password::run(command, &services, TokenIntent::Api).await?
        }
        UserCommand::Unlink { .. }
        | UserCommand::Sessions { .. }
        | UserCommand::EndSessions { .. }
        | UserCommand::Devices { .. }
        | UserCommand::RemoveDevice { .. }
        | UserCommand::SendRecovery { .. } => super::user_access::run(command, &services).await?,
        UserCommand::Connections { username, json } => {
            let user = find(&services, &username).await?;
            let connections = store.source_connections_of(user.id).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&connections)?);
            } else {
                println!(
                    "{:<20} {:<24} {:<20} {:<26} GROUPS",
                    "SOURCE", "UPSTREAM ID", "UPSTREAM USER", "LAST LOGIN"
                );
                for c in &connections {
                    println!(
                        "{:<20} {:<24} {:<20} {:<26} {}",
                        c.source_slug,
                        c.upstream_id,
                        c.upstream_username.as_deref().unwrap_or("-"),
                        c.last_login.map_or("never".into(), |t| t.to_rfc3339()),
                        c.synced_groups.join(", ")
                    );
                }
                println!("({} connections)", connections.len());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn create(args: UserCreate, services: &Services, audit: &AuditContext) -> anyhow::Result<()> {
    let user_type = UserType::parse(&args.user_type).map_err(|e| anyhow!(e))?;
    let password_hash = if args.password_stdin {
        let password = read_password()?;
        check_strength(&password, &args.username, args.email.as_deref())?;
        Some(services.hasher.hash(password).await?)
    } else {
        None
    };
    let user = services
        .store
        .create_user(
            NewUser {
                name: args.name.unwrap_or_default(),
                email: args.email,
                user_type,
                password_hash,
                groups: args.groups,
                ..NewUser::named(args.username)
            },
            audit,
        )
        .await?;
    println!("created user {} ({})", user.username, user.id);
    Ok(())
}

async fn list(args: ListArgs, services: &Services) -> anyhow::Result<()> {
    let page = services
        .store
        .list_users(&ListQuery {
            search: args.search,
            limit: args.limit,
            offset: args.offset,
            ..ListQuery::default()
        })
        .await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&page)?);
        return Ok(());
    }
    println!(
        "{:<24} {:<32} {:<16} {:<6}",
        "USERNAME", "EMAIL", "TYPE", "ACTIVE"
    );
    for user in &page.items {
        println!(
            "{:<24} {:<32} {:<16} {:<6}",
            user.username,
            user.email.as_deref().unwrap_or("-"),
            user.user_type.as_str(),
            if user.active { "yes" } else { "no" }
        );
    }
    println!("({} of {} users)", page.items.len(), page.total);
    Ok(())
}

async fn set_active(
    services: &Services,
    username: &str,
    active: bool,
    audit: &AuditContext,
) -> anyhow::Result<()> {
    let user = find(services, username).await?;
    services
        .store
        .update_user(
            user.id,
            UserPatch {
                active: Some(active),
                ..UserPatch::default()
            },
            audit,
        )
        .await?;
    if !active {
        services.user_sessions_ended(user.id).await;
    }
    println!(
        "{} {username}",
        if active { "activated" } else { "deactivated" }
    );
    Ok(())
}

pub(crate) async fn find(services: &Services, username: &str) -> anyhow::Result<User> {
    services
        .store
        .user_by_username(username)
        .await?
        .ok_or_else(|| anyhow!("user {username:?} not found"))
}

fn names(groups: &[gatehouse_core::Group]) -> String {
    if groups.is_empty() {
        return "-".into();
    }
    groups
        .iter()
        .map(|g| g.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Reads one line from standard input (no echo handling: pipe it, or use a terminal).
fn read_password() -> anyhow::Result<String> {
    if std::io::stdin().is_terminal() {
        eprint!("Password: ");
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the password from standard input")?;
    let password = line.trim_end_matches(['\n', '\r']).to_owned();
    if password.is_empty() {
        bail!("no password given on standard input");
    }
    Ok(password)
}

fn check_strength(password: &str, username: &str, email: Option<&str>) -> anyhow::Result<()> {
    let mut identifiers = vec![username];
    identifiers.extend(email);
    password_policy::check(password, &identifiers).map_err(|e| anyhow!("password {}", e.message))
}
