//! Applications and their OAuth2/OIDC providers: what a relying party is allowed to ask for
//! (redirect URIs, scopes), how its tokens are signed and who may use it. The rules here are
//! the field rules every entry point (CLI, `apply`, API) shares; the protocol rules live in
//! `gatehouse-oidc`.

use crate::ids::{ApplicationId, GroupId};
use crate::key::KeyAlgorithm;
use crate::scope_mapping::{self, ScopeMappings};
use crate::validate::ValidationError;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The longest slug, client id or redirect URI we accept, in bytes.
const MAX_SLUG: usize = 50;
const MAX_CLIENT_ID: usize = 255;
const MAX_URI: usize = 2000;
const MAX_NAME: usize = 150;
/// Lifetimes are bounded so that arithmetic on them can never overflow a timestamp.
const MAX_LIFETIME_SECS: i64 = 366 * 24 * 3600;

/// An application users sign in to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Application {
    /// Identifier.
    pub id: ApplicationId,
    /// URL-safe unique name; part of the issuer URL.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Where the portal sends users to open the app.
    pub launch_url: Option<String>,
    /// Groups whose (effective) members may use the app; empty means everyone.
    pub allowed_groups: Vec<AllowedGroup>,
    /// The OAuth2/OIDC provider, when the app speaks OIDC.
    pub oauth2: Option<OAuth2Provider>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// A group in an application's access list, by id and (current) name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllowedGroup {
    /// The group's id.
    pub id: GroupId,
    /// Its name at read time.
    pub name: String,
}

impl Application {
    /// Whether a user in `effective_groups` may use the application.
    pub fn admits(&self, effective_groups: &[GroupId]) -> bool {
        self.allowed_groups.is_empty()
            || self
                .allowed_groups
                .iter()
                .any(|allowed| effective_groups.contains(&allowed.id))
    }
}

/// RFC 6749 §2.1 client types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientType {
    /// Can keep a secret (server-side web apps).
    Confidential,
    /// Cannot (SPAs, native and CLI apps): PKCE is mandatory and there is no secret.
    Public,
}

/// What the `sub` claim is built from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectMode {
    /// HMAC of the user id and the application, stable and unlinkable across apps (default).
    HashedUserId,
    /// The user's UUID.
    UserId,
    /// The username.
    Username,
    /// The email address.
    Email,
    /// The `sub` Dex gave the user (its user id and connector, encoded as Dex does), so
    /// applications migrated from Dex keep their users; see `gatehouse_oidc::dex`.
    Dex,
}

/// Whether users are asked before an application receives their data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentMode {
    /// Never asked (first-party apps).
    Implicit,
    /// Asked every time.
    Explicit,
    /// Asked once, remembered.
    Remembered,
}

macro_rules! str_enum {
    ($ty:ident { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $ty {
            /// The stable name used in the database, the CLI and the YAML document.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $name),+ }
            }

            /// Parses a stable name.
            pub fn parse(value: &str) -> Option<Self> {
                [$(Self::$variant),+].into_iter().find(|v| v.as_str() == value)
            }
        }
    };
}

str_enum!(ClientType { Confidential => "confidential", Public => "public" });
str_enum!(SubjectMode {
    HashedUserId => "hashed_user_id",
    UserId => "user_id",
    Username => "username",
    Email => "email",
    Dex => "dex",
});
/// How a client authenticates at the token, introspection and revocation endpoints (the
/// registered names of OIDC Core §9 and RFC 7591 §2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenEndpointAuthMethod {
    /// The client secret in HTTP Basic.
    ClientSecretBasic,
    /// The client secret in the form body.
    ClientSecretPost,
    /// A JWT signed with one of the client's registered keys (RFC 7523 §2.2).
    PrivateKeyJwt,
    /// No authentication (public clients).
    None,
}

str_enum!(TokenEndpointAuthMethod {
    ClientSecretBasic => "client_secret_basic",
    ClientSecretPost => "client_secret_post",
    PrivateKeyJwt => "private_key_jwt",
    None => "none",
});
str_enum!(ConsentMode { Implicit => "implicit", Explicit => "explicit", Remembered => "remembered" });

