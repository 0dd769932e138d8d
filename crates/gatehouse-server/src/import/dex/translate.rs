//! Dex's objects as Gatehouse's: static clients become applications whose OAuth2 providers
//! keep the client id, secret, redirect URIs and public flag, with Dex-compatible subjects;
//! static passwords become users with their bcrypt hashes (rehashed to Argon2id at their
//! first sign-in) and the Dex identity their `sub` is built from; `expiry` and
//! `oauth2.skipApprovalScreen` become lifetimes and consent; connectors become upstream
//! sources (see [`super::connectors`]). Whatever has no equivalent is
//! named in the report with the reason, never dropped silently.
//!
//! Existing objects are never taken over by accident: a user or application that already
//! exists under the same name but did not come from this Dex configuration keeps its name,
//! and the imported one gets another (or is skipped), as the report says.

use super::config::{DexConfig, StaticClient, StaticPassword, UnknownKeys};
use super::duration;
use super::report::{Report, Section};
use crate::declarative::{ApplicationSpec, Document, GroupSpec, OidcSpec, Snapshot, UserSpec};
use base64::Engine;
use gatehouse_core::application::{self, ClientType};
use gatehouse_core::validate;
use gatehouse_oidc::dex;
use serde_json::{Map, Value};
use std::collections::BTreeSet;

/// Dex's ID-token lifetime when `expiry.idTokens` is not set.
const DEX_DEFAULT_ID_TOKEN_SECS: i64 = 24 * 3600;

/// The scopes an imported client may ask for: what Dex granted every client, less the
/// Dex-only `federated:id` and cross-client `audience:server:client_id:` scopes.
const IMPORTED_SCOPES: [&str; 5] = ["openid", "profile", "email", "groups", "offline_access"];

/// What the import makes of a Dex configuration.
#[derive(Debug)]
pub struct Translation {
    /// The objects to apply.
    pub document: Document,
    /// What was imported, changed, skipped, and what to change in each client.
    pub report: Report,
}

/// Translates `config` (connector settings already expanded) against the current state;
/// `base_url` is Gatehouse's external URL, for the report's client instructions.
pub fn translate(
    config: &DexConfig,
    env: &dyn Fn(&str) -> Option<String>,
    current: &Snapshot,
    base_url: &str,
) -> Result<Translation, String> {
    let mut report = Report::default();
    report_unknown(&mut report, "", &config.unknown);
    report_server_settings(config, &mut report);
    if !config.enable_password_db && !config.static_passwords.is_empty() {
        return Err(
            "staticPasswords: Dex refuses static passwords without enablePasswordDB: true".into(),
        );
    }
    let provider_defaults = provider_defaults(config, &mut report)?;
    let mut document = Document::default();
    import_users(config, env, current, &mut document, &mut report)?;
    import_clients(
        config,
        env,
        current,
        &provider_defaults,
        &mut document,
        &mut report,
    )?;
    let mut source_slugs = BTreeSet::new();
    for (index, connector) in config.connectors.iter().enumerate() {
        report_unknown(
            &mut report,
            &format!("connectors[{index}]"),
            &connector.unknown,
        );
        if let Some(source) = super::connectors::translate(
            index,
            connector,
            base_url,
            &mut source_slugs,
            &mut report,
        )? {
            document.sources.push(source);
        }
    }
    report.client_instructions(base_url, config.issuer.as_deref(), &document.applications);
    Ok(Translation { document, report })
}

/// Lifetimes and consent shared by every imported client.
#[derive(Clone, Debug, Default)]
struct ProviderDefaults {
    access_token_lifetime: i64,
    refresh_token_lifetime: Option<i64>,
    consent: &'static str,
}

