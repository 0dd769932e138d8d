//! `gatehouse key …`: the signing keys of ID tokens and JWT access tokens. `rotate` makes a
//! new active key and keeps the previous one in JWKS until every token it signed has expired,
//! so relying parties never see a token they cannot verify.

use anyhow::{anyhow, bail};
use clap::Subcommand;
use gatehouse_core::{AuditContext, KeyAlgorithm};
use gatehouse_server::Services;
use gatehouse_server::oidc::keys;
use serde_json::json;
use std::process::ExitCode;

/// `gatehouse key` subcommands.
#[derive(Subcommand, Debug)]
pub(crate) enum KeyCommand {
    /// List signing keys: active, and retired ones still published for verification.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Make a new active signing key; the previous one of that algorithm is retired and
    /// stays in JWKS until the longest token lifetime of any application has passed.
    Rotate {
        /// RS256, ES256 or EdDSA.
        #[arg(long, default_value = "RS256")]
        alg: String,
    },
    /// Make a private key from a PEM file the active key of its algorithm (RS256 for RSA,
    /// ES256 for P-256, EdDSA for Ed25519), retiring the previous one as `rotate` does: e.g.
    /// to keep signing with the key of the IdP Gatehouse replaces.
    Import {
        /// The PEM file (`-` reads standard input): PKCS#8, PKCS#1 RSA or SEC1 EC.
        file: std::path::PathBuf,
        /// A name for the key (default `imported-<alg>-<time>`).
        #[arg(long)]
        name: Option<String>,
    },
}

pub(crate) async fn run(command: KeyCommand, services: Services) -> anyhow::Result<ExitCode> {
    match command {
        KeyCommand::List { json } => {
            let keys = services.store.signing_keys().await?;
            let rows: Vec<_> = keys
                .iter()
                .map(|k| {
                    json!({
                        "kid": k.id.to_string(),
                        "name": k.name,
                        "alg": k.algorithm.as_str(),
                        "created_at": k.created_at,
                        "retired_at": k.retired_at,
                        "verify_until": k.verify_until,
                    })
                })
                .collect();
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                println!("{:<38} {:<6} {:<10} VERIFY UNTIL", "KID", "ALG", "STATE");
                for k in &keys {
                    let state = if k.retired_at.is_some() {
                        "retired"
                    } else {
                        "active"
                    };
                    let until = k.verify_until.map(|t| t.to_rfc3339()).unwrap_or_default();
                    println!(
                        "{:<38} {:<6} {state:<10} {until}",
                        k.id,
                        k.algorithm.as_str()
                    );
                }
            }
        }
        KeyCommand::Rotate { alg } => {
            let Some(alg) = KeyAlgorithm::parse(&alg) else {
                bail!("alg: must be RS256, ES256 or EdDSA");
            };
            let rotated = keys::rotate(&services, alg, &AuditContext::cli())
                .await
                .map_err(|e| anyhow!("cannot rotate the {} key: {e}", alg.as_str()))?;
            report(rotated);
        }
        KeyCommand::Import { file, name } => {
            let pem = if file.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin())
                    .map_err(|e| anyhow!("cannot read the key from standard input: {e}"))?
            } else {
                std::fs::read_to_string(&file)
                    .map_err(|e| anyhow!("cannot read {}: {e}", file.display()))?
            };
            let imported = keys::import(&services, &pem, name.as_deref(), &AuditContext::cli())
                .await
                .map_err(|e| anyhow!("cannot import the key from {}: {e}", file.display()))?;
            report(imported);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints the new active key and the ones it retired.
fn report((new, retired): (gatehouse_core::SigningKey, Vec<gatehouse_core::SigningKey>)) {
    println!("new active {} key {}", new.algorithm.as_str(), new.id);
    for old in retired {
        let until = old.verify_until.map(|t| t.to_rfc3339()).unwrap_or_default();
        println!("retired key {} (published until {until})", old.id);
    }
}