/// Token lifetimes, in seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lifetimes {
    /// Authorization codes (RFC 6749 §4.1.2 recommends at most 10 minutes).
    pub authorization_code: i64,
    /// Access and ID tokens.
    pub access_token: i64,
    /// Refresh tokens (from their issue; each rotation starts a new period).
    pub refresh_token: i64,
}

impl Default for Lifetimes {
    fn default() -> Self {
        Self {
            authorization_code: 60,
            access_token: 300,
            refresh_token: 30 * 24 * 3600,
        }
    }
}

/// An application's OAuth2/OIDC provider settings.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct OAuth2Provider {
    /// Confidential or public.
    pub client_type: ClientType,
    /// The `client_id`, unique across applications.
    pub client_id: String,
    /// Keyed digest of the client secret (`gatehouse_crypto::TokenDigester`); `None` for
    /// public clients.
    #[serde(skip)]
    pub client_secret_digest: Option<String>,
    /// Registered redirect URIs, matched exactly (plus the RFC 8252 loopback rule).
    pub redirect_uris: Vec<String>,
    /// Scopes the client may request.
    pub scopes: Vec<String>,
    /// The JWS algorithm of ID tokens and JWT access tokens.
    pub signing_alg: KeyAlgorithm,
    /// Token lifetimes.
    pub lifetimes: Lifetimes,
    /// What `sub` is.
    pub subject_mode: SubjectMode,
    /// Whether users are asked for consent.
    pub consent_mode: ConsentMode,
    /// Whether a confidential client must also use PKCE (public clients always must).
    pub require_pkce: bool,
    /// Where RP-initiated logout may send the browser afterwards (OpenID Connect
    /// RP-Initiated Logout 1.0 §3), matched exactly; empty means never.
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// The client's public keys (a JWKS document, RFC 7517 §5) for `private_key_jwt`
    /// client authentication; `None` means the client cannot use it.
    #[serde(default)]
    pub jwks: Option<serde_json::Value>,
    /// The one method the client must authenticate with; `None` accepts every method its
    /// registration allows (the secret methods for a confidential client, plus
    /// `private_key_jwt` when it has keys; `none` for a public client).
    #[serde(default)]
    pub token_endpoint_auth_method: Option<TokenEndpointAuthMethod>,
    /// Where the client receives OpenID Connect Back-Channel Logout 1.0 logout tokens when
    /// a session it was issued tokens in ends; `None` means the client is not told.
    #[serde(default)]
    pub backchannel_logout_uri: Option<String>,
    /// Whether the client needs `sid` in logout tokens (Back-Channel Logout 1.0 §2.2
    /// `backchannel_logout_session_required`). Gatehouse always sends `sid` and `sub`, so
    /// this is recorded for the client's registration and export only.
    #[serde(default)]
    pub backchannel_logout_session_required: bool,
    /// Custom scopes and the claims they grant (scope → claim → source, see
    /// [`crate::scope_mapping`]); every mapped scope is also in `scopes`.
    #[serde(default)]
    pub scope_mappings: ScopeMappings,
}

impl std::fmt::Debug for OAuth2Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuth2Provider")
            .field("client_type", &self.client_type)
            .field("client_id", &self.client_id)
            .field("redirect_uris", &self.redirect_uris)
            .field("post_logout_redirect_uris", &self.post_logout_redirect_uris)
            .field("scopes", &self.scopes)
            .field("signing_alg", &self.signing_alg)
            .field(
                "token_endpoint_auth_method",
                &self.token_endpoint_auth_method,
            )
            .field("backchannel_logout_uri", &self.backchannel_logout_uri)
            .field("scope_mappings", &self.scope_mappings)
            .finish_non_exhaustive()
    }
}

