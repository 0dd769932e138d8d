//! Dex's configuration file (the format of Dex v2.4x), read as Dex reads it: camelCase keys,
//! `idEnv`/`secretEnv`/`hashFromEnv` indirections, bcrypt hashes either as text or base64.
//! Every object keeps the keys it did not recognise, so the import can report them instead
//! of dropping them silently.

use serde::Deserialize;
use serde_yaml::Value;
use std::collections::BTreeMap;

/// Keys of an object that this model does not know, with their values.
pub type UnknownKeys = BTreeMap<String, Value>;

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DexConfig {
    /// Dex's issuer URL; the report tells clients what replaces it.
    #[serde(default)]
    pub issuer: Option<String>,
    /// Dex's storage backend: not imported (Gatehouse has its own database).
    #[serde(default)]
    pub storage: Option<Value>,
    /// Listener settings: not imported (Gatehouse's `listen.*`).
    #[serde(default)]
    pub web: Option<Value>,
    /// Metrics listener: not imported (Gatehouse's `listen.metrics`).
    #[serde(default)]
    pub telemetry: Option<Value>,
    /// The gRPC admin API: not imported (Gatehouse has a REST API and a CLI).
    #[serde(default)]
    pub grpc: Option<Value>,
    /// Logging: not imported.
    #[serde(default)]
    pub logger: Option<Value>,
    /// Page theme and issuer name: not imported.
    #[serde(default)]
    pub frontend: Option<Value>,
    /// Token and request lifetimes.
    #[serde(default)]
    pub expiry: Option<Expiry>,
    /// OAuth2 behaviour.
    #[serde(default)]
    pub oauth2: Option<OAuth2>,
    /// Upstream identity providers.
    #[serde(default)]
    pub connectors: Vec<Connector>,
    /// Clients registered in the file.
    #[serde(default)]
    pub static_clients: Vec<StaticClient>,
    /// Whether Dex's own password database is on.
    #[serde(default, rename = "enablePasswordDB")]
    pub enable_password_db: bool,
    /// Users of the password database given in the file.
    #[serde(default)]
    pub static_passwords: Vec<StaticPassword>,
    /// Anything else.
    #[serde(flatten)]
    pub unknown: UnknownKeys,
}

/// `expiry:`; durations are Go duration strings (`24h`, `90m`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Expiry {
    /// How often Dex rotated its signing keys.
    #[serde(default)]
    pub signing_keys: Option<String>,
    /// ID token (and access token) lifetime.
    #[serde(default)]
    pub id_tokens: Option<String>,
    /// How long a login could take.
    #[serde(default)]
    pub auth_requests: Option<String>,
    /// How long a device code stayed valid.
    #[serde(default)]
    pub device_requests: Option<String>,
    /// Refresh-token policy.
    #[serde(default)]
    pub refresh_tokens: Option<RefreshTokens>,
    /// Anything else.
    #[serde(flatten)]
    pub unknown: UnknownKeys,
}

/// `expiry.refreshTokens:`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefreshTokens {
    /// Dex could keep one refresh token for good; Gatehouse always rotates.
    #[serde(default)]
    pub disable_rotation: Option<bool>,
    /// A grace period in which a rotated token still worked.
    #[serde(default)]
    pub reuse_interval: Option<String>,
    /// Lifetime of a refresh-token chain from its first issue.
    #[serde(default)]
    pub absolute_lifetime: Option<String>,
    /// Idle timeout of a refresh token.
    #[serde(default)]
    pub valid_if_not_used_for: Option<String>,
    /// Anything else.
    #[serde(flatten)]
    pub unknown: UnknownKeys,
}

/// `oauth2:`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OAuth2 {
    /// Grant types Dex allowed.
    #[serde(default)]
    pub grant_types: Option<Vec<String>>,
    /// Response types Dex allowed.
    #[serde(default)]
    pub response_types: Option<Vec<String>>,
    /// `true`: no approval screen (Gatehouse consent `implicit`); Dex's default `false`
    /// asked on every login (consent `explicit`).
    #[serde(default)]
    pub skip_approval_screen: Option<bool>,
    /// Show the connector choice even with one connector.
    #[serde(default)]
    pub always_show_login_screen: Option<bool>,
    /// The connector behind the resource-owner password grant.
    #[serde(default)]
    pub password_connector: Option<String>,
    /// Anything else.
    #[serde(flatten)]
    pub unknown: UnknownKeys,
}

