//! `gatehouse import dex FILE`: translate another identity provider's configuration and
//! apply it like a document, printing what was imported, what was not, and why.

use super::apply::apply_document;
use anyhow::Context;
use gatehouse_server::Services;
use gatehouse_server::declarative::Snapshot;
use gatehouse_server::import::dex;
use std::path::Path;
use std::process::ExitCode;

pub(crate) async fn dex(
    file: &Path,
    dry_run: bool,
    services: Services,
) -> anyhow::Result<ExitCode> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let snapshot = Snapshot::read(services.store.as_ref()).await?;
    let env = |name: &str| std::env::var(name).ok();
    let mut translation = match dex::import(&text, &env, &snapshot, &services.config.base_url()) {
        Ok(translation) => translation,
        Err(error) => {
            eprintln!("gatehouse: {}: {error}", file.display());
            eprintln!("nothing was imported");
            return Ok(ExitCode::from(2));
        }
    };
    translation.report.dex_alias = gatehouse_server::oidc::issuer::dex_alias_issuer(&services);
    print!("{}", translation.report);
    println!();
    println!("Changes:");
    apply_document(
        &translation.document,
        &snapshot,
        &file.display().to_string(),
        dry_run,
        &services,
    )
    .await
}