fn provider_defaults(config: &DexConfig, report: &mut Report) -> Result<ProviderDefaults, String> {
    let mut defaults = ProviderDefaults {
        access_token_lifetime: DEX_DEFAULT_ID_TOKEN_SECS,
        refresh_token_lifetime: None,
        consent: "explicit",
    };
    let expiry = config.expiry.as_ref();
    match expiry.and_then(|e| e.id_tokens.as_deref()) {
        Some(text) => {
            defaults.access_token_lifetime = positive_duration("expiry.idTokens", text)?;
            report.note(
                Section::Imported,
                "expiry.idTokens",
                format!(
                    "ID and access tokens of imported clients live {text} ({} s)",
                    defaults.access_token_lifetime
                ),
            );
        }
        None => report.note(
            Section::Changed,
            "expiry.idTokens",
            "not set: imported clients keep Dex's default of 24h for ID and access tokens \
             (Gatehouse's own default is 5 minutes; lower it with `app update` once clients \
             refresh)",
        ),
    }
    if let Some(expiry) = expiry {
        report_unknown(report, "expiry", &expiry.unknown);
        for (key, value, reason) in [
            (
                "expiry.signingKeys",
                &expiry.signing_keys,
                "Gatehouse rotates signing keys with `gatehouse key rotate`",
            ),
            (
                "expiry.authRequests",
                &expiry.auth_requests,
                "sign-in flows have their own time limits in Gatehouse",
            ),
            (
                "expiry.deviceRequests",
                &expiry.device_requests,
                "device codes live 10 minutes in Gatehouse",
            ),
        ] {
            if let Some(value) = value {
                report.note(Section::NotImported, key, format!("{value}: {reason}"));
            }
        }
        if let Some(refresh) = &expiry.refresh_tokens {
            report_unknown(report, "expiry.refreshTokens", &refresh.unknown);
            if let Some(text) = &refresh.valid_if_not_used_for {
                let secs = positive_duration("expiry.refreshTokens.validIfNotUsedFor", text)?;
                defaults.refresh_token_lifetime = Some(secs);
                report.note(
                    Section::Imported,
                    "expiry.refreshTokens.validIfNotUsedFor",
                    format!(
                        "refresh tokens of imported clients expire after {text} without use \
                         (each rotation starts a new period)"
                    ),
                );
            }
            if let Some(text) = &refresh.absolute_lifetime {
                report.note(
                    Section::NotImported,
                    "expiry.refreshTokens.absoluteLifetime",
                    format!(
                        "{text}: Gatehouse limits how long a refresh token may go unused, not \
                         the age of its chain"
                    ),
                );
            }
            if refresh.disable_rotation == Some(true) {
                report.note(
                    Section::Changed,
                    "expiry.refreshTokens.disableRotation",
                    "Gatehouse always rotates refresh tokens (RFC 9700 §4.14.2); clients must \
                     store the new one from each refresh",
                );
            }
            if let Some(text) = &refresh.reuse_interval {
                report.note(
                    Section::Changed,
                    "expiry.refreshTokens.reuseInterval",
                    format!(
                        "{text}: Gatehouse has no reuse grace period; reusing a rotated \
                         refresh token revokes its family"
                    ),
                );
            }
        }
    }
    if let Some(oauth2) = &config.oauth2 {
        report_unknown(report, "oauth2", &oauth2.unknown);
        if oauth2.skip_approval_screen == Some(true) {
            defaults.consent = "implicit";
        }
        for (key, present, reason) in [
            (
                "oauth2.grantTypes",
                oauth2.grant_types.is_some(),
                "Gatehouse allows authorization_code, refresh_token, client_credentials and \
                 device_code to every client; the password grant is not offered (RFC 9700 §2.4)",
            ),
            (
                "oauth2.responseTypes",
                oauth2.response_types.is_some(),
                "Gatehouse supports response_type=code only (RFC 9700 §2.1.2)",
            ),
            (
                "oauth2.alwaysShowLoginScreen",
                oauth2.always_show_login_screen.is_some(),
                "the sign-in page always shows the password form and every enabled source",
            ),
            (
                "oauth2.passwordConnector",
                oauth2.password_connector.is_some(),
                "the resource-owner password grant is not offered (RFC 9700 §2.4)",
            ),
        ] {
            if present {
                report.note(Section::NotImported, key, reason);
            }
        }
    }
    report.note(
        Section::Imported,
        "oauth2.skipApprovalScreen",
        if defaults.consent == "implicit" {
            "true: imported clients get consent `implicit` (no approval screen)"
        } else {
            "false (Dex's default): imported clients get consent `explicit`, an approval \
             screen at every sign-in as Dex showed; `remembered` asks once"
        },
    );
    Ok(defaults)
}

fn positive_duration(key: &str, text: &str) -> Result<i64, String> {
    match duration::seconds(text) {
        Some(secs) if secs > 0 => Ok(secs),
        _ => Err(format!(
            "{key}: {text:?} is not a positive Go duration such as 24h or 90m"
        )),
    }
}

