//! Authorization request validation: RFC 6749 §4.1.1 with the OpenID Connect Core §3.1.2.1
//! parameters, in the order §4.1.2.1 requires. First the client and its redirect URI are
//! established; until both are trusted every error is an error page ([`AuthorizeError::Page`]),
//! never a redirect. After that, errors go back to the client ([`AuthorizeError::Redirect`]).

use crate::error::{AuthorizeError, AuthorizeErrorCode};
use crate::params::Params;
use crate::{pkce, redirect};
use gatehouse_core::{OAuth2Provider, validate};

/// The longest `state` and `nonce` we accept, in bytes.
const MAX_STATE: usize = 1024;

/// `prompt` values (OIDC Core §3.1.2.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Prompt {
    /// `none`: never show a page; fail with `login_required`/`consent_required` instead.
    pub none: bool,
    /// `login`: make the user sign in again even with a session.
    pub login: bool,
    /// `consent`: ask for consent even if remembered.
    pub consent: bool,
}

/// A validated authorization request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthorizationRequest {
    /// The client.
    pub client_id: String,
    /// The redirect URI the response goes to (as requested, or the single registered one).
    pub redirect_uri: String,
    /// Whether the client sent `redirect_uri` (then the token request must repeat it,
    /// RFC 6749 §4.1.3).
    pub redirect_uri_sent: bool,
    /// Granted scopes: the requested ones the client is allowed, in request order.
    pub scopes: Vec<String>,
    /// Opaque client state, echoed back.
    pub state: Option<String>,
    /// OIDC nonce, copied into the ID token.
    pub nonce: Option<String>,
    /// PKCE `S256` challenge.
    pub code_challenge: Option<String>,
    /// `prompt`.
    pub prompt: Prompt,
    /// `max_age` in seconds.
    pub max_age: Option<u64>,
    /// `login_hint`, to prefill the username.
    pub login_hint: Option<String>,
}

impl AuthorizationRequest {
    /// Whether this is an OpenID Connect request (scope includes `openid`).
    pub fn is_openid(&self) -> bool {
        self.scopes.iter().any(|s| s == "openid")
    }
}

/// Reads `client_id`; a missing one is an error page.
pub fn client_id(params: &Params) -> Result<&str, AuthorizeError> {
    let id = params
        .get("client_id")
        .ok_or_else(|| AuthorizeError::Page("the request has no client_id".into()))?;
    gatehouse_core::application::client_id(id)
        .map_err(|_| AuthorizeError::Page("the client_id is malformed".into()))?;
    Ok(id)
}

