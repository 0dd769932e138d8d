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
            let (new, retired) = keys::rotate(&services, alg, &AuditContext::cli())
                .await
                .map_err(|e| anyhow!("cannot rotate the {} key: {e}", alg.as_str()))?;
            println!("new active {} key {}", alg.as_str(), new.id);
            for old in retired {
                let until = old.verify_until.map(|t| t.to_rfc3339()).unwrap_or_default();
                println!("retired key {} (published until {until})", old.id);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