/// One entry of `staticClients:`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StaticClient {
    /// The client id.
    #[serde(default)]
    pub id: Option<String>,
    /// Environment variable holding the client id.
    #[serde(default)]
    pub id_env: Option<String>,
    /// The client secret.
    #[serde(default)]
    pub secret: Option<String>,
    /// Environment variable holding the client secret.
    #[serde(default)]
    pub secret_env: Option<String>,
    /// Allowed redirect URIs.
    #[serde(default, rename = "redirectURIs")]
    pub redirect_uris: Vec<String>,
    /// Clients allowed to obtain tokens for this one (cross-client audience).
    #[serde(default)]
    pub trusted_peers: Vec<String>,
    /// A public client (no secret).
    #[serde(default)]
    pub public: bool,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Logo shown on the approval screen.
    #[serde(default, rename = "logoURL")]
    pub logo_url: Option<String>,
    /// Anything else.
    #[serde(flatten)]
    pub unknown: UnknownKeys,
}

/// One entry of `staticPasswords:`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StaticPassword {
    /// The address users sign in with at Dex.
    #[serde(default)]
    pub email: Option<String>,
    /// bcrypt hash, as text or base64 of the text.
    #[serde(default)]
    pub hash: Option<String>,
    /// Environment variable holding the hash.
    #[serde(default)]
    pub hash_from_env: Option<String>,
    /// Display name (Dex does not sign in with it).
    #[serde(default)]
    pub username: Option<String>,
    /// The id inside Dex's `sub`.
    #[serde(default, rename = "userID")]
    pub user_id: Option<String>,
    /// Full name for the `name` claim.
    #[serde(default)]
    pub name: Option<String>,
    /// The `preferred_username` claim.
    #[serde(default)]
    pub preferred_username: Option<String>,
    /// The `email_verified` claim; Dex's default is `true`.
    #[serde(default)]
    pub email_verified: Option<bool>,
    /// Groups the user belongs to.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Anything else.
    #[serde(flatten)]
    pub unknown: UnknownKeys,
}

/// One entry of `connectors:`; `config` depends on `type` and is read by the translator.
#[derive(Debug, Default, Deserialize)]
pub struct Connector {
    /// `gitea`, `github`, `oidc`, `oauth`, `ldap`, …
    #[serde(default, rename = "type")]
    pub kind: String,
    /// The id, part of the `sub` of every user it brought.
    #[serde(default)]
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// The type's settings, `$VAR` references not yet expanded.
    #[serde(default)]
    pub config: Option<Value>,
    /// Anything else.
    #[serde(flatten)]
    pub unknown: UnknownKeys,
}

/// Reads the file's text.
pub fn parse(text: &str) -> Result<DexConfig, String> {
    let value: Value = serde_yaml::from_str(text).map_err(|e| format!("not valid YAML: {e}"))?;
    if value.is_null() {
        return Err("the file is empty".into());
    }
    if !value.is_mapping() {
        return Err("a Dex configuration is a YAML mapping at the top level".into());
    }
    serde_yaml::from_value(value).map_err(|e| format!("not a Dex configuration: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_dex_key_names_and_keeps_unknown_keys() -> Result<(), String> {
        let config = parse(
            "issuer: https://dex.example.com\nenablePasswordDB: true\nstaticClients:\n- id: grafana\n  redirectURIs: [https://g.example/cb]\n  secretEnv: GRAFANA_SECRET\n  colour: blue\nstaticPasswords:\n- email: admin@example.com\n  userID: u1\n  hash: x\nexpiry:\n  refreshTokens:\n    absoluteLifetime: 720h\nbogus: 1\n",
        )?;
        assert_eq!(config.issuer.as_deref(), Some("https://dex.example.com"));
        assert!(config.enable_password_db);
        assert_eq!(
            config.static_clients[0].redirect_uris,
            ["https://g.example/cb"]
        );
        assert_eq!(
            config.static_clients[0].secret_env.as_deref(),
            Some("GRAFANA_SECRET")
        );
        assert!(config.static_clients[0].unknown.contains_key("colour"));
        assert_eq!(config.static_passwords[0].user_id.as_deref(), Some("u1"));
        assert!(config.unknown.contains_key("bogus"));
        let refresh = config
            .expiry
            .and_then(|e| e.refresh_tokens)
            .and_then(|r| r.absolute_lifetime);
        assert_eq!(refresh.as_deref(), Some("720h"));
        Ok(())
    }

    #[test]
    fn malformed_files_are_refused_with_a_reason() {
        for (text, expected) in [
            ("", "empty"),
            ("- a\n- b\n", "mapping"),
            ("issuer: [unclosed\n", "not valid YAML"),
            ("staticClients: 3\n", "not a Dex configuration"),
        ] {
            let error = parse(text).expect_err(text);
            assert!(error.contains(expected), "{text:?}: {error}");
        }
    }
}
