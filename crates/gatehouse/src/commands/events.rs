//! `gatehouse events`: the audit log from the shell, filtered as on the admin events page,
//! for operators who script their checks or have no browser at hand.

use anyhow::{anyhow, bail};
use clap::Args;
use gatehouse_core::{EventAction, EventQuery};
use gatehouse_server::Services;
use std::process::ExitCode;

/// Filters of `gatehouse events`.
#[derive(Args, Debug)]
pub(crate) struct EventsArgs {
    /// Only this action (e.g. `login_failed`, `model_deleted`).
    #[arg(long)]
    action: Option<String>,
    /// Only events done by this user.
    #[arg(long)]
    user: Option<String>,
    /// Only events from this client address.
    #[arg(long)]
    client_ip: Option<String>,
    /// Only events at or after this time (RFC 3339, e.g. `2026-11-29T00:00:00Z`).
    #[arg(long)]
    since: Option<String>,
    /// Only events before this time (RFC 3339).
    #[arg(long)]
    until: Option<String>,
    /// How many to print (at most 500).
    #[arg(long, default_value_t = 50)]
    limit: u64,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Prints the newest events matching the filters.
pub(crate) async fn run(args: EventsArgs, services: Services) -> anyhow::Result<ExitCode> {
    let action = match args.action.as_deref() {
        Some(name) => Some(EventAction::parse(name).ok_or_else(|| {
            anyhow!("--action: unknown action {name:?} (e.g. login, login_failed, model_created)")
        })?),
        None => None,
    };
    let actor_id = match args.user.as_deref() {
        Some(username) => Some(super::user::find(&services, username).await?.id),
        None => None,
    };
    let time = |flag: &str, value: Option<&str>| {
        value
            .map(|v| {
                chrono::DateTime::parse_from_rfc3339(v)
                    .map(|t| t.to_utc())
                    .map_err(|_| anyhow!("--{flag}: {v:?} is not an RFC 3339 time"))
            })
            .transpose()
    };
    if !(1..=500).contains(&args.limit) {
        bail!("--limit: must be between 1 and 500");
    }
    let query = EventQuery {
        action,
        actor_id,
        client_ip: args.client_ip,
        since: time("since", args.since.as_deref())?,
        until: time("until", args.until.as_deref())?,
        limit: args.limit,
        ..EventQuery::default()
    };
    let page = services.store.list_events(&query).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&page.items)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<26} {:<22} {:<20} {:<16} CONTEXT",
        "TIME", "ACTION", "ACTOR", "CLIENT"
    );
    for event in &page.items {
        println!(
            "{:<26} {:<22} {:<20} {:<16} {}",
            event
                .created_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            event.action.as_str(),
            event.actor,
            event.client_ip.as_deref().unwrap_or("-"),
            serde_json::Value::Object(event.context.clone())
        );
    }
    println!("({} of {} matching events)", page.items.len(), page.total);
    Ok(ExitCode::SUCCESS)
}