fn report_server_settings(config: &DexConfig, report: &mut Report) {
    for (key, present, reason) in [
        (
            "storage",
            config.storage.is_some(),
            "Gatehouse keeps its data in its own database (SQLite or PostgreSQL); Dex's \
             refresh tokens and sessions are not carried over, so users sign in once more",
        ),
        (
            "web",
            config.web.is_some(),
            "listeners and TLS are Gatehouse's `listen.*` and `tls.*` settings",
        ),
        (
            "telemetry",
            config.telemetry.is_some(),
            "metrics are served on Gatehouse's `listen.metrics`",
        ),
        (
            "grpc",
            config.grpc.is_some(),
            "Gatehouse is managed with its CLI, `apply` and the REST API",
        ),
        (
            "logger",
            config.logger.is_some(),
            "logging is Gatehouse's `log.*` setting",
        ),
        (
            "frontend",
            config.frontend.is_some(),
            "Gatehouse's pages have their own look",
        ),
    ] {
        if present {
            report.note(Section::NotImported, key, reason);
        }
    }
}

fn report_unknown(report: &mut Report, parent: &str, unknown: &UnknownKeys) {
    for key in unknown.keys() {
        let path = if parent.is_empty() {
            key.clone()
        } else {
            format!("{parent}.{key}")
        };
        report.note(
            Section::Unknown,
            &path,
            "not a Dex setting this import knows; ignored",
        );
    }
}

fn env_value(
    env: &dyn Fn(&str) -> Option<String>,
    path: &str,
    name: &str,
) -> Result<String, String> {
    env(name)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| format!("{path}: environment variable {name} is not set"))
}

fn import_users(
    config: &DexConfig,
    env: &dyn Fn(&str) -> Option<String>,
    current: &Snapshot,
    document: &mut Document,
    report: &mut Report,
) -> Result<(), String> {
    let mut taken: BTreeSet<String> = BTreeSet::new();
    let mut groups: BTreeSet<String> = BTreeSet::new();
    for (index, entry) in config.static_passwords.iter().enumerate() {
        let path = format!("staticPasswords[{index}]");
        report_unknown(report, &path, &entry.unknown);
        let Some(user) = import_user(&path, entry, env, current, &mut taken, report)? else {
            continue;
        };
        groups.extend(user.groups.iter().flatten().cloned());
        document.users.push(user);
    }
    for name in groups {
        validate::group_name(&name).map_err(|e| format!("group {name:?}: {}", e.message))?;
        if !current.groups.contains_key(&name) {
            report.note(
                Section::Imported,
                &format!("group {name}"),
                "created for the static passwords that list it",
            );
        }
        document.groups.push(GroupSpec {
            name,
            ..GroupSpec::default()
        });
    }
    Ok(())
}

