//! Where a source's endpoints are: OpenID Connect Discovery 1.0 documents (§3, §4.3), the
//! Forgejo/Gitea and GitHub presets, and endpoints given by hand, which always win.

use crate::SourceError;
use gatehouse_core::{NewSource, SourceKind};
use serde_json::Value;

/// The path of an OIDC discovery document under its issuer (Discovery §4).
pub const WELL_KNOWN: &str = "/.well-known/openid-configuration";
/// GitHub's web host when no enterprise base URL is set.
const GITHUB: &str = "https://github.com";
/// GitHub's API when no enterprise base URL is set.
const GITHUB_API: &str = "https://api.github.com";

/// Which preset API gives the user and their groups when the upstream speaks plain OAuth2.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UserApi {
    /// Forgejo/Gitea: `GET <base>/api/v1/user`, `/api/v1/user/orgs`, `/api/v1/user/teams`.
    Forgejo {
        /// `<base>/api/v1`.
        api_base: String,
    },
    /// GitHub: `GET <api>/user`, `/user/emails`, `/user/orgs`, `/user/teams`.
    Github {
        /// `https://api.github.com` or `<enterprise>/api/v3`.
        api_base: String,
    },
    /// A plain OAuth2 server: one user-info document read with the source's claim paths.
    ClaimPaths,
}

impl UserApi {
    /// The URL of the current user's document.
    pub fn user_url(&self, userinfo_url: Option<&str>) -> Option<String> {
        match self {
            Self::Forgejo { api_base } | Self::Github { api_base } => {
                Some(format!("{api_base}/user"))
            }
            Self::ClaimPaths => userinfo_url.map(str::to_owned),
        }
    }

    /// URLs of the documents listing organisations and teams (fetched in this order).
    pub fn group_urls(&self) -> Option<(String, String)> {
        match self {
            Self::Forgejo { api_base } | Self::Github { api_base } => Some((
                format!("{api_base}/user/orgs"),
                format!("{api_base}/user/teams"),
            )),
            Self::ClaimPaths => None,
        }
    }
}

/// The endpoints a login uses, after presets, discovery and overrides.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedEndpoints {
    /// The upstream speaks OpenID Connect: an ID token is required and validated.
    pub openid: bool,
    /// Expected `iss` (OIDC only).
    pub issuer: Option<String>,
    /// Authorization endpoint.
    pub authorize_url: String,
    /// Token endpoint.
    pub token_url: String,
    /// User-info endpoint, if any.
    pub userinfo_url: Option<String>,
    /// ID-token keys (OIDC only).
    pub jwks_url: Option<String>,
    /// How to read the user when there is no ID token, or their groups.
    pub user_api: UserApi,
}

/// The discovery document to fetch first, if the source has one: Forgejo and Gitea offer
/// OIDC at `<base>/.well-known/openid-configuration`; an `oidc` source names it.
pub fn discovery_url(source: &NewSource) -> Option<String> {
    if let Some(url) = &source.endpoints.discovery_url {
        return Some(url.clone());
    }
    match (source.kind, &source.base_url) {
        (SourceKind::Forgejo | SourceKind::Gitea, Some(base)) => {
            Some(format!("{base}{WELL_KNOWN}"))
        }
        _ => None,
    }
}

/// The members of a discovery document a login needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Discovery {
    /// `issuer`.
    pub issuer: String,
    /// `authorization_endpoint`.
    pub authorization_endpoint: String,
    /// `token_endpoint`.
    pub token_endpoint: String,
    /// `userinfo_endpoint`.
    pub userinfo_endpoint: Option<String>,
    /// `jwks_uri`.
    pub jwks_uri: String,
}

/// Reads a discovery document fetched from `fetched_from`. Discovery §4.3: the `issuer`
/// must be exactly the URL the document was fetched under, without the well-known suffix,
/// so a document cannot claim another issuer.
pub fn parse_discovery(document: &Value, fetched_from: &str) -> Result<Discovery, SourceError> {
    let bad = SourceError::BadDocument("discovery document");
    let member = |name: &str| {
        document
            .get(name)
            .and_then(Value::as_str)
            .filter(|url| is_http_url(url))
            .map(str::to_owned)
    };
    let issuer = member("issuer").ok_or(bad.clone())?;
    let expected = fetched_from
        .strip_suffix(WELL_KNOWN)
        .ok_or(bad.clone())?
        .trim_end_matches('/');
    if issuer.trim_end_matches('/') != expected {
        return Err(SourceError::BadDocument(
            "discovery document (its issuer does not match its URL)",
        ));
    }
    Ok(Discovery {
        issuer,
        authorization_endpoint: member("authorization_endpoint").ok_or(bad.clone())?,
        token_endpoint: member("token_endpoint").ok_or(bad.clone())?,
        userinfo_endpoint: member("userinfo_endpoint"),
        jwks_uri: member("jwks_uri").ok_or(bad)?,
    })
}