impl OAuth2Provider {
    /// Settings with the defaults for a client: RS256, 5-minute access tokens, hashed
    /// subjects, implicit consent, `openid profile email` scopes, PKCE for public clients.
    pub fn new(client_type: ClientType, client_id: impl Into<String>) -> Self {
        Self {
            client_type,
            client_id: client_id.into(),
            client_secret_digest: None,
            redirect_uris: Vec::new(),
            scopes: DEFAULT_SCOPES.iter().map(|s| (*s).to_owned()).collect(),
            signing_alg: KeyAlgorithm::Rs256,
            lifetimes: Lifetimes::default(),
            subject_mode: SubjectMode::HashedUserId,
            consent_mode: ConsentMode::Implicit,
            require_pkce: client_type == ClientType::Public,
            post_logout_redirect_uris: Vec::new(),
            jwks: None,
            token_endpoint_auth_method: None,
            backchannel_logout_uri: None,
            backchannel_logout_session_required: false,
            scope_mappings: ScopeMappings::new(),
        }
    }

    /// Adds every mapped scope missing from `scopes`, so defining a mapping is enough to
    /// let the client request it. Entry points call this after setting both fields.
    pub fn allow_mapped_scopes(&mut self) {
        for scope in self.scope_mappings.keys() {
            if !self.scopes.contains(scope) {
                self.scopes.push(scope.clone());
            }
        }
    }

    /// The names of the custom claims the mappings can grant, for discovery.
    pub fn mapped_claims(&self) -> impl Iterator<Item = &str> {
        self.scope_mappings
            .values()
            .flat_map(|claims| claims.keys().map(String::as_str))
    }

    /// Whether the client may authenticate with `method`: the method must suit the client
    /// type (and `private_key_jwt` needs registered keys), and must be the registered one
    /// when a method is registered.
    pub fn allows_auth_method(&self, method: TokenEndpointAuthMethod) -> bool {
        let suits = match method {
            TokenEndpointAuthMethod::ClientSecretBasic
            | TokenEndpointAuthMethod::ClientSecretPost => {
                self.client_type == ClientType::Confidential
            }
            TokenEndpointAuthMethod::PrivateKeyJwt => {
                self.client_type == ClientType::Confidential && self.jwks.is_some()
            }
            TokenEndpointAuthMethod::None => self.client_type == ClientType::Public,
        };
        suits
            && self
                .token_endpoint_auth_method
                .is_none_or(|only| only == method)
    }

    /// Whether PKCE is mandatory for this client.
    pub fn pkce_required(&self) -> bool {
        self.require_pkce || self.client_type == ClientType::Public
    }

    /// Checks every field rule.
    pub fn validate(&self) -> Result<(), ValidationError> {
        client_id(&self.client_id)?;
        match (self.client_type, &self.client_secret_digest) {
            (ClientType::Public, Some(_)) => {
                return Err(ValidationError::new(
                    "client_secret",
                    "public clients have no secret",
                ));
            }
            (ClientType::Confidential, None) => {
                return Err(ValidationError::new(
                    "client_secret",
                    "confidential clients need a secret",
                ));
            }
            _ => {}
        }
        for (index, uri) in self.redirect_uris.iter().enumerate() {
            redirect_uri(uri)
                .map_err(|m| ValidationError::new(format!("redirect_uris[{index}]"), m.message))?;
        }
        for (index, uri) in self.post_logout_redirect_uris.iter().enumerate() {
            redirect_uri(uri).map_err(|m| {
                ValidationError::new(format!("post_logout_redirect_uris[{index}]"), m.message)
            })?;
        }
        if let Some(uri) = &self.backchannel_logout_uri {
            backchannel_logout_uri(uri)?;
        }
        if let Some(jwks) = &self.jwks {
            jwks_shape(jwks)?;
        }
        if let Some(method) = self.token_endpoint_auth_method
            && !self.allows_auth_method(method)
        {
            return Err(ValidationError::new(
                "token_endpoint_auth_method",
                match method {
                    TokenEndpointAuthMethod::PrivateKeyJwt => {
                        "private_key_jwt needs a confidential client with jwks"
                    }
                    TokenEndpointAuthMethod::None => "none is only for public clients",
                    _ => "client secrets are only for confidential clients",
                },
            ));
        }
        // Mappings first: a bad mapped scope is reported where it was written, not in the
        // `scopes` it was copied into.
        scope_mapping::validate(&self.scope_mappings)?;
        for (index, scope) in self.scopes.iter().enumerate() {
            scope_token(scope)
                .map_err(|m| ValidationError::new(format!("scopes[{index}]"), m.message))?;
        }
        if let Some(scope) = self
            .scope_mappings
            .keys()
            .find(|scope| !self.scopes.contains(scope))
        {
            return Err(ValidationError::new(
                format!("scope_mappings.{scope}"),
                "a mapped scope must also be an allowed scope",
            ));
        }
        for (field, value) in [
            (
                "authorization_code_lifetime",
                self.lifetimes.authorization_code,
            ),
            ("access_token_lifetime", self.lifetimes.access_token),
            ("refresh_token_lifetime", self.lifetimes.refresh_token),
        ] {
            if !(1..=MAX_LIFETIME_SECS).contains(&value) {
                return Err(ValidationError::new(
                    field,
                    "must be between 1 second and 366 days",
                ));
            }
        }
        Ok(())
    }
}

