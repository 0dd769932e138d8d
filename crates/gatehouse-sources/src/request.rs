//! The authorization request to the upstream (RFC 6749 §4.1.1) and the checks on its answer
//! (§4.1.2). Every request carries PKCE S256 (RFC 7636 §4.2), a fresh `state` and a fresh
//! `nonce`, whatever the upstream supports: extra parameters are ignored by servers that do
//! not know them. The [`PendingLogin`] is what the server keeps, sealed and bound to the
//! browser, until the callback.

use crate::SourceError;
use crate::endpoints::ResolvedEndpoints;
use chrono::{DateTime, Duration, Utc};
use gatehouse_core::UserId;
use gatehouse_crypto::{constant_time_eq, generate_token};
use gatehouse_oidc::authorize::form_encode;
use gatehouse_oidc::pkce::s256_challenge;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How long a started login may take before its callback is refused.
pub const PENDING_LIFETIME_MINUTES: i64 = 10;

/// Why the upstream login was started.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LoginPurpose {
    /// Sign in (or enrol).
    SignIn,
    /// A signed-in user adds a connection from the portal.
    Link {
        /// The signed-in user.
        user: UserId,
    },
}

/// A started login, kept by the server until the callback.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingLogin {
    /// The source's slug.
    pub source: String,
    /// `state` sent to the upstream.
    pub state: String,
    /// `nonce` sent to the upstream.
    pub nonce: String,
    /// The PKCE verifier.
    pub code_verifier: String,
    /// Sign in or link.
    pub purpose: LoginPurpose,
    /// A validated local path to return to afterwards.
    pub next: Option<String>,
    /// The flow whose identification page started the login, resumed after the callback
    /// (the default authentication flow when `None`).
    #[serde(default)]
    pub flow: Option<String>,
    /// When it was started.
    pub created_at: DateTime<Utc>,
}

impl std::fmt::Debug for PendingLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingLogin")
            .field("source", &self.source)
            .field("purpose", &self.purpose)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// Where to send the browser, and what to keep.
#[derive(Clone, Debug)]
pub struct AuthorizationRequest {
    /// The upstream's authorization URL with every parameter.
    pub url: String,
    /// The state to keep until the callback.
    pub pending: PendingLogin,
}

/// What the login needs from the source to start.
#[derive(Clone, Copy, Debug)]
pub struct RequestInput<'a> {
    /// The source's slug.
    pub source: &'a str,
    /// Resolved endpoints.
    pub endpoints: &'a ResolvedEndpoints,
    /// Our client id at the upstream.
    pub client_id: &'a str,
    /// `https://<gatehouse>/source/oauth/callback/<slug>/`.
    pub redirect_uri: &'a str,
    /// Scopes to ask for.
    pub scopes: &'a [String],
}

/// Builds the authorization request with fresh `state`, `nonce` and PKCE verifier.
pub fn authorization_request(
    input: RequestInput<'_>,
    purpose: LoginPurpose,
    next: Option<String>,
    now: DateTime<Utc>,
) -> AuthorizationRequest {
    let pending = PendingLogin {
        source: input.source.to_owned(),
        state: generate_token(""),
        nonce: generate_token(""),
        code_verifier: generate_token(""),
        purpose,
        next,
        flow: None,
        created_at: now,
    };
    let challenge = s256_challenge(&pending.code_verifier);
    let scope = input.scopes.join(" ");
    let params = [
        ("response_type", "code"),
        ("client_id", input.client_id),
        ("redirect_uri", input.redirect_uri),
        ("scope", scope.as_str()),
        ("state", pending.state.as_str()),
        ("nonce", pending.nonce.as_str()),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let base = &input.endpoints.authorize_url;
    let mut url = String::with_capacity(base.len() + 512);
    url.push_str(base);
    let mut separator = if base.contains('?') { '&' } else { '?' };
    for (name, value) in params {
        if name == "scope" && value.is_empty() {
            continue;
        }
        url.push(separator);
        url.push_str(name);
        url.push('=');
        url.push_str(&form_encode(value));
        separator = '&';
    }
    AuthorizationRequest { url, pending }
}

/// The query of a callback.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
pub struct CallbackParams {
    /// The authorization code.
    pub code: Option<String>,
    /// The state we sent.
    pub state: Option<String>,
    /// An error code instead of a code.
    pub error: Option<String>,
    /// RFC 9207 issuer identification.
    pub iss: Option<String>,
}

impl std::fmt::Debug for CallbackParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallbackParams")
            .field("has_code", &self.code.is_some())
            .field("error", &self.error)
            .field("iss", &self.iss)
            .finish_non_exhaustive()
    }
}

