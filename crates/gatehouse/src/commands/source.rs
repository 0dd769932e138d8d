//! `gatehouse source …`: upstream login sources (see docs/sources.md). The client secret is
//! read from standard input and stored sealed with the instance secret key; it is never
//! printed back.

use anyhow::{Context, anyhow, bail};
use clap::{Args, Subcommand};
use gatehouse_core::source::client_secret_context;
use gatehouse_core::{
    AuditContext, GroupSync, GroupSyncMode, NewSource, Source, SourceKind, UserMatching,
};
use gatehouse_server::Services;
use serde_json::json;
use std::io::BufRead;
use std::process::ExitCode;

/// `gatehouse source` subcommands.
#[derive(Subcommand, Debug)]
pub(crate) enum SourceCommand {
    /// Create a source.
    Create(Box<SourceCreate>),
    /// List sources.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show one source (never the client secret).
    Show {
        /// Slug.
        slug: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete a source and every connection to it.
    Delete {
        /// Slug.
        slug: String,
        /// Required: there is no undo.
        #[arg(long)]
        yes: bool,
    },
}

/// `gatehouse source create` options.
#[derive(Args, Debug)]
pub(crate) struct SourceCreate {
    /// URL-safe unique name, part of the callback URL `/source/oauth/callback/<slug>/`.
    slug: String,
    /// forgejo, gitea, github, oidc or oauth2.
    #[arg(long = "type")]
    kind: String,
    /// Shown on the sign-in button (default: the slug).
    #[arg(long)]
    name: Option<String>,
    /// Forgejo/Gitea base URL, or GitHub Enterprise URL.
    #[arg(long)]
    base_url: Option<String>,
    /// OIDC discovery document URL.
    #[arg(long)]
    discovery_url: Option<String>,
    /// Expected ID-token issuer (OIDC without discovery).
    #[arg(long)]
    issuer: Option<String>,
    /// Authorization endpoint.
    #[arg(long)]
    authorize_url: Option<String>,
    /// Token endpoint.
    #[arg(long)]
    token_url: Option<String>,
    /// User-info endpoint.
    #[arg(long)]
    userinfo_url: Option<String>,
    /// JWKS URL (OIDC without discovery).
    #[arg(long)]
    jwks_url: Option<String>,
    /// Our client id at the upstream.
    #[arg(long)]
    client_id: String,
    /// Read the client secret from standard input (omit for a public client).
    #[arg(long)]
    client_secret_stdin: bool,
    /// Scope to ask for (repeatable; default: the preset's).
    #[arg(long = "scope")]
    scopes: Vec<String>,
    /// identifier, email_link, username_link or deny.
    #[arg(long, default_value = "identifier")]
    user_matching: String,
    /// Slug of the enrollment flow new users go through.
    #[arg(long)]
    enrollment_flow: Option<String>,
    /// Group sync: create, existing or off.
    #[arg(long, default_value = "off")]
    group_sync: String,
    /// Parent of the synced groups.
    #[arg(long)]
    group_sync_parent: Option<String>,
    /// Create it disabled.
    #[arg(long)]
    disabled: bool,
}

pub(crate) async fn run(command: SourceCommand, services: Services) -> anyhow::Result<ExitCode> {
    let audit = AuditContext::cli();
    match command {
        SourceCommand::Create(args) => {
            let new = settings(*args, &services)?;
            let source = services.store.create_source(new, &audit).await?;
            println!("created source {} ({})", source.slug(), source.id);
        }
        SourceCommand::List { json } => {
            let sources = services.store.list_sources().await?;
            if json {
                let list: Vec<_> = sources.iter().map(describe).collect();
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                println!(
                    "{:<24} {:<10} {:<14} {:<8} NAME",
                    "SLUG", "TYPE", "MATCHING", "ENABLED"
                );
                for source in &sources {
                    let s = &source.settings;
                    println!(
                        "{:<24} {:<10} {:<14} {:<8} {}",
                        s.slug,
                        s.kind.as_str(),
                        s.user_matching.as_str(),
                        s.enabled,
                        s.name
                    );
                }
                println!("({} sources)", sources.len());
            }
        }
        SourceCommand::Show { slug, json } => {
            let source = find(&services, &slug).await?;
            let value = describe(&source);
            if json {
                println!("{}", serde_json::to_string_pretty(&value)?);
            } else {
                for (key, item) in value.as_object().into_iter().flatten() {
                    println!("{key:<22} {item}");
                }
            }
        }
        SourceCommand::Delete { slug, yes } => {
            if !yes {
                bail!("refusing to delete source {slug} without --yes");
            }
            let source = find(&services, &slug).await?;
            services.store.delete_source(source.id, &audit).await?;
            println!("deleted source {slug}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn settings(args: SourceCreate, services: &Services) -> anyhow::Result<NewSource> {
    let kind = SourceKind::parse(&args.kind).map_err(|e| anyhow!("{e}"))?;
    let mut new = NewSource::new(
        args.slug.clone(),
        args.name.unwrap_or_else(|| args.slug.clone()),
        kind,
        args.client_id,
    );
    new.base_url = args.base_url;
    new.endpoints.discovery_url = args.discovery_url;
    new.endpoints.issuer = args.issuer;
    new.endpoints.authorize_url = args.authorize_url;
    new.endpoints.token_url = args.token_url;
    new.endpoints.userinfo_url = args.userinfo_url;
    new.endpoints.jwks_url = args.jwks_url;
    new.scopes = args.scopes;
    new.user_matching = UserMatching::parse(&args.user_matching).map_err(|e| anyhow!("{e}"))?;
    new.enrollment_flow = args.enrollment_flow;
    new.group_sync = GroupSync {
        mode: GroupSyncMode::parse(&args.group_sync).map_err(|e| anyhow!("{e}"))?,
        parent: args.group_sync_parent,
    };
    new.enabled = !args.disabled;
    if args.client_secret_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("cannot read the client secret")?;
        let secret = line.trim_end_matches(['\r', '\n']);
        if secret.is_empty() || secret.len() > 1024 {
            bail!("client_secret: must be 1-1024 characters");
        }
        new.client_secret_sealed = Some(
            services
                .secret_box
                .seal(secret.as_bytes(), &client_secret_context(&args.slug)),
        );
    }
    Ok(new)
}

async fn find(services: &Services, slug: &str) -> anyhow::Result<Source> {
    services
        .store
        .source_by_slug(slug)
        .await?
        .ok_or_else(|| anyhow!("source {slug:?} not found"))
}

/// The source as JSON: whether a secret is set, never the secret.
fn describe(source: &Source) -> serde_json::Value {
    let s = &source.settings;
    json!({
        "id": source.id,
        "slug": s.slug,
        "name": s.name,
        "type": s.kind.as_str(),
        "base_url": s.base_url,
        "endpoints": s.endpoints,
        "claims": s.claims,
        "client_id": s.client_id,
        "has_client_secret": s.client_secret_sealed.is_some(),
        "scopes": s.scopes,
        "user_matching": s.user_matching.as_str(),
        "enrollment_flow": s.enrollment_flow,
        "group_sync": s.group_sync,
        "enabled": s.enabled,
        "callback_path": format!("/source/oauth/callback/{}/", s.slug),
        "created_at": source.created_at,
    })
}
