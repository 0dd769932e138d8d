//! `gatehouse apply` and `gatehouse export`.

use anyhow::{Context, anyhow};
use gatehouse_core::AuditContext;
use gatehouse_server::Services;
use gatehouse_server::declarative::{self, Document, Snapshot};
use std::io::Read;
use std::path::Path;
use std::process::ExitCode;

pub(crate) async fn apply(
    file: &Path,
    dry_run: bool,
    services: Services,
) -> anyhow::Result<ExitCode> {
    let text = if file == Path::new("-") {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text)?;
        text
    } else {
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?
    };
    let document = match Document::parse(&text) {
        Ok(document) => document,
        Err(error) => {
            eprintln!("gatehouse: {}: {error}", file.display());
            return Ok(ExitCode::from(2));
        }
    };
    let snapshot = Snapshot::read(services.store.as_ref()).await?;
    apply_document(
        &document,
        &snapshot,
        &file.display().to_string(),
        dry_run,
        &services,
    )
    .await
}

/// Plans `document` against `snapshot`, prints the changes and, unless `dry_run`, applies
/// them in one transaction; `origin` names the document in error messages. Shared by
/// `apply` and the importers, so an import is exactly an apply of what it translated.
pub(crate) async fn apply_document(
    document: &Document,
    snapshot: &Snapshot,
    origin: &str,
    dry_run: bool,
    services: &Services,
) -> anyhow::Result<ExitCode> {
    let changes = match declarative::plan(
        document,
        snapshot,
        &services.hasher,
        &services.digester,
        &services.secret_box,
    )
    .await
    {
        Ok(changes) => changes,
        Err(error) => {
            eprintln!("gatehouse: {origin}: {error}");
            eprintln!("nothing was changed");
            return Ok(ExitCode::from(2));
        }
    };
    if changes.is_empty() {
        println!("no changes");
        return Ok(ExitCode::SUCCESS);
    }
    for change in &changes {
        println!("{change}");
    }
    if dry_run {
        println!(
            "{} change(s) planned; dry run, nothing written",
            changes.len()
        );
        return Ok(ExitCode::SUCCESS);
    }
    services
        .apply_changes(&changes, &AuditContext::cli())
        .await
        .map_err(|e| anyhow!("{e}; nothing was changed"))?;
    println!("{} change(s) applied", changes.len());
    ensure_signing_keys(&changes, services).await?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn export(output: Option<&Path>, services: Services) -> anyhow::Result<ExitCode> {
    let snapshot = Snapshot::read(services.store.as_ref()).await?;
    let yaml = declarative::export(&snapshot).to_yaml()?;
    let header = "# Gatehouse export: contains password hashes; keep it as safe as the database.\n";
    match output {
        None => print!("{header}{yaml}"),
        Some(path) => {
            write_private(path, &format!("{header}{yaml}"))
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!("exported to {}", path.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(text.as_bytes())
}

/// Creates the signing key of every algorithm an applied application uses, as `app create`
/// does, so its JWKS lists the key before the first token is signed.
async fn ensure_signing_keys(
    changes: &[gatehouse_core::Change],
    services: &Services,
) -> anyhow::Result<()> {
    use gatehouse_core::Change;
    let mut algs = Vec::new();
    for change in changes {
        let provider = match change {
            Change::CreateApplication(app) => app.oauth2.as_ref(),
            Change::UpdateApplication { patch, .. } => patch.oauth2.as_ref(),
            _ => None,
        };
        if let Some(provider) = provider
            && !algs.contains(&provider.signing_alg)
        {
            algs.push(provider.signing_alg);
        }
    }
    for alg in algs {
        gatehouse_server::oidc::keys::ensure_key(services, alg)
            .await
            .context("cannot create a signing key")?;
    }
    Ok(())
}
