//! `gatehouse group …`

use super::user::find;
use crate::cli::GroupCommand;
use anyhow::anyhow;
use gatehouse_core::{AuditContext, Group, ListQuery, NewGroup};
use gatehouse_server::Services;
use std::process::ExitCode;

pub(crate) async fn run(command: GroupCommand, services: Services) -> anyhow::Result<ExitCode> {
    let audit = AuditContext::cli();
    let store = &services.store;
    match command {
        GroupCommand::Create {
            name,
            parent,
            superuser,
        } => {
            let group = store
                .create_group(
                    NewGroup {
                        parent,
                        is_superuser: superuser,
                        ..NewGroup::named(name)
                    },
                    &audit,
                )
                .await?;
            println!("created group {} ({})", group.name, group.id);
        }
        GroupCommand::List(args) => {
            let page = store
                .list_groups(&ListQuery {
                    search: args.search,
                    limit: args.limit,
                    offset: args.offset,
                    ..ListQuery::default()
                })
                .await?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&page)?);
            } else {
                let all = store.list_groups(&ListQuery::all()).await?.items;
                println!("{:<32} {:<32} {:<9}", "NAME", "PARENT", "SUPERUSER");
                for group in &page.items {
                    let parent = group
                        .parent_id
                        .and_then(|p| all.iter().find(|g| g.id == p))
                        .map_or("-", |g| g.name.as_str());
                    println!(
                        "{:<32} {:<32} {:<9}",
                        group.name,
                        parent,
                        if group.is_superuser { "yes" } else { "no" }
                    );
                }
                println!("({} of {} groups)", page.items.len(), page.total);
            }
        }
        GroupCommand::AddMember { group, username } => {
            let group = find_group(&services, &group).await?;
            let user = find(&services, &username).await?;
            store.add_member(group.id, user.id, &audit).await?;
            println!("added {username} to {}", group.name);
        }
        GroupCommand::RemoveMember { group, username } => {
            let group = find_group(&services, &group).await?;
            let user = find(&services, &username).await?;
            store.remove_member(group.id, user.id, &audit).await?;
            println!("removed {username} from {}", group.name);
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn find_group(services: &Services, name: &str) -> anyhow::Result<Group> {
    services
        .store
        .group_by_name(name)
        .await?
        .ok_or_else(|| anyhow!("group {name:?} not found"))
}
