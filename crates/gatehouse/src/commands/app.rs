//! `gatehouse app …`: applications and their OAuth2/OIDC providers. A generated client
//! secret is printed once and only its keyed digest is stored; `--client-secret-stdin` sets
//! a known secret when migrating clients from another provider.

use anyhow::{Context, anyhow, bail};
use clap::{Args, Subcommand};
use gatehouse_core::scope_mapping::parse_mapping_arg;
use gatehouse_core::{
    Application, AuditContext, Change, ClientType, ConsentMode, KeyAlgorithm, NewApplication,
    OAuth2Provider, ScopeMappings, SubjectMode, TokenEndpointAuthMethod,
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
    /// Change an application and its provider in place (one transaction, audited as
    /// `model_updated` with the changed fields); options left out keep their value.
    Update(Box<AppUpdate>),
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
    /// A custom scope and a claim it grants, as `scope:claim=source` with source
    /// `user.<field>`, `attributes.<path>` or `groups` (repeatable; the scope is allowed too).
    #[arg(long = "scope-mapping")]
    scope_mappings: Vec<String>,
    /// RS256, ES256 or EdDSA.
    #[arg(long, default_value = "RS256")]
    signing_alg: String,
    /// hashed_user_id, user_id, username, email or dex (the `sub` Dex gave imported users).
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
    /// Where the client receives back-channel logout tokens (https, or http on loopback).
    #[arg(long)]
    backchannel_logout_uri: Option<String>,
    /// Record that the client needs `sid` in logout tokens (Gatehouse always sends it).
    #[arg(long)]
    backchannel_logout_session_required: bool,
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

/// `gatehouse app update` options. A repeatable option, when given, replaces the whole list.
#[derive(Args, Debug)]
pub(crate) struct AppUpdate {
    /// Slug of the application to change.
    slug: String,
    /// Display name.
    #[arg(long)]
    name: Option<String>,
    /// Where the user portal opens the application.
    #[arg(long, conflicts_with = "no_launch_url")]
    launch_url: Option<String>,
    /// Remove the launch URL.
    #[arg(long)]
    no_launch_url: bool,
    /// Only members of these groups may use it (repeatable; replaces the list).
    #[arg(long = "allowed-group", conflicts_with = "everyone")]
    allowed_groups: Vec<String>,
    /// Let everyone use it (clears the allowed groups).
    #[arg(long)]
    everyone: bool,
    /// Allowed redirect URIs (repeatable; replaces the list).
    #[arg(long = "redirect-uri")]
    redirect_uris: Vec<String>,
    /// Post-logout redirect URIs (repeatable; replaces the list).
    #[arg(
        long = "post-logout-redirect-uri",
        conflicts_with = "no_post_logout_redirect_uris"
    )]
    post_logout_redirect_uris: Vec<String>,
    /// Remove every post-logout redirect URI.
    #[arg(long)]
    no_post_logout_redirect_uris: bool,
    /// Allowed scopes (repeatable; replaces the list; mapped scopes are kept allowed).
    #[arg(long = "scope")]
    scopes: Vec<String>,
    /// Custom scope mappings `scope:claim=source` (repeatable; replaces every mapping).
    #[arg(long = "scope-mapping", conflicts_with = "no_scope_mappings")]
    scope_mappings: Vec<String>,
    /// Remove every custom scope mapping (the scopes stay allowed until `--scope` changes).
    #[arg(long)]
    no_scope_mappings: bool,
    /// RS256, ES256 or EdDSA.
    #[arg(long)]
    signing_alg: Option<String>,
    /// hashed_user_id, user_id, username or email.
    #[arg(long)]
    subject_mode: Option<String>,
    /// implicit, explicit or remembered.
    #[arg(long)]
    consent: Option<String>,
    /// Whether a confidential client must use PKCE (public clients always must).
    #[arg(long)]
    require_pkce: Option<bool>,
    /// Access and ID token lifetime in seconds.
    #[arg(long)]
    access_token_lifetime: Option<i64>,
    /// Refresh token lifetime in seconds.
    #[arg(long)]
    refresh_token_lifetime: Option<i64>,
    /// Authorization code lifetime in seconds.
    #[arg(long)]
    code_lifetime: Option<i64>,
}