/// Validates the request for `provider` (the client found by [`client_id`]).
pub fn validate(
    params: &Params,
    provider: &OAuth2Provider,
) -> Result<AuthorizationRequest, AuthorizeError> {
    // 1. The redirect URI: until it is trusted, errors are pages.
    let (redirect_uri, redirect_uri_sent) = match params.get("redirect_uri") {
        Some(uri) => {
            if !redirect::matches(&provider.redirect_uris, uri, provider.client_type) {
                return Err(AuthorizeError::Page(
                    "the redirect_uri is not registered for this application".into(),
                ));
            }
            (uri.to_owned(), true)
        }
        None => match provider.redirect_uris.as_slice() {
            [only] => (only.clone(), false),
            _ => {
                return Err(AuthorizeError::Page(
                    "the request has no redirect_uri and the application registers several".into(),
                ));
            }
        },
    };
    let state = params.get("state").map(str::to_owned);
    let fail = |code: AuthorizeErrorCode, description: &str| AuthorizeError::Redirect {
        redirect_uri: redirect_uri.clone(),
        code,
        description: description.to_owned(),
        state: state.clone().filter(|s| s.len() <= MAX_STATE),
    };
    use AuthorizeErrorCode as E;

    if state.as_ref().is_some_and(|s| s.len() > MAX_STATE) {
        return Err(fail(E::InvalidRequest, "state is too long"));
    }
    if params.has("request") {
        return Err(fail(
            E::RequestNotSupported,
            "request objects are not supported",
        ));
    }
    if params.has("request_uri") {
        return Err(fail(
            E::RequestUriNotSupported,
            "request_uri is not supported",
        ));
    }
    // 2. response_type: only the authorization code flow.
    match params.get("response_type") {
        Some("code") => {}
        Some(_) => {
            return Err(fail(
                E::UnsupportedResponseType,
                "only response_type=code is supported",
            ));
        }
        None => return Err(fail(E::InvalidRequest, "response_type is required")),
    }
    if let Some(mode) = params.get("response_mode")
        && mode != "query"
    {
        return Err(fail(
            E::InvalidRequest,
            "only response_mode=query is supported",
        ));
    }
    // 3. Scopes: keep the allowed ones (RFC 6749 §3.3 lets us grant fewer).
    let requested = params.get("scope").unwrap_or_default();
    let mut scopes: Vec<String> = Vec::new();
    for scope in requested.split(' ').filter(|s| !s.is_empty()) {
        if validate_scope(scope).is_err() {
            return Err(fail(E::InvalidScope, "scope is malformed"));
        }
        if provider.scopes.iter().any(|s| s == scope) && !scopes.iter().any(|s| s == scope) {
            scopes.push(scope.to_owned());
        }
    }
    if scopes.is_empty() {
        return Err(fail(
            E::InvalidScope,
            "none of the requested scopes is allowed for this application",
        ));
    }
    // 4. PKCE.
    let code_challenge = match (
        params.get("code_challenge"),
        params.get("code_challenge_method"),
    ) {
        (Some(challenge), Some("S256")) => {
            if !pkce::is_valid_syntax(challenge) {
                return Err(fail(E::InvalidRequest, "code_challenge is malformed"));
            }
            Some(challenge.to_owned())
        }
        (Some(_), Some(_)) => {
            return Err(fail(
                E::InvalidRequest,
                "only code_challenge_method=S256 is supported",
            ));
        }
        (Some(_), None) => {
            // RFC 7636 §4.3 defaults to plain, which we refuse.
            return Err(fail(
                E::InvalidRequest,
                "code_challenge_method=S256 is required",
            ));
        }
        (None, Some(_)) => return Err(fail(E::InvalidRequest, "code_challenge is missing")),
        (None, None) => None,
    };
    if code_challenge.is_none() && provider.pkce_required() {
        return Err(fail(
            E::InvalidRequest,
            "this client must use PKCE (code_challenge with S256)",
        ));
    }
    // 5. OIDC parameters.
    let nonce = params.get("nonce").map(str::to_owned);
    if nonce.as_ref().is_some_and(|n| n.len() > MAX_STATE) {
        return Err(fail(E::InvalidRequest, "nonce is too long"));
    }
    let mut prompt = Prompt::default();
    for value in params
        .get("prompt")
        .unwrap_or_default()
        .split(' ')
        .filter(|v| !v.is_empty())
    {
        match value {
            "none" => prompt.none = true,
            "login" => prompt.login = true,
            "consent" => prompt.consent = true,
            "select_account" => {}
            _ => return Err(fail(E::InvalidRequest, "prompt has an unknown value")),
        }
    }
    if prompt.none && (prompt.login || prompt.consent) {
        return Err(fail(
            E::InvalidRequest,
            "prompt=none cannot be combined with other values",
        ));
    }
    let max_age = match params.get("max_age") {
        Some(text) => Some(
            text.parse::<u64>()
                .ok()
                .filter(|_| text.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| fail(E::InvalidRequest, "max_age must be a non-negative integer"))?,
        ),
        None => None,
    };
    let login_hint = params
        .get("login_hint")
        .filter(|h| h.len() <= 255)
        .map(str::to_owned);
    Ok(AuthorizationRequest {
        client_id: provider.client_id.clone(),
        redirect_uri,
        redirect_uri_sent,
        scopes,
        state,
        nonce,
        code_challenge,
        prompt,
        max_age,
        login_hint,
    })
}