/// The scopes a new client may request unless configured otherwise.
pub const DEFAULT_SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];

/// An application about to be created.
#[derive(Clone, Debug, PartialEq)]
pub struct NewApplication {
    /// Unique slug.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Launch URL.
    pub launch_url: Option<String>,
    /// Names of the groups allowed to use it (all must exist); empty means everyone.
    pub allowed_groups: Vec<String>,
    /// Its OAuth2 provider.
    pub oauth2: Option<OAuth2Provider>,
}

impl NewApplication {
    /// Checks every field rule (group existence is the store's job).
    pub fn validate(&self) -> Result<(), ValidationError> {
        slug(&self.slug)?;
        if self.name.trim().is_empty() || self.name.trim() != self.name {
            return Err(ValidationError::new(
                "name",
                "must not be empty or start or end with spaces",
            ));
        }
        if self.name.chars().count() > MAX_NAME || self.name.chars().any(char::is_control) {
            return Err(ValidationError::new(
                "name",
                "must be at most 150 printable characters",
            ));
        }
        if let Some(url) = &self.launch_url {
            absolute_uri("launch_url", url)?;
        }
        if let Some(provider) = &self.oauth2 {
            provider.validate()?;
        }
        Ok(())
    }
}

/// The most keys a client may register, and the largest JWKS document, in bytes.
const MAX_CLIENT_KEYS: usize = 16;
const MAX_JWKS_BYTES: usize = 64 * 1024;

/// A client's JWKS must be `{"keys": [...]}` with 1-16 JSON objects, at most 64 KiB. Whether
/// each key is usable is checked by `gatehouse_oidc::client_assertion::client_keys`, which
/// has the cryptography.
pub fn jwks_shape(jwks: &serde_json::Value) -> Result<(), ValidationError> {
    let keys = jwks.get("keys").and_then(serde_json::Value::as_array);
    let ok = keys.is_some_and(|keys| {
        (1..=MAX_CLIENT_KEYS).contains(&keys.len()) && keys.iter().all(|k| k.is_object())
    }) && jwks.to_string().len() <= MAX_JWKS_BYTES;
    if ok {
        Ok(())
    } else {
        Err(ValidationError::new(
            "jwks",
            "must be a JWKS document {\"keys\": [...]} with 1-16 keys, at most 64 KiB",
        ))
    }
}

/// Slugs: 1-50 lowercase letters, digits and `-`, starting with a letter or digit.
pub fn slug(value: &str) -> Result<(), ValidationError> {
    let ok = !value.is_empty()
        && value.len() <= MAX_SLUG
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && value.bytes().next().is_some_and(|b| b != b'-');
    if ok {
        Ok(())
    } else {
        Err(ValidationError::new(
            "slug",
            "must be 1-50 lowercase letters, digits and -, not starting with -",
        ))
    }
}

