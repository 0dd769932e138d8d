//! One module per command family; each opens only what it needs.

pub(crate) mod app;
mod app_password;
mod apply;
pub(crate) mod events;
mod flow;
mod group;
mod healthcheck;
mod import;
mod invitation;
pub(crate) mod key;
pub(crate) mod source;
mod user;
mod user_access;

use crate::cli::Command;
use anyhow::Context;
use gatehouse_server::lifecycle::{self, ServeOptions};
use gatehouse_server::{Config, Services, telemetry};
use std::process::ExitCode;

/// Runs a parsed command.
pub(crate) async fn run(command: Command, config: Config) -> anyhow::Result<ExitCode> {
    match command {
        Command::Serve { no_worker } => {
            telemetry::init_logging(&config.log);
            let services = Services::open(config).await?;
            lifecycle::serve(
                services,
                ServeOptions {
                    embedded_worker: !no_worker,
                },
            )
            .await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Worker => {
            telemetry::init_logging(&config.log);
            let services = Services::open(config).await?;
            lifecycle::run_worker(services).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::CheckConfig => {
            print!("{}", config.to_masked_yaml());
            Ok(ExitCode::SUCCESS)
        }
        Command::Healthcheck => healthcheck::run(&config).await,
        Command::Openapi => {
            let document = gatehouse_server::web::openapi_document();
            println!("{}", document.to_pretty_json()?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate => {
            let services = admin_services(config).await?;
            println!("migrations applied ({})", services.sql.backend());
            Ok(ExitCode::SUCCESS)
        }
        Command::User(command) => user::run(command, admin_services(config).await?).await,
        Command::Group(command) => group::run(command, admin_services(config).await?).await,
        Command::Flow(command) => flow::run(command, admin_services(config).await?).await,
        Command::Invitation(command) => {
            invitation::run(command, admin_services(config).await?).await
        }
        Command::App(command) => app::run(command, admin_services(config).await?).await,
        Command::Key(command) => key::run(command, admin_services(config).await?).await,
        Command::Events(args) => events::run(args, admin_services(config).await?).await,
        Command::Source(command) => source::run(command, admin_services(config).await?).await,
        Command::Apply { file, dry_run } => {
            apply::apply(&file, dry_run, admin_services(config).await?).await
        }
        Command::Import(crate::cli::ImportCommand::Dex { file, dry_run }) => {
            import::dex(&file, dry_run, admin_services(config).await?).await
        }
        Command::Export { output } => {
            apply::export(output.as_deref(), admin_services(config).await?).await
        }
    }
}

/// Opens storage for an admin command, with warnings-only logging, and brings the schema up
/// to date so commands work on a fresh data directory.
async fn admin_services(mut config: Config) -> anyhow::Result<Services> {
    config.log.level = std::env::var("GATEHOUSE_LOG__LEVEL").unwrap_or_else(|_| "warn".into());
    telemetry::init_logging(&config.log);
    let services = Services::open(config).await?;
    services
        .sql
        .migrate()
        .await
        .context("cannot prepare the database")?;
    gatehouse_server::prepare::seed_default_flows(&services)
        .await
        .context("cannot store the default flows")?;
    // Changes made here are published to the servers' caches through Redis when it is
    // configured; connect before the first one.
    if services.redis.is_some() {
        services.await_redis().await;
    }
    Ok(services)
}
