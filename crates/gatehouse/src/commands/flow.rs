//! `gatehouse flow …`: read-only views of the stored flows. Changing one is `apply`'s job, so
//! there is one way to edit them, reviewable with `--dry-run`.

use crate::cli::FlowCommand;
use anyhow::{Context, anyhow};
use gatehouse_flows::Flow;
use gatehouse_server::Services;
use gatehouse_server::declarative::Document;
use std::process::ExitCode;

pub(crate) async fn run(command: FlowCommand, services: Services) -> anyhow::Result<ExitCode> {
    match command {
        FlowCommand::List => {
            let defaults = gatehouse_flows::default_flows();
            println!(
                "{:<48} {:<20} {:>6}  STATE",
                "SLUG", "DESIGNATION", "STAGES"
            );
            for stored in services.store.flow_definitions().await? {
                let Ok(flow) = serde_json::from_value::<Flow>(stored.definition) else {
                    println!("{:<48} {:<20} {:>6}  unreadable", stored.slug, "-", "-");
                    continue;
                };
                let state = match defaults.iter().find(|d| d.slug == flow.slug) {
                    Some(default) if same(default, &flow) => "default",
                    Some(_) => "edited",
                    None => "custom",
                };
                println!(
                    "{:<48} {:<20} {:>6}  {state}",
                    flow.slug,
                    flow.designation.as_str(),
                    flow.bindings.len()
                );
            }
        }
        FlowCommand::Show { slug } => {
            let stored = services
                .store
                .flow_definition(&slug)
                .await?
                .ok_or_else(|| anyhow!("no flow {slug:?} (see `gatehouse flow list`)"))?;
            let flow: Flow = serde_json::from_value(stored.definition)
                .with_context(|| format!("the stored flow {slug:?} does not parse"))?;
            let document = Document {
                flows: vec![flow],
                ..Document::default()
            };
            print!("{}", document.to_yaml()?);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn same(a: &Flow, b: &Flow) -> bool {
    serde_json::to_value(a).ok() == serde_json::to_value(b).ok()
}