fn import_user(
    path: &str,
    entry: &StaticPassword,
    env: &dyn Fn(&str) -> Option<String>,
    current: &Snapshot,
    taken: &mut BTreeSet<String>,
    report: &mut Report,
) -> Result<Option<UserSpec>, String> {
    let email = entry
        .email
        .as_deref()
        .ok_or_else(|| format!("{path}.email: missing (Dex signs users in by email)"))?;
    let email = validate::email(email).map_err(|e| format!("{path}.email: {}", e.message))?;
    let hash = match (&entry.hash, &entry.hash_from_env) {
        (Some(hash), _) if !hash.is_empty() => hash.clone(),
        (_, Some(name)) => env_value(env, &format!("{path}.hashFromEnv"), name)?,
        _ => return Err(format!("{path}: no password hash provided")),
    };
    let hash = bcrypt_hash(&hash).ok_or_else(|| format!("{path}.hash: not a bcrypt hash"))?;
    let dex_user_id = entry
        .user_id
        .clone()
        .filter(|id| !id.is_empty())
        .ok_or_else(|| format!("{path}.userID: missing (it is part of the user's Dex `sub`)"))?;

    let same_dex_user = |user: &gatehouse_core::User| {
        user.attributes
            .get(dex::USER_ID_ATTRIBUTE)
            .and_then(Value::as_str)
            == Some(dex_user_id.as_str())
    };
    // A user imported before keeps its name, whatever the file says now.
    let previous = current
        .users
        .values()
        .find(|(user, _)| same_dex_user(user))
        .map(|(user, _)| user);
    let username = match previous {
        Some(user) => user.username.clone(),
        None => {
            let candidates = [
                entry.username.clone(),
                entry.preferred_username.clone(),
                Some(email.clone()),
            ];
            let free = candidates.into_iter().flatten().find(|name| {
                validate::username(name).is_ok()
                    && !current.users.contains_key(name)
                    && !taken.contains(name)
            });
            match free {
                Some(name) => name,
                None => {
                    report.note(
                        Section::Skipped,
                        path,
                        format!(
                            "{email}: its username and email are already taken by Gatehouse \
                             users that did not come from this Dex configuration; nothing was \
                             merged"
                        ),
                    );
                    return Ok(None);
                }
            }
        }
    };
    if entry.username.as_deref() != Some(username.as_str()) && previous.is_none() {
        report.note(
            Section::Changed,
            path,
            format!("{email} becomes username {username:?} (the Dex name was missing, not a valid username, or taken)"),
        );
    }
    taken.insert(username.clone());

    let mut attributes: Map<String, Value> = previous
        .map(|user| user.attributes.clone())
        .unwrap_or_default();
    attributes.insert(
        dex::USER_ID_ATTRIBUTE.into(),
        Value::from(dex_user_id.clone()),
    );
    attributes.insert(
        dex::CONNECTOR_ID_ATTRIBUTE.into(),
        Value::from(dex::LOCAL_CONNECTOR),
    );
    let name = entry
        .name
        .clone()
        .or_else(|| entry.username.clone())
        .unwrap_or_else(|| username.clone());
    if previous.is_none() {
        report.note(
            Section::Imported,
            path,
            format!(
                "user {username:?} ({email}), bcrypt hash kept (rehashed to Argon2id at the \
                 first sign-in), Dex sub {}",
                dex::subject(&dex_user_id, dex::LOCAL_CONNECTOR)
            ),
        );
    }
    Ok(Some(UserSpec {
        username,
        name: Some(name),
        email: Some(email),
        email_verified: Some(entry.email_verified.unwrap_or(true)),
        // An existing user keeps the password it has now (perhaps already rehashed or
        // changed), so importing twice changes nothing.
        password_hash: previous.is_none().then_some(hash),
        groups: (!entry.groups.is_empty()).then(|| entry.groups.clone()),
        attributes: Some(attributes),
        ..UserSpec::default()
    }))
}