impl AppUpdate {
    /// Whether any provider option is given.
    fn touches_provider(&self) -> bool {
        !self.redirect_uris.is_empty()
            || !self.post_logout_redirect_uris.is_empty()
            || self.no_post_logout_redirect_uris
            || !self.scopes.is_empty()
            || !self.scope_mappings.is_empty()
            || self.no_scope_mappings
            || self.signing_alg.is_some()
            || self.subject_mode.is_some()
            || self.consent.is_some()
            || self.require_pkce.is_some()
            || self.access_token_lifetime.is_some()
            || self.refresh_token_lifetime.is_some()
            || self.code_lifetime.is_some()
    }
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
        AppCommand::Update(args) => update(*args, &services, &audit).await?,
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
                || args.backchannel_logout_uri.is_some()
                || args.backchannel_logout_session_required
                || !args.scope_mappings.is_empty()
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
            provider.backchannel_logout_uri = args.backchannel_logout_uri.clone();
            provider.backchannel_logout_session_required = args.backchannel_logout_session_required;
            if !args.scopes.is_empty() {
                provider.scopes = args.scopes.clone();
            }
            provider.scope_mappings = scope_mappings_from(&args.scope_mappings)?;
            provider.allow_mapped_scopes();
            provider.signing_alg = signing_alg(&args.signing_alg)?;
            provider.subject_mode = subject_mode(&args.subject_mode)?;
            provider.consent_mode = consent_mode(&args.consent)?;
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

async fn update(args: AppUpdate, services: &Services, audit: &AuditContext) -> anyhow::Result<()> {
    let app = find(services, &args.slug).await?;
    let mut provider = app.oauth2.clone();
    if args.touches_provider() {
        let Some(provider) = provider.as_mut() else {
            bail!(
                "application {:?} has no OAuth2/OIDC provider (add one with apply)",
                app.slug
            );
        };
        if !args.redirect_uris.is_empty() {
            provider.redirect_uris.clone_from(&args.redirect_uris);
        }
        if args.no_post_logout_redirect_uris || !args.post_logout_redirect_uris.is_empty() {
            provider
                .post_logout_redirect_uris
                .clone_from(&args.post_logout_redirect_uris);
        }
        if !args.scopes.is_empty() {
            provider.scopes.clone_from(&args.scopes);
        }
        if args.no_scope_mappings || !args.scope_mappings.is_empty() {
            provider.scope_mappings = scope_mappings_from(&args.scope_mappings)?;
        }
        provider.allow_mapped_scopes();
        if let Some(alg) = &args.signing_alg {
            provider.signing_alg = signing_alg(alg)?;
        }
        if let Some(mode) = &args.subject_mode {
            provider.subject_mode = subject_mode(mode)?;
        }
        if let Some(mode) = &args.consent {
            provider.consent_mode = consent_mode(mode)?;
        }
        if let Some(require) = args.require_pkce {
            provider.require_pkce = require || provider.client_type == ClientType::Public;
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
    }
    let allowed_groups = if args.everyone {
        Some(Vec::new())
    } else {
        (!args.allowed_groups.is_empty()).then(|| args.allowed_groups.clone())
    };
    let wanted = NewApplication {
        slug: app.slug.clone(),
        name: args.name.clone().unwrap_or_else(|| app.name.clone()),
        launch_url: if args.no_launch_url {
            None
        } else {
            args.launch_url.clone().or_else(|| app.launch_url.clone())
        },
        allowed_groups: allowed_groups.clone().unwrap_or_default(),
        oauth2: provider,
    };
    wanted.validate()?;
    let alg = wanted.oauth2.as_ref().map(|p| p.signing_alg);
    let Some(change) =
        gatehouse_server::declarative::application_update(&app, wanted, allowed_groups)
    else {
        println!("application {} unchanged", app.slug);
        return Ok(());
    };
    let fields = match &change {
        Change::UpdateApplication { patch, .. } => patch.field_names().join(", "),
        _ => String::new(),
    };
    services.store.apply_changes(&vec![change], audit).await?;
    if let Some(alg) = alg {
        keys::ensure_key(services, alg)
            .await
            .context("cannot create a signing key")?;
    }
    println!("updated application {}: {fields}", app.slug);
    Ok(())
}

fn signing_alg(text: &str) -> anyhow::Result<KeyAlgorithm> {
    KeyAlgorithm::parse(text).ok_or_else(|| anyhow!("signing_alg: must be RS256, ES256 or EdDSA"))
}

fn subject_mode(text: &str) -> anyhow::Result<SubjectMode> {
    SubjectMode::parse(text).ok_or_else(|| {
        anyhow!("subject_mode: must be hashed_user_id, user_id, username, email or dex")
    })
}

fn consent_mode(text: &str) -> anyhow::Result<ConsentMode> {
    ConsentMode::parse(text)
        .ok_or_else(|| anyhow!("consent: must be implicit, explicit or remembered"))
}

/// The mappings given as repeated `--scope-mapping scope:claim=source` (checked in full by
/// the provider's validation when stored).
fn scope_mappings_from(args: &[String]) -> anyhow::Result<ScopeMappings> {
    let mut mappings = ScopeMappings::new();
    for arg in args {
        let (scope, claim, source) =
            parse_mapping_arg(arg).map_err(|m| anyhow!("scope_mapping: {m}"))?;
        if mappings
            .entry(scope.clone())
            .or_default()
            .insert(claim.clone(), source)
            .is_some()
        {
            bail!("scope_mapping: claim {claim:?} of scope {scope:?} is given twice");
        }
    }
    Ok(mappings)
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
            "scope_mappings": provider.scope_mappings,
            "signing_alg": provider.signing_alg.as_str(),
            "subject_mode": provider.subject_mode.as_str(),
            "consent": provider.consent_mode.as_str(),
            "require_pkce": provider.pkce_required(),
            "jwks": provider.jwks,
            "token_endpoint_auth_method": provider.token_endpoint_auth_method.map(|m| m.as_str()),
            "backchannel_logout_uri": provider.backchannel_logout_uri,
            "backchannel_logout_session_required": provider.backchannel_logout_session_required,
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