fn is_http_url(url: &str) -> bool {
    url.len() <= 2048
        && (url.starts_with("https://") || url.starts_with("http://"))
        && !url.chars().any(|c| c.is_control() || c.is_whitespace())
}

/// Resolves the endpoints of `source`, given its discovery document when it has one and it
/// could be fetched. Forgejo/Gitea without discovery fall back to `/login/oauth/*` and
/// `/api/v1/user`; an `oidc` source needs discovery or every endpoint by hand.
pub fn resolve(
    source: &NewSource,
    discovery: Option<&Discovery>,
) -> Result<ResolvedEndpoints, SourceError> {
    let given = &source.endpoints;
    let forgejo_api = |base: &str| UserApi::Forgejo {
        api_base: format!("{base}/api/v1"),
    };
    let mut resolved = match (source.kind, discovery) {
        (SourceKind::Forgejo | SourceKind::Gitea | SourceKind::Oidc, Some(found)) => {
            ResolvedEndpoints {
                openid: true,
                issuer: Some(found.issuer.clone()),
                authorize_url: found.authorization_endpoint.clone(),
                token_url: found.token_endpoint.clone(),
                userinfo_url: found.userinfo_endpoint.clone(),
                jwks_url: Some(found.jwks_uri.clone()),
                user_api: match (&source.kind, &source.base_url) {
                    (SourceKind::Forgejo | SourceKind::Gitea, Some(base)) => forgejo_api(base),
                    _ => UserApi::ClaimPaths,
                },
            }
        }
        (SourceKind::Forgejo | SourceKind::Gitea, None) => {
            let base = source
                .base_url
                .as_deref()
                .ok_or(SourceError::BadDocument("source settings (no base_url)"))?;
            ResolvedEndpoints {
                openid: false,
                issuer: None,
                authorize_url: format!("{base}/login/oauth/authorize"),
                token_url: format!("{base}/login/oauth/access_token"),
                userinfo_url: None,
                jwks_url: None,
                user_api: forgejo_api(base),
            }
        }
        (SourceKind::Github, _) => {
            let (web, api) = match &source.base_url {
                Some(base) => (base.clone(), format!("{base}/api/v3")),
                None => (GITHUB.to_owned(), GITHUB_API.to_owned()),
            };
            ResolvedEndpoints {
                openid: false,
                issuer: None,
                authorize_url: format!("{web}/login/oauth/authorize"),
                token_url: format!("{web}/login/oauth/access_token"),
                userinfo_url: None,
                jwks_url: None,
                user_api: UserApi::Github { api_base: api },
            }
        }
        (SourceKind::Oidc, None) => {
            let missing = SourceError::BadDocument("source settings (endpoints missing)");
            ResolvedEndpoints {
                openid: true,
                issuer: given.issuer.clone(),
                authorize_url: given.authorize_url.clone().ok_or(missing.clone())?,
                token_url: given.token_url.clone().ok_or(missing.clone())?,
                userinfo_url: given.userinfo_url.clone(),
                jwks_url: Some(given.jwks_url.clone().ok_or(missing)?),
                user_api: UserApi::ClaimPaths,
            }
        }
        (SourceKind::Oauth2, _) => {
            let missing = SourceError::BadDocument("source settings (endpoints missing)");
            ResolvedEndpoints {
                openid: false,
                issuer: None,
                authorize_url: given.authorize_url.clone().ok_or(missing.clone())?,
                token_url: given.token_url.clone().ok_or(missing.clone())?,
                userinfo_url: Some(given.userinfo_url.clone().ok_or(missing)?),
                jwks_url: None,
                user_api: UserApi::ClaimPaths,
            }
        }
    };
    if let Some(url) = &given.authorize_url {
        resolved.authorize_url = url.clone();
    }
    if let Some(url) = &given.token_url {
        resolved.token_url = url.clone();
    }
    if let Some(url) = &given.userinfo_url {
        resolved.userinfo_url = Some(url.clone());
    }
    if resolved.openid {
        if let Some(url) = &given.jwks_url {
            resolved.jwks_url = Some(url.clone());
        }
        if let Some(issuer) = &given.issuer {
            resolved.issuer = Some(issuer.clone());
        }
        if resolved.issuer.is_none() {
            return Err(SourceError::BadDocument("source settings (no issuer)"));
        }
    }
    Ok(resolved)
}