/// Client ids: 1-255 printable ASCII characters other than space and `:` (RFC 6749 §2.3.1
/// sends them form-encoded in HTTP Basic, where `:` would split the pair).
pub fn client_id(value: &str) -> Result<(), ValidationError> {
    let ok = !value.is_empty()
        && value.len() <= MAX_CLIENT_ID
        && value.bytes().all(|b| b.is_ascii_graphic() && b != b':');
    if ok {
        Ok(())
    } else {
        Err(ValidationError::new(
            "client_id",
            "must be 1-255 printable ASCII characters without spaces or ':'",
        ))
    }
}

/// Registered redirect URIs: absolute, without a fragment (RFC 6749 §3.1.2), at most 2000
/// bytes, no whitespace or control characters.
pub fn redirect_uri(value: &str) -> Result<(), ValidationError> {
    absolute_uri("redirect_uri", value)?;
    if value.contains('#') {
        return Err(ValidationError::new(
            "redirect_uri",
            "must not contain a fragment (#)",
        ));
    }
    Ok(())
}

/// A back-channel logout URI (Back-Channel Logout 1.0 §2.2): absolute, no fragment, and
/// `https`, except plain `http` to a loopback host (127.0.0.0/8, `[::1]`, `localhost`) for
/// clients on the same machine, since the logout token would otherwise cross the network in
/// the clear.
pub fn backchannel_logout_uri(value: &str) -> Result<(), ValidationError> {
    const FIELD: &str = "backchannel_logout_uri";
    absolute_uri(FIELD, value)?;
    if value.contains('#') {
        return Err(ValidationError::new(
            FIELD,
            "must not contain a fragment (#)",
        ));
    }
    let lower = value.to_ascii_lowercase();
    if lower.starts_with("https://") {
        return Ok(());
    }
    let loopback = lower.strip_prefix("http://").is_some_and(|rest| {
        let authority = rest.split(['/', '?']).next().unwrap_or_default();
        let host = match authority.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or_default(),
            None => authority.split(':').next().unwrap_or_default(),
        };
        !authority.contains('@')
            && (host == "localhost"
                || host == "::1"
                || host
                    .parse::<std::net::Ipv4Addr>()
                    .is_ok_and(|ip| ip.is_loopback()))
    });
    if loopback {
        Ok(())
    } else {
        Err(ValidationError::new(
            FIELD,
            "must be an https URL (plain http only to a loopback host)",
        ))
    }
}

/// Scope tokens: RFC 6749 §3.3 `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`.
pub fn scope_token(value: &str) -> Result<(), ValidationError> {
    let ok = !value.is_empty()
        && value.len() <= 128
        && value
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b));
    if ok {
        Ok(())
    } else {
        Err(ValidationError::new(
            "scope",
            "must be 1-128 printable ASCII characters without spaces, quotes or backslashes",
        ))
    }
}