fn validate_scope(scope: &str) -> Result<(), validate::ValidationError> {
    gatehouse_core::application::scope_token(scope)
}

/// The redirect carrying an authorization response or error (RFC 6749 §4.1.2, §4.1.2.1):
/// `redirect_uri` with `pairs` appended to its query, plus `iss` (RFC 9207).
pub fn response_location(redirect_uri: &str, pairs: &[(&str, &str)]) -> String {
    let mut location = redirect_uri.to_owned();
    let mut separator = if redirect_uri.contains('?') { '&' } else { '?' };
    for (name, value) in pairs {
        location.push(separator);
        location.push_str(name);
        location.push('=');
        location.push_str(&form_encode(value));
        separator = '&';
    }
    location
}

/// `application/x-www-form-urlencoded` encoding of one value.
pub fn form_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

impl AuthorizeError {
    /// Where an error goes: `Some(location)` for a redirect to the client, `None` for a page.
    pub fn location(&self, issuer: &str) -> Option<String> {
        match self {
            Self::Page(_) => None,
            Self::Redirect {
                redirect_uri,
                code,
                description,
                state,
            } => {
                let mut pairs = vec![("error", code.as_str()), ("error_description", description)];
                if let Some(state) = state {
                    pairs.push(("state", state));
                }
                pairs.push(("iss", issuer));
                Some(response_location(redirect_uri, &pairs))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_core::ClientType;

    fn provider(client_type: ClientType) -> OAuth2Provider {
        let mut p = OAuth2Provider::new(client_type, "app");
        p.redirect_uris = vec![
            "https://app.example/cb".into(),
            "http://127.0.0.1/cb".into(),
        ];
        p
    }

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params::from_pairs(pairs.iter().copied()).expect("params")
    }

    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn good() -> Vec<(&'static str, &'static str)> {
        vec![
            ("response_type", "code"),
            ("client_id", "app"),
            ("redirect_uri", "https://app.example/cb"),
            ("scope", "openid profile bogus email"),
            ("state", "xyz"),
            ("nonce", "n-0S6"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ]
    }

    fn redirect_code(result: Result<AuthorizationRequest, AuthorizeError>) -> AuthorizeErrorCode {
        match result {
            Err(AuthorizeError::Redirect { code, state, .. }) => {
                assert_eq!(state.as_deref(), Some("xyz"));
                code
            }
            other => panic!("expected a redirect error, got {other:?}"),
        }
    }

    fn with(change: &[(&'static str, &'static str)]) -> Params {
        let mut pairs: Vec<_> = good()
            .into_iter()
            .filter(|(k, _)| !change.iter().any(|(c, _)| c == k))
            .collect();
        pairs.extend(change.iter().copied().filter(|(_, v)| *v != "<absent>"));
        params(&pairs)
    }

    #[test]
    fn a_good_request_grants_the_allowed_scopes() {
        let request = validate(&params(&good()), &provider(ClientType::Public)).expect("valid");
        assert_eq!(request.scopes, ["openid", "profile", "email"]);
        assert!(request.is_openid());
        assert_eq!(request.nonce.as_deref(), Some("n-0S6"));
        assert_eq!(request.code_challenge.as_deref(), Some(CHALLENGE));
        assert!(request.redirect_uri_sent);
    }

    #[test]
    fn untrusted_redirect_uris_are_pages() {
        let p = provider(ClientType::Confidential);
        for uri in [
            "https://evil.example/cb",
            "https://app.example/cb/x",
            "http://127.0.0.1:9/cb",
        ] {
            let result = validate(&with(&[("redirect_uri", uri)]), &p);
            assert!(
                matches!(result, Err(AuthorizeError::Page(_))),
                "{uri}: {result:?}"
            );
        }
        // Missing with two registered: page. With one registered: used.
        let result = validate(&with(&[("redirect_uri", "<absent>")]), &p);
        assert!(matches!(result, Err(AuthorizeError::Page(_))));
        let mut single = p.clone();
        single.redirect_uris.truncate(1);
        let request = validate(&with(&[("redirect_uri", "<absent>")]), &single).expect("ok");
        assert_eq!(request.redirect_uri, "https://app.example/cb");
        assert!(!request.redirect_uri_sent);
        // Public clients get the loopback port rule.
        let public = provider(ClientType::Public);
        assert!(
            validate(
                &with(&[("redirect_uri", "http://127.0.0.1:50123/cb")]),
                &public
            )
            .is_ok()
        );
    }

    #[test]
    fn other_errors_redirect_with_the_right_code() {
        use AuthorizeErrorCode as E;
        let p = provider(ClientType::Public);
        let cases: &[(&[(&str, &str)], AuthorizeErrorCode)] = &[
            (&[("response_type", "token")], E::UnsupportedResponseType),
            (&[("response_type", "<absent>")], E::InvalidRequest),
            (&[("scope", "bogus")], E::InvalidScope),
            (&[("scope", "<absent>")], E::InvalidScope),
            (
                &[
                    ("code_challenge", "<absent>"),
                    ("code_challenge_method", "<absent>"),
                ],
                E::InvalidRequest,
            ),
            (&[("code_challenge_method", "plain")], E::InvalidRequest),
            (&[("code_challenge_method", "<absent>")], E::InvalidRequest),
            (&[("code_challenge", "short")], E::InvalidRequest),
            (&[("prompt", "none login")], E::InvalidRequest),
            (&[("prompt", "sometimes")], E::InvalidRequest),
            (&[("max_age", "-1")], E::InvalidRequest),
            (&[("max_age", "+5")], E::InvalidRequest),
            (&[("request", "eyJ...")], E::RequestNotSupported),
            (&[("request_uri", "https://x")], E::RequestUriNotSupported),
            (&[("response_mode", "fragment")], E::InvalidRequest),
        ];
        for (change, expected) in cases {
            assert_eq!(
                redirect_code(validate(&with(change), &p)),
                *expected,
                "{change:?}"
            );
        }
    }

    #[test]
    fn confidential_clients_may_skip_pkce_unless_required() {
        let mut p = provider(ClientType::Confidential);
        p.client_secret_digest = Some("d".into());
        let no_pkce = with(&[
            ("code_challenge", "<absent>"),
            ("code_challenge_method", "<absent>"),
        ]);
        assert!(validate(&no_pkce, &p).is_ok());
        p.require_pkce = true;
        assert!(validate(&no_pkce, &p).is_err());
    }

    #[test]
    fn prompt_and_max_age() {
        let p = provider(ClientType::Public);
        let request =
            validate(&with(&[("prompt", "login consent"), ("max_age", "0")]), &p).expect("ok");
        assert!(request.prompt.login && request.prompt.consent && !request.prompt.none);
        assert_eq!(request.max_age, Some(0));
    }

    #[test]
    fn error_locations_keep_the_query_and_encode_values() {
        let error = AuthorizeError::Redirect {
            redirect_uri: "https://app.example/cb?a=1".into(),
            code: AuthorizeErrorCode::InvalidScope,
            description: "no scope & more".into(),
            state: Some("s t".into()),
        };
        assert_eq!(
            error
                .location("https://id.example/application/o/app/")
                .as_deref(),
            Some(
                "https://app.example/cb?a=1&error=invalid_scope&error_description=no%20scope%20%26%20more&state=s%20t&iss=https%3A%2F%2Fid.example%2Fapplication%2Fo%2Fapp%2F"
            )
        );
        assert_eq!(AuthorizeError::Page("x".into()).location("i"), None);
    }

    #[test]
    fn client_id_is_required() {
        assert!(matches!(
            client_id(&params(&[])),
            Err(AuthorizeError::Page(_))
        ));
        assert!(matches!(
            client_id(&params(&[("client_id", "a:b")])),
            Err(AuthorizeError::Page(_))
        ));
        assert_eq!(
            client_id(&params(&[("client_id", "app")])).ok(),
            Some("app")
        );
    }
}