/// Checks a callback against the login it should answer and returns the code. The state must
/// match in constant time; the login must be for this source and younger than
/// [`PENDING_LIFETIME_MINUTES`]; an `iss` parameter, when the upstream sends one, must be its
/// issuer (RFC 9207 §2.4, against mix-up attacks).
pub fn check_callback(
    params: &CallbackParams,
    pending: &PendingLogin,
    source: &str,
    issuer: Option<&str>,
    now: DateTime<Utc>,
) -> Result<String, SourceError> {
    let state = params.state.as_deref().ok_or(SourceError::BadState)?;
    if pending.source != source
        || !constant_time_eq(state.as_bytes(), pending.state.as_bytes())
        || now - pending.created_at > Duration::minutes(PENDING_LIFETIME_MINUTES)
        || now < pending.created_at - Duration::minutes(1)
    {
        return Err(SourceError::BadState);
    }
    if let (Some(sent), Some(expected)) = (&params.iss, issuer)
        && sent != expected
    {
        return Err(SourceError::UpstreamRefused(
            "the response names another issuer".into(),
        ));
    }
    if let Some(error) = &params.error {
        let code: String = error
            .chars()
            .filter(|c| c.is_ascii_graphic())
            .take(64)
            .collect();
        return Err(SourceError::UpstreamRefused(code));
    }
    params
        .code
        .clone()
        .filter(|code| !code.is_empty() && code.len() <= 4096)
        .ok_or(SourceError::UpstreamRefused("no code".into()))
}

/// The form of the token request (RFC 6749 §4.1.3 with RFC 7636 §4.5), with the client
/// secret in the body (`client_secret_post`), which Forgejo, Gitea, GitHub and most OIDC
/// providers accept.
pub fn token_request_form(
    code: &str,
    redirect_uri: &str,
    pending: &PendingLogin,
    client_id: &str,
    client_secret: Option<&str>,
) -> Vec<(&'static str, String)> {
    let mut form = vec![
        ("grant_type", "authorization_code".to_owned()),
        ("code", code.to_owned()),
        ("redirect_uri", redirect_uri.to_owned()),
        ("code_verifier", pending.code_verifier.clone()),
        ("client_id", client_id.to_owned()),
    ];
    if let Some(secret) = client_secret {
        form.push(("client_secret", secret.to_owned()));
    }
    form
}

/// A successful token response (RFC 6749 §5.1).
#[derive(Clone, PartialEq, Eq)]
pub struct TokenResponse {
    /// The access token, for user-info and the preset APIs.
    pub access_token: String,
    /// The ID token, from OpenID providers.
    pub id_token: Option<String>,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("has_id_token", &self.id_token.is_some())
            .finish_non_exhaustive()
    }
}