fn absolute_uri(field: &str, value: &str) -> Result<(), ValidationError> {
    let err = |m: &str| Err(ValidationError::new(field, m));
    if value.len() > MAX_URI {
        return err("must be at most 2000 bytes");
    }
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return err("must not contain spaces or control characters");
    }
    let Some((scheme, rest)) = value.split_once(':') else {
        return err("must be an absolute URI with a scheme (https://...)");
    };
    let scheme_ok = scheme
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic())
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    if !scheme_ok || rest.is_empty() {
        return err("must be an absolute URI with a scheme (https://...)");
    }
    if matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https")
        && rest
            .strip_prefix("//")
            .is_none_or(|r| r.is_empty() || r.starts_with('/'))
    {
        return err("an http(s) URI must name a host");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        for ok in ["grafana", "a", "my-app-2", &"a".repeat(50)] {
            assert!(slug(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-a", "Grafana", "a b", "a_b", &"a".repeat(51), "é"] {
            assert!(slug(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn redirect_uris() {
        for ok in [
            "https://grafana.example.com/login/generic_oauth",
            "http://127.0.0.1/callback",
            "http://[::1]:8000/cb",
            "com.example.app:/oauth2redirect",
            "https://a.example/cb?x=1",
        ] {
            assert!(redirect_uri(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "/relative",
            "https://a.example/cb#frag",
            "https:///nohost",
            "https://",
            "https://a.example/ cb",
            "1http://a",
            &format!("https://a.example/{}", "x".repeat(2000)),
        ] {
            assert!(redirect_uri(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn backchannel_logout_uris() {
        for ok in [
            "https://grafana.example.com/logout/backchannel",
            "HTTPS://a.example/bc?x=1",
            "http://127.0.0.1:8080/bc",
            "http://127.1.2.3/bc",
            "http://[::1]:9000/bc",
            "http://localhost/bc",
        ] {
            assert!(backchannel_logout_uri(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "/relative",
            "http://grafana.example.com/bc",
            "http://127.0.0.1.example.com/bc",
            "http://127.0.0.1@evil.example/bc",
            "http://localhost.evil.example/bc",
            "https://a.example/bc#frag",
            "com.example.app:/bc",
            "ftp://127.0.0.1/bc",
        ] {
            assert!(backchannel_logout_uri(bad).is_err(), "{bad}");
        }
        let mut provider = OAuth2Provider::new(ClientType::Public, "cli");
        provider.backchannel_logout_uri = Some("http://rp.example/bc".into());
        assert_eq!(
            provider.validate().map_err(|e| e.field),
            Err("backchannel_logout_uri".into())
        );
    }

    #[test]
    fn provider_rules() {
        let mut public = OAuth2Provider::new(ClientType::Public, "cli");
        assert!(public.validate().is_ok());
        assert!(public.pkce_required());
        public.client_secret_digest = Some("d".into());
        assert_eq!(
            public.validate().map_err(|e| e.field),
            Err("client_secret".into())
        );
        let mut confidential = OAuth2Provider::new(ClientType::Confidential, "grafana");
        assert!(confidential.validate().is_err(), "secret required");
        assert!(!confidential.pkce_required());
        confidential.client_secret_digest = Some("d".into());
        confidential.redirect_uris = vec!["https://ok.example/cb".into(), "nope".into()];
        assert_eq!(
            confidential.validate().map_err(|e| e.field),
            Err("redirect_uris[1]".into())
        );
        confidential.redirect_uris.pop();
        confidential.scopes.push("bad scope".into());
        assert_eq!(
            confidential.validate().map_err(|e| e.field),
            Err("scopes[4]".into())
        );
        confidential.scopes.pop();
        confidential.lifetimes.access_token = 0;
        assert!(confidential.validate().is_err());
        assert!(client_id("a:b").is_err());
        assert!(client_id("grafana").is_ok());
    }

    #[test]
    fn group_policy() {
        let group = GroupId::new();
        let mut app = Application {
            id: ApplicationId::new(),
            slug: "a".into(),
            name: "A".into(),
            launch_url: None,
            allowed_groups: Vec::new(),
            oauth2: None,
            created_at: Utc::now(),
        };
        assert!(app.admits(&[]));
        app.allowed_groups.push(AllowedGroup {
            id: group,
            name: "g".into(),
        });
        assert!(!app.admits(&[]));
        assert!(!app.admits(&[GroupId::new()]));
        assert!(app.admits(&[GroupId::new(), group]));
    }

    #[test]
    fn enum_names_round_trip() {
        for mode in [
            SubjectMode::HashedUserId,
            SubjectMode::UserId,
            SubjectMode::Username,
            SubjectMode::Email,
            SubjectMode::Dex,
        ] {
            assert_eq!(SubjectMode::parse(mode.as_str()), Some(mode));
        }
        assert_eq!(ClientType::parse("public"), Some(ClientType::Public));
        assert_eq!(ConsentMode::parse("nope"), None);
    }
}
