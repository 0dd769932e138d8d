//! `gatehouse app …`: applications and their OAuth2/OIDC providers. A generated client
//! secret is printed once and only its keyed digest is stored; `--client-secret-stdin` sets
//! a known secret when migrating clients from another provider.

use anyhow::{Context, anyhow, bail};
use clap::{Args, Subcommand};
use gatehouse_core::{
    Application, AuditContext, ClientType, ConsentMode, KeyAlgorithm, NewApplication,
    OAuth2Provider, SubjectMode, TokenEndpointAuthMethod,
};
use gatehouse_server::Services;
use gatehouse_server::oidc::{keys, secrets};
use gatehouse_server::redis::invalidation::Invalidation;
use serde_json::json;
use std::io::BufRead;
use std::process::ExitCode;

/// `gatehouse app` subcommands.
#[derive(Subcommand, Debug)]
pub(crate) enum AppCommand {
    /// Create an application, optionally with an OAuth2/OIDC provider (`--client-id`).
    Create(Box<AppCreate>),
    /// List applications.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show one application and its provider (never the secret).
    Show {
        /// Slug.
        slug: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Replace a confidential client's secret (a new one is generated and printed once,
    /// unless `--client-secret-stdin`).
    RotateSecret {
        /// Slug.
        slug: String,
        /// Read the new secret from standard input.
        #[arg(long)]
        client_secret_stdin: bool,
    },
    /// Delete an application, its provider and every token issued to it.
    Delete {
        /// Slug.
        slug: String,
        /// Required: there is no undo.
        #[arg(long)]
        yes: bool,
    },
}

/// `gatehouse app create` options.
#[derive(Args, Debug)]
pub(crate) struct AppCreate {
    /// URL-safe unique name, part of the issuer URL.
    slug: String,
    /// Display name (default: the slug).
    #[arg(long)]
    name: Option<String>,
    /// Where the user portal opens the application.
    #[arg(long)]
    launch_url: Option<String>,
    /// Only members of this group may use it (repeatable; none means everyone).
    #[arg(long = "allowed-group")]
    allowed_groups: Vec<String>,
    /// OAuth2 client id; giving it creates an OAuth2/OIDC provider.
    #[arg(long)]
    client_id: Option<String>,
    /// A public client (SPA, native, CLI): no secret, PKCE required.
    #[arg(long)]
    public: bool,
    /// Read the client secret from standard input instead of generating one.
    #[arg(long)]
    client_secret_stdin: bool,
    /// Allowed redirect URI (repeatable; matched exactly).
    #[arg(long = "redirect-uri")]
    redirect_uris: Vec<String>,
    /// Where RP-initiated logout may redirect afterwards (repeatable; matched exactly).
    #[arg(long = "post-logout-redirect-uri")]
    post_logout_redirect_uris: Vec<String>,
    /// Allowed scope (repeatable; default openid profile email offline_access).
    #[arg(long = "scope")]
    scopes: Vec<String>,
    /// RS256, ES256 or EdDSA.
    #[arg(long, default_value = "RS256")]
    signing_alg: String,
    /// hashed_user_id, user_id, username or email.
    #[arg(long, default_value = "hashed_user_id")]
    subject_mode: String,
    /// implicit, explicit or remembered.
    #[arg(long, default_value = "implicit")]
    consent: String,
    /// Require PKCE from a confidential client too.
    #[arg(long)]
    require_pkce: bool,
    /// A JSON file with the client's public keys (JWKS), for `private_key_jwt`.
    #[arg(long)]
    jwks_file: Option<std::path::PathBuf>,
    /// The one client authentication method allowed: client_secret_basic,
    /// client_secret_post, private_key_jwt or none (default: any the client type permits).
    #[arg(long)]
    token_endpoint_auth_method: Option<String>,
    /// Access and ID token lifetime in seconds.
    #[arg(long)]
    access_token_lifetime: Option<i64>,
    /// Refresh token lifetime in seconds.
    #[arg(long)]
    refresh_token_lifetime: Option<i64>,
    /// Authorization code lifetime in seconds.
    #[arg(long)]
    code_lifetime: Option<i64>,
    /// Print the result (with a generated secret) as JSON.
    #[arg(long)]
    json: bool,
}

pub(crate) async fn run(command: AppCommand, services: Services) -> anyhow::Result<ExitCode> {
    let audit = AuditContext::cli();
    match command {
        AppCommand::Create(args) => create(*args, &services, &audit).await?,
        AppCommand::List { json } => {
            let apps = services.store.list_applications().await?;
            if json {
                let list: Vec<_> = apps.iter().map(|a| describe(&services, a)).collect();
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                println!(
                    "{:<24} {:<32} {:<32} {:<12}",
                    "SLUG", "NAME", "CLIENT ID", "TYPE"
                );
                for app in &apps {
                    let (client_id, client_type) = app.oauth2.as_ref().map_or(("-", "-"), |p| {
                        (p.client_id.as_str(), p.client_type.as_str())
                    });
                    println!(
                        "{:<24} {:<32} {:<32} {:<12}",
                        app.slug, app.name, client_id, client_type
                    );
                }
                println!("({} applications)", apps.len());
            }
        }
        AppCommand::Show { slug, json } => {
            let app = find(&services, &slug).await?;
            let value = describe(&services, &app);
            if json {
                println!("{}", serde_json::to_string_pretty(&value)?);
            } else {
                print!("{}", serde_yaml_like(&value));
            }
        }
        AppCommand::RotateSecret {
            slug,
            client_secret_stdin,
        } => {
            let app = find(&services, &slug).await?;
            let (secret, generated) = secret_from(client_secret_stdin)?;
            services
                .store
                .set_client_secret_digest(
                    app.id,
                    secrets::digest(&services.digester, &secret),
                    &audit,
                )
                .await?;
            services.changed(&[Invalidation::Applications]).await;
            if generated {
                println!("client_secret: {secret}");
                eprintln!("(shown once: store it now)");
            } else {
                println!("client secret replaced");
            }
        }
        AppCommand::Delete { slug, yes } => {
            if !yes {
                bail!("refusing to delete application {slug} without --yes");
            }
            let app = find(&services, &slug).await?;
            services.store.delete_application(app.id, &audit).await?;
            services.changed(&[Invalidation::Applications]).await;
            println!("deleted application {slug}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn create(args: AppCreate, services: &Services, audit: &AuditContext) -> anyhow::Result<()> {
    let mut generated_secret = None;
    let oauth2 = match &args.client_id {
        None => {
            if args.public
                || args.client_secret_stdin
                || !args.redirect_uris.is_empty()
                || !args.post_logout_redirect_uris.is_empty()
                || args.jwks_file.is_some()
                || args.token_endpoint_auth_method.is_some()
            {
                bail!("OAuth2 options need --client-id");
            }
            None
        }
        Some(client_id) => {
            let client_type = if args.public {
                ClientType::Public
            } else {
                ClientType::Confidential
            };
            let mut provider = OAuth2Provider::new(client_type, client_id.clone());
            provider.redirect_uris = args.redirect_uris.clone();
            provider.post_logout_redirect_uris = args.post_logout_redirect_uris.clone();
            if !args.scopes.is_empty() {
                provider.scopes = args.scopes.clone();
            }
            provider.signing_alg = KeyAlgorithm::parse(&args.signing_alg)
                .ok_or_else(|| anyhow!("signing_alg: must be RS256, ES256 or EdDSA"))?;
            provider.subject_mode = SubjectMode::parse(&args.subject_mode).ok_or_else(|| {
                anyhow!("subject_mode: must be hashed_user_id, user_id, username or email")
            })?;
            provider.consent_mode = ConsentMode::parse(&args.consent)
                .ok_or_else(|| anyhow!("consent: must be implicit, explicit or remembered"))?;
            provider.require_pkce = args.require_pkce || args.public;
            if let Some(path) = &args.jwks_file {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?;
                provider.jwks = Some(
                    gatehouse_server::oidc::registered_jwks(json!(text))
                        .map_err(|message| anyhow!("jwks: {message}"))?,
                );
            }
            if let Some(method) = &args.token_endpoint_auth_method {
                provider.token_endpoint_auth_method =
                    Some(TokenEndpointAuthMethod::parse(method).ok_or_else(|| {
                        anyhow!(
                            "token_endpoint_auth_method: must be client_secret_basic, \
                             client_secret_post, private_key_jwt or none"
                        )
                    })?);
            }
            if let Some(secs) = args.access_token_lifetime {
                provider.lifetimes.access_token = secs;
            }
            if let Some(secs) = args.refresh_token_lifetime {
                provider.lifetimes.refresh_token = secs;
            }
            if let Some(secs) = args.code_lifetime {
                provider.lifetimes.authorization_code = secs;
            }
            match client_type {
                ClientType::Public if args.client_secret_stdin => {
                    bail!("client_secret: public clients have no secret");
                }
                ClientType::Public => {}
                ClientType::Confidential => {
                    let (secret, generated) = secret_from(args.client_secret_stdin)?;
                    provider.client_secret_digest =
                        Some(secrets::digest(&services.digester, &secret));
                    if generated {
                        generated_secret = Some(secret);
                    }
                }
            }
            Some(provider)
        }
    };
    let alg = oauth2.as_ref().map(|p| p.signing_alg);
    let app = services
        .store
        .create_application(
            NewApplication {
                name: args.name.clone().unwrap_or_else(|| args.slug.clone()),
                slug: args.slug,
                launch_url: args.launch_url,
                allowed_groups: args.allowed_groups,
                oauth2,
            },
            audit,
        )
        .await?;
    // A client id looked up before it existed is not cached, but a slug's discovery
    // document and group checks may be: drop them everywhere.
    services.changed(&[Invalidation::Applications]).await;
    if let Some(alg) = alg {
        keys::ensure_key(services, alg)
            .await
            .context("cannot create a signing key")?;
    }
    if args.json {
        let mut value = describe(services, &app);
        if let Some(secret) = &generated_secret {
            value["client_secret"] = json!(secret);
        }
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        println!("created application {} ({})", app.slug, app.id);
        if let Some(secret) = generated_secret {
            println!("client_secret: {secret}");
            eprintln!("(shown once: store it now)");
        }
    }
    Ok(())
}

/// Reads a secret from standard input, or generates one. Returns it and whether it was
/// generated.
fn secret_from(stdin: bool) -> anyhow::Result<(String, bool)> {
    if !stdin {
        return Ok((secrets::generate_client_secret(), true));
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the client secret")?;
    let secret = line.trim_end_matches(['\r', '\n']).to_owned();
    secrets::check_supplied_secret(&secret).map_err(|e| anyhow!(e))?;
    Ok((secret, false))
}

async fn find(services: &Services, slug: &str) -> anyhow::Result<Application> {
    services
        .store
        .application_by_slug(slug)
        .await?
        .ok_or_else(|| anyhow!("application {slug:?} not found"))
}

/// The application as JSON, with its issuer and discovery URL (never the secret digest).
fn describe(services: &Services, app: &Application) -> serde_json::Value {
    let mut value = json!({
        "id": app.id,
        "slug": app.slug,
        "name": app.name,
        "launch_url": app.launch_url,
        "allowed_groups": app.allowed_groups.iter().map(|g| g.name.clone()).collect::<Vec<_>>(),
        "created_at": app.created_at,
    });
    if let Some(provider) = &app.oauth2 {
        let issuer = gatehouse_server::oidc::grants::issuer(services, app);
        value["oidc"] = json!({
            "client_id": provider.client_id,
            "client_type": provider.client_type.as_str(),
            "redirect_uris": provider.redirect_uris,
            "post_logout_redirect_uris": provider.post_logout_redirect_uris,
            "scopes": provider.scopes,
            "signing_alg": provider.signing_alg.as_str(),
            "subject_mode": provider.subject_mode.as_str(),
            "consent": provider.consent_mode.as_str(),
            "require_pkce": provider.pkce_required(),
            "jwks": provider.jwks,
            "token_endpoint_auth_method": provider.token_endpoint_auth_method.map(|m| m.as_str()),
            "access_token_lifetime": provider.lifetimes.access_token,
            "refresh_token_lifetime": provider.lifetimes.refresh_token,
            "code_lifetime": provider.lifetimes.authorization_code,
            "issuer": issuer,
            "discovery_url": format!("{issuer}.well-known/openid-configuration"),
        });
    }
    value
}

/// A readable `key: value` listing of a JSON object, nested one level.
fn serde_yaml_like(value: &serde_json::Value) -> String {
    let mut out = String::new();
    if let Some(map) = value.as_object() {
        for (key, item) in map {
            match item {
                serde_json::Value::Object(inner) => {
                    out.push_str(&format!("{key}:\n"));
                    for (k, v) in inner {
                        out.push_str(&format!("  {k:<24} {}\n", plain(v)));
                    }
                }
                other => out.push_str(&format!("{key:<26} {}\n", plain(other))),
            }
        }
    }
    out
}

fn plain(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "-".into(),
        serde_json::Value::Array(items) if items.is_empty() => "-".into(),
        serde_json::Value::Array(items) => items.iter().map(plain).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}