/// Reads a token response; an error response (§5.2) becomes [`SourceError::UpstreamRefused`]
/// with its code. `token_type` must be `Bearer` (any case; GitHub sends `bearer`).
pub fn parse_token_response(document: &Value) -> Result<TokenResponse, SourceError> {
    if let Some(error) = document.get("error").and_then(Value::as_str) {
        let code: String = error
            .chars()
            .filter(|c| c.is_ascii_graphic())
            .take(64)
            .collect();
        return Err(SourceError::UpstreamRefused(code));
    }
    let bad = SourceError::BadDocument("token response");
    let access_token = document
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or(bad.clone())?;
    let token_type = document
        .get("token_type")
        .and_then(Value::as_str)
        .ok_or(bad.clone())?;
    if !token_type.eq_ignore_ascii_case("bearer") {
        return Err(bad);
    }
    Ok(TokenResponse {
        access_token: access_token.to_owned(),
        id_token: document
            .get("id_token")
            .and_then(Value::as_str)
            .map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoints::UserApi;
    use serde_json::json;

    fn endpoints() -> ResolvedEndpoints {
        ResolvedEndpoints {
            openid: true,
            issuer: Some("https://git.example.com".into()),
            authorize_url: "https://git.example.com/login/oauth/authorize".into(),
            token_url: "https://git.example.com/login/oauth/access_token".into(),
            userinfo_url: None,
            jwks_url: None,
            user_api: UserApi::ClaimPaths,
        }
    }

    fn started(now: DateTime<Utc>) -> AuthorizationRequest {
        let endpoints = endpoints();
        let scopes = vec!["openid".to_owned(), "read:org".to_owned()];
        authorization_request(
            RequestInput {
                source: "forgejo",
                endpoints: &endpoints,
                client_id: "gate house",
                redirect_uri: "https://id.example.com/source/oauth/callback/forgejo/",
                scopes: &scopes,
            },
            LoginPurpose::SignIn,
            None,
            now,
        )
    }

    #[test]
    fn the_request_always_carries_pkce_state_and_nonce() {
        let request = started(Utc::now());
        let url = &request.url;
        assert!(
            url.starts_with("https://git.example.com/login/oauth/authorize?response_type=code&")
        );
        assert!(url.contains("client_id=gate%20house"));
        assert!(url.contains(
            "redirect_uri=https%3A%2F%2Fid.example.com%2Fsource%2Foauth%2Fcallback%2Fforgejo%2F"
        ));
        assert!(url.contains("scope=openid%20read%3Aorg"));
        assert!(url.contains(&format!("state={}", request.pending.state)));
        assert!(url.contains(&format!("nonce={}", request.pending.nonce)));
        let challenge = s256_challenge(&request.pending.code_verifier);
        assert!(url.contains(&format!(
            "code_challenge={challenge}&code_challenge_method=S256"
        )));
        assert!(!url.contains(&request.pending.code_verifier));
        let again = started(Utc::now());
        assert_ne!(again.pending.state, request.pending.state);
        assert_ne!(again.pending.nonce, request.pending.nonce);
        assert!(!format!("{:?}", request.pending).contains(&request.pending.state));
    }

    #[test]
    fn callbacks_must_answer_this_login() {
        let now = Utc::now();
        let pending = started(now).pending;
        let good = CallbackParams {
            code: Some("abc".into()),
            state: Some(pending.state.clone()),
            ..CallbackParams::default()
        };
        let issuer = Some("https://git.example.com");
        assert_eq!(
            check_callback(&good, &pending, "forgejo", issuer, now).as_deref(),
            Ok("abc")
        );
        let mut wrong_state = good.clone();
        wrong_state.state = Some("forged".into());
        assert_eq!(
            check_callback(&wrong_state, &pending, "forgejo", issuer, now),
            Err(SourceError::BadState)
        );
        let mut no_state = good.clone();
        no_state.state = None;
        assert!(check_callback(&no_state, &pending, "forgejo", issuer, now).is_err());
        assert_eq!(
            check_callback(&good, &pending, "github", issuer, now),
            Err(SourceError::BadState)
        );
        let late = now + Duration::minutes(PENDING_LIFETIME_MINUTES + 1);
        assert_eq!(
            check_callback(&good, &pending, "forgejo", issuer, late),
            Err(SourceError::BadState)
        );
        let mut mixed_up = good.clone();
        mixed_up.iss = Some("https://evil.example.com".into());
        assert!(matches!(
            check_callback(&mixed_up, &pending, "forgejo", issuer, now),
            Err(SourceError::UpstreamRefused(_))
        ));
        let mut denied = good;
        denied.code = None;
        denied.error = Some("access_denied\n<script>".into());
        assert_eq!(
            check_callback(&denied, &pending, "forgejo", issuer, now),
            Err(SourceError::UpstreamRefused("access_denied<script>".into()))
        );
    }

    #[test]
    fn token_responses() {
        let ok = json!({"access_token": "at", "token_type": "bearer", "id_token": "x.y.z"});
        let parsed = parse_token_response(&ok).expect("ok");
        assert_eq!(parsed.access_token, "at");
        assert_eq!(parsed.id_token.as_deref(), Some("x.y.z"));
        assert!(parse_token_response(&json!({"access_token": "at", "token_type": "mac"})).is_err());
        assert!(parse_token_response(&json!({"token_type": "Bearer"})).is_err());
        assert_eq!(
            parse_token_response(&json!({"error": "invalid_grant"})),
            Err(SourceError::UpstreamRefused("invalid_grant".into()))
        );
        let pending = started(Utc::now()).pending;
        let form = token_request_form("c", "https://r/", &pending, "id", Some("s"));
        assert!(form.contains(&("code_verifier", pending.code_verifier.clone())));
        assert!(form.contains(&("client_secret", "s".to_owned())));
    }
}