/// The scopes to ask for: the source's own, else the preset's defaults (with `groups` for
/// Forgejo/Gitea OIDC, which puts `org` and `org:team` names in a `groups` claim).
pub fn scopes(source: &NewSource, endpoints: &ResolvedEndpoints) -> Vec<String> {
    if !source.scopes.is_empty() {
        let mut scopes = source.scopes.clone();
        if endpoints.openid && !scopes.iter().any(|s| s == "openid") {
            scopes.insert(0, "openid".into());
        }
        return scopes;
    }
    let defaults: &[&str] = match (source.kind, endpoints.openid) {
        (SourceKind::Forgejo | SourceKind::Gitea, true) => {
            &["openid", "profile", "email", "groups"]
        }
        (_, true) => &["openid", "profile", "email"],
        (SourceKind::Forgejo | SourceKind::Gitea, false) => &["read:user", "read:organization"],
        (SourceKind::Github, false) => &["read:user", "user:email", "read:org"],
        (_, false) => &[],
    };
    defaults.iter().map(|s| (*s).to_owned()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn forgejo() -> NewSource {
        let mut source = NewSource::new("forgejo", "Forgejo", SourceKind::Forgejo, "gatehouse");
        source.base_url = Some("https://git.example.com".into());
        source
    }

    #[test]
    fn forgejo_prefers_discovery_and_falls_back_to_login_oauth() {
        let source = forgejo();
        let url = discovery_url(&source).expect("forgejo has discovery");
        assert_eq!(
            url,
            "https://git.example.com/.well-known/openid-configuration"
        );
        let fallback = resolve(&source, None).expect("fallback");
        assert!(!fallback.openid);
        assert_eq!(
            fallback.authorize_url,
            "https://git.example.com/login/oauth/authorize"
        );
        assert_eq!(
            fallback.token_url,
            "https://git.example.com/login/oauth/access_token"
        );
        assert_eq!(
            fallback.user_api.user_url(None).as_deref(),
            Some("https://git.example.com/api/v1/user")
        );
        assert_eq!(
            scopes(&source, &fallback),
            ["read:user", "read:organization"]
        );
        let document = json!({
            "issuer": "https://git.example.com/",
            "authorization_endpoint": "https://git.example.com/login/oauth/authorize",
            "token_endpoint": "https://git.example.com/login/oauth/access_token",
            "userinfo_endpoint": "https://git.example.com/login/oauth/userinfo",
            "jwks_uri": "https://git.example.com/login/oauth/keys",
        });
        let found = parse_discovery(&document, &url).expect("discovery");
        let oidc = resolve(&source, Some(&found)).expect("oidc");
        assert!(oidc.openid);
        assert_eq!(oidc.issuer.as_deref(), Some("https://git.example.com/"));
        assert_eq!(
            oidc.jwks_url.as_deref(),
            Some("https://git.example.com/login/oauth/keys")
        );
        assert_eq!(
            scopes(&source, &oidc),
            ["openid", "profile", "email", "groups"]
        );
    }

    #[test]
    fn a_discovery_document_for_another_issuer_is_refused() {
        let document = json!({
            "issuer": "https://evil.example.com",
            "authorization_endpoint": "https://evil.example.com/a",
            "token_endpoint": "https://evil.example.com/t",
            "jwks_uri": "https://evil.example.com/k",
        });
        let url = "https://idp.example.com/.well-known/openid-configuration";
        assert!(parse_discovery(&document, url).is_err());
        let mut missing = document.clone();
        missing["issuer"] = json!("https://idp.example.com");
        missing.as_object_mut().map(|o| o.remove("jwks_uri"));
        assert!(parse_discovery(&missing, url).is_err());
        let mut not_http = missing.clone();
        not_http["jwks_uri"] = json!("file:///etc/passwd");
        assert!(parse_discovery(&not_http, url).is_err());
    }

    #[test]
    fn github_and_enterprise() {
        let mut source = NewSource::new("gh", "GitHub", SourceKind::Github, "id");
        assert_eq!(discovery_url(&source), None);
        let public = resolve(&source, None).expect("github");
        assert_eq!(
            public.authorize_url,
            "https://github.com/login/oauth/authorize"
        );
        assert_eq!(
            public.user_api.group_urls(),
            Some((
                "https://api.github.com/user/orgs".into(),
                "https://api.github.com/user/teams".into()
            ))
        );
        source.base_url = Some("https://ghe.example.com".into());
        let enterprise = resolve(&source, None).expect("ghe");
        assert_eq!(
            enterprise.user_api.user_url(None).as_deref(),
            Some("https://ghe.example.com/api/v3/user")
        );
    }

    #[test]
    fn endpoints_given_by_hand_win_and_oidc_needs_an_issuer() {
        let mut source = NewSource::new("idp", "IdP", SourceKind::Oidc, "id");
        source.endpoints.authorize_url = Some("https://idp.example.com/auth".into());
        source.endpoints.token_url = Some("https://idp.example.com/token".into());
        source.endpoints.jwks_url = Some("https://idp.example.com/jwks".into());
        assert!(resolve(&source, None).is_err());
        source.endpoints.issuer = Some("https://idp.example.com".into());
        let resolved = resolve(&source, None).expect("by hand");
        assert_eq!(resolved.authorize_url, "https://idp.example.com/auth");
        source.scopes = vec!["email".into()];
        assert_eq!(scopes(&source, &resolved), ["openid", "email"]);
    }
}