/// A bcrypt hash as text, also from the base64 form older Dex configurations used.
fn bcrypt_hash(value: &str) -> Option<String> {
    let is_bcrypt = |text: &str| {
        ["$2a$", "$2b$", "$2y$"]
            .iter()
            .any(|prefix| text.starts_with(prefix))
            && text.len() == 60
    };
    if is_bcrypt(value) {
        return Some(value.to_owned());
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    is_bcrypt(&text).then_some(text)
}

fn import_clients(
    config: &DexConfig,
    env: &dyn Fn(&str) -> Option<String>,
    current: &Snapshot,
    defaults: &ProviderDefaults,
    document: &mut Document,
    report: &mut Report,
) -> Result<(), String> {
    let mut slugs: BTreeSet<String> = BTreeSet::new();
    let mut client_ids: BTreeSet<String> = BTreeSet::new();
    for (index, client) in config.static_clients.iter().enumerate() {
        let path = format!("staticClients[{index}]");
        report_unknown(report, &path, &client.unknown);
        let spec = import_client(&path, client, env, current, defaults, &mut slugs, report)?;
        let Some(spec) = spec else { continue };
        let client_id = spec
            .oidc
            .as_ref()
            .and_then(|o| o.client_id.clone())
            .unwrap_or_default();
        if !client_ids.insert(client_id.clone()) {
            return Err(format!("{path}.id: client {client_id:?} is listed twice"));
        }
        document.applications.push(spec);
    }
    Ok(())
}

fn import_client(
    path: &str,
    client: &StaticClient,
    env: &dyn Fn(&str) -> Option<String>,
    current: &Snapshot,
    defaults: &ProviderDefaults,
    slugs: &mut BTreeSet<String>,
    report: &mut Report,
) -> Result<Option<ApplicationSpec>, String> {
    let client_id = match (&client.id, &client.id_env) {
        (Some(id), _) if !id.is_empty() => id.clone(),
        (_, Some(name)) => env_value(env, &format!("{path}.idEnv"), name)?,
        _ => return Err(format!("{path}.id: missing")),
    };
    application::client_id(&client_id).map_err(|e| format!("{path}.id: {}", e.message))?;
    let secret = match (&client.secret, &client.secret_env) {
        (Some(secret), _) if !secret.is_empty() => Some(secret.clone()),
        (_, Some(name)) => Some(env_value(env, &format!("{path}.secretEnv"), name)?),
        _ => None,
    };
    if !client.public && secret.is_none() {
        return Err(format!(
            "{path}: confidential client {client_id:?} has neither secret nor secretEnv"
        ));
    }
    for (index, uri) in client.redirect_uris.iter().enumerate() {
        application::redirect_uri(uri)
            .map_err(|e| format!("{path}.redirectURIs[{index}]: {}", e.message))?;
    }

    // The application this client was imported into before, if any, keeps its slug.
    let existing = current.applications.values().find(|app| {
        app.oauth2
            .as_ref()
            .is_some_and(|p| p.client_id == client_id)
    });
    let slug = match existing {
        Some(app) => app.slug.clone(),
        None => free_slug(&client_id, current, slugs),
    };
    slugs.insert(slug.clone());

    let mut redirect_uris = client.redirect_uris.clone();
    if client.public {
        report.note(
            Section::Changed,
            path,
            format!(
                "public client {client_id:?}: Gatehouse requires PKCE (S256) from public \
                 clients (RFC 9700 §2.1.1); kubelogin and current libraries send it"
            ),
        );
        if redirect_uris.is_empty() {
            redirect_uris = vec!["http://127.0.0.1/".into(), "http://localhost/".into()];
            report.note(
                Section::Changed,
                path,
                "no redirectURIs: Dex let public clients use any http://localhost URL; \
                 imported with http://127.0.0.1/ and http://localhost/, which match on any \
                 port (RFC 8252 §7.3) but need the path registered exactly; out-of-band \
                 (urn:ietf:wg:oauth:2.0:oob) redirects are not supported",
            );
        }
    }
    if !client.trusted_peers.is_empty() {
        report.note(
            Section::NotImported,
            &format!("{path}.trustedPeers"),
            format!(
                "{}: Gatehouse issues tokens for the requesting client only (no \
                 cross-client audience:server:client_id scopes)",
                client.trusted_peers.join(", ")
            ),
        );
    }
    if client.logo_url.is_some() {
        report.note(
            Section::NotImported,
            &format!("{path}.logoURL"),
            "application icons are not imported",
        );
    }
    let name = client
        .name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| client_id.clone());
    report.note(
        Section::Imported,
        path,
        format!(
            "client {client_id:?} → application {slug:?} ({} client, {} redirect URI(s), \
             Dex-compatible subjects)",
            if client.public {
                "public"
            } else {
                "confidential"
            },
            redirect_uris.len()
        ),
    );
    let client_type = if client.public {
        ClientType::Public
    } else {
        ClientType::Confidential
    };
    Ok(Some(ApplicationSpec {
        slug,
        name: Some(name),
        oidc: Some(OidcSpec {
            client_id: Some(client_id),
            client_secret: secret.filter(|_| client_type == ClientType::Confidential),
            public: Some(client.public),
            redirect_uris: Some(redirect_uris),
            scopes: Some(IMPORTED_SCOPES.iter().map(|s| (*s).to_owned()).collect()),
            subject_mode: Some("dex".into()),
            consent: Some(defaults.consent.into()),
            access_token_lifetime: Some(defaults.access_token_lifetime),
            refresh_token_lifetime: defaults.refresh_token_lifetime,
            ..OidcSpec::default()
        }),
        ..ApplicationSpec::default()
    }))
}

/// A slug for `client_id`: its lowercase letters, digits and dashes, made unique.
fn free_slug(client_id: &str, current: &Snapshot, taken: &BTreeSet<String>) -> String {
    let mut base: String = client_id
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    base = base.trim_matches('-').to_owned();
    base.truncate(40);
    if base.is_empty() {
        base = "dex-client".into();
    }
    let is_free = |slug: &str| {
        application::slug(slug).is_ok()
            && !current.applications.contains_key(slug)
            && !taken.contains(slug)
    };
    if is_free(&base) {
        return base;
    }
    (2..)
        .map(|n| format!("{base}-{n}"))
        .find(|slug| is_free(slug))
        .unwrap_or(base)
}
