//! The OAuth2 grants as services over the store: issuing an authorization code, the token
//! endpoint's three grants (authorization code with replay detection, refresh with rotation
//! and reuse detection, client credentials), userinfo, introspection (RFC 7662) and
//! revocation (RFC 7009). Protocol rules come from `gatehouse-oidc`; this module decides what
//! to store and sign. Every authorization, token and refresh is an audit event written with
//! its artefacts.

use crate::oidc::issuer::{self, Via};
use crate::oidc::keys::{self, KeyError};
use crate::services::Services;
use chrono::{DateTime, Duration, Utc};
use gatehouse_core::AuthenticationMethod;
use gatehouse_core::{
    Application, AuditContext, ClientType, EventAction, GrantFamilyId, IssuedGrant, NewEvent,
    NewOAuth2Token, OAuth2Provider, OAuth2Token, OAuth2TokenKind, Session, SessionId, StoreError,
    User,
};
use gatehouse_oidc::authorize::AuthorizationRequest;
use gatehouse_oidc::jwt::{self, AccessTokenInput, IdTokenInput};
use gatehouse_oidc::token_request::{self, CodeGrant, TokenRequest};
use gatehouse_oidc::{TokenError, TokenErrorCode, authn_context, claims, discovery};
use serde_json::{Map, Value, json};

/// The scope that earns a refresh token.
const OFFLINE_ACCESS: &str = "offline_access";

/// Why a grant service failed: a protocol error for the client, or an internal one.
#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    /// Answer the client with this error.
    #[error(transparent)]
    Protocol(#[from] TokenError),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No usable signing key.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// Too many failed credential checks for this account or client address: refused without
    /// checking; the client may try again after this long.
    #[error("throttled")]
    Throttled(std::time::Duration),
}

/// When and how the user signed in: copied from the session into the authorization code,
/// then into each refresh token, so every ID token of a grant states the same `auth_time`,
/// `amr` and `acr` (OIDC Core §12.2).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SignIn {
    /// When the user authenticated.
    pub auth_time: Option<DateTime<Utc>>,
    /// The methods used.
    pub methods: Vec<AuthenticationMethod>,
    /// The browser session the grant is issued in, recorded on the authorization code (not
    /// in `data`: the store finds grants by it when the session ends) and inherited by the
    /// tokens descending from it.
    pub session: Option<SessionId>,
}

impl SignIn {
    /// The sign-in a session records.
    pub fn of_session(session: &Session) -> Self {
        Self {
            auth_time: Some(session.auth_time),
            methods: session.auth_methods.clone(),
            session: Some(session.id),
        }
    }

    /// Reads what [`SignIn::store_in`] wrote (missing parts stay unknown).
    pub fn stored_in(data: &Map<String, Value>) -> Self {
        Self {
            auth_time: data
                .get("auth_time")
                .and_then(Value::as_i64)
                .and_then(|t| DateTime::from_timestamp(t, 0)),
            methods: data
                .get("auth_methods")
                .and_then(Value::as_array)
                .map(|names| {
                    names
                        .iter()
                        .filter_map(|n| n.as_str().and_then(AuthenticationMethod::parse))
                        .collect()
                })
                .unwrap_or_default(),
            session: None,
        }
    }

    /// Writes the sign-in into a stored artefact's data.
    pub fn store_in(&self, data: &mut Map<String, Value>) {
        if let Some(auth_time) = self.auth_time {
            data.insert("auth_time".into(), Value::from(auth_time.timestamp()));
        }
        if !self.methods.is_empty() {
            let names: Vec<&str> = self.methods.iter().map(|m| m.as_str()).collect();
            data.insert("auth_methods".into(), Value::from(names));
        }
    }
}

/// The application's issuer URL.
pub fn issuer(services: &Services, app: &Application) -> String {
    discovery::issuer(&services.config.base_url(), &app.slug)
}

/// The `sid` of a browser session in ID and logout tokens (Back-Channel Logout 1.0 §2.1):
/// a keyed digest of the session's row id, so it is stable for the session's life, the same
/// for every client, and reveals neither the row id nor the cookie secret.
pub fn session_sid(services: &Services, session: SessionId) -> String {
    services.digester.digest(&format!("oidc-sid:{session}"))
}

/// The subject of `user` for `app`.
pub fn subject(
    services: &Services,
    app: &Application,
    provider: &OAuth2Provider,
    user: &User,
) -> String {
    claims::subject(provider.subject_mode, user, || {
        services
            .digester
            .digest(&format!("oidc-sub:{}:{}", app.id, user.id))
    })
}

/// Whether the application's group policy admits `user` (its effective groups, ancestors
/// included).
pub async fn admits_user(
    services: &Services,
    app: &Application,
    user: &User,
) -> Result<bool, StoreError> {
    let groups: Vec<_> = services
        .store
        .effective_groups(user.id)
        .await?
        .into_iter()
        .map(|g| g.id)
        .collect();
    Ok(app.admits(&groups))
}

/// Issues a single-use authorization code for a validated request received `via` one of
/// the issuers (recorded, so its tokens name that issuer); records `authorize_application`.
#[allow(clippy::too_many_arguments)]
pub async fn issue_code(
    services: &Services,
    app: &Application,
    provider: &OAuth2Provider,
    request: &AuthorizationRequest,
    user: &User,
    sign_in: &SignIn,
    via: Via,
    audit: &AuditContext,
) -> Result<String, GrantError> {
    let code = gatehouse_crypto::generate_token("");
    let mut data = Map::new();
    data.insert(
        "redirect_uri".into(),
        Value::from(request.redirect_uri.as_str()),
    );
    data.insert(
        "redirect_uri_sent".into(),
        Value::from(request.redirect_uri_sent),
    );
    if let Some(challenge) = &request.code_challenge {
        data.insert("code_challenge".into(), Value::from(challenge.as_str()));
    }
    if let Some(nonce) = &request.nonce {
        data.insert("nonce".into(), Value::from(nonce.as_str()));
    }
    sign_in.store_in(&mut data);
    issuer::record(services, via, &mut data);
    let token = NewOAuth2Token {
        kind: OAuth2TokenKind::AuthorizationCode,
        application_id: app.id,
        user_id: Some(user.id),
        family: GrantFamilyId::new(),
        session_id: sign_in.session,
        digest: services.digester.digest(&code),
        scopes: request.scopes.clone(),
        data,
        expires_at: Utc::now() + Duration::seconds(provider.lifetimes.authorization_code),
    };
    let event = NewEvent::about_model(
        EventAction::AuthorizeApplication,
        "application",
        app.id,
        &app.slug,
    )
    .with("user", user.username.as_str())
    .with("scopes", request.scopes.join(" "));
    services
        .store
        .issue_oauth2_tokens(vec![token], event, audit)
        .await?;
    Ok(code)
}

/// A successful token response (RFC 6749 §5.1, OIDC Core §3.1.3.3).
#[derive(Clone, Debug)]
pub struct TokenResponse {
    /// The JWT access token.
    pub access_token: String,
    /// Seconds until it expires.
    pub expires_in: i64,
    /// A refresh token, with `offline_access`.
    pub refresh_token: Option<String>,
    /// An ID token, with `openid` and a user.
    pub id_token: Option<String>,
    /// Granted scopes.
    pub scopes: Vec<String>,
}

impl TokenResponse {
    /// The JSON body.
    pub fn body(&self) -> Value {
        let mut body = json!({
            "access_token": self.access_token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "scope": self.scopes.join(" "),
        });
        if let Some(refresh) = &self.refresh_token {
            body["refresh_token"] = Value::from(refresh.as_str());
        }
        if let Some(id_token) = &self.id_token {
            body["id_token"] = Value::from(id_token.as_str());
        }
        body
    }
}

/// Serves a token request from an authenticated client, received `via` one of the issuers.
/// Grants that redeem an artefact keep the issuer it recorded; the others name `via`'s.
pub async fn token(
    services: &Services,
    app: &Application,
    provider: &OAuth2Provider,
    request: TokenRequest,
    via: Via,
    audit: &AuditContext,
) -> Result<TokenResponse, GrantError> {
    match request {
        TokenRequest::AuthorizationCode {
            code,
            redirect_uri,
            code_verifier,
        } => {
            redeem_code(
                services,
                app,
                provider,
                &code,
                redirect_uri.as_deref(),
                code_verifier.as_deref(),
                audit,
            )
            .await
        }
        TokenRequest::RefreshToken {
            refresh_token,
            scope,
        } => {
            refresh(
                services,
                app,
                provider,
                &refresh_token,
                scope.as_deref(),
                audit,
            )
            .await
        }
        TokenRequest::ClientCredentials {
            scope,
            service_account: Some(account),
        } => {
            crate::oidc::service_account::client_credentials(
                services,
                app,
                provider,
                &account,
                scope.as_deref(),
                via,
                audit,
            )
            .await
        }
        TokenRequest::ClientCredentials {
            scope,
            service_account: None,
        } => client_credentials(services, app, provider, scope.as_deref(), via, audit).await,
        TokenRequest::DeviceCode { device_code } => {
            crate::oidc::device::redeem(services, app, provider, &device_code, audit).await
        }
    }
}

async fn redeem_code(
    services: &Services,
    app: &Application,
    provider: &OAuth2Provider,
    code: &str,
    redirect_uri: Option<&str>,
    code_verifier: Option<&str>,
    audit: &AuditContext,
) -> Result<TokenResponse, GrantError> {
    let now = Utc::now();
    let stored = find(services, app, code, OAuth2TokenKind::AuthorizationCode).await?;
    if stored.used_at.is_some() {
        // RFC 6749 §4.1.2: a replayed code is refused and what it issued is revoked.
        revoke_family(services, app, &stored, "authorization code replayed", audit).await?;
        return Err(TokenError::invalid_grant("the authorization code was already used").into());
    }
    if !stored.is_active_at(now) {
        return Err(
            TokenError::invalid_grant("the authorization code expired or was revoked").into(),
        );
    }
    let data = &stored.data;
    let grant = CodeGrant {
        redirect_uri: data
            .get("redirect_uri")
            .and_then(Value::as_str)
            .unwrap_or_default(),
        redirect_uri_sent: data
            .get("redirect_uri_sent")
            .and_then(Value::as_bool)
            .unwrap_or(true),
        code_challenge: data.get("code_challenge").and_then(Value::as_str),
    };
    token_request::check_code_redemption(&grant, redirect_uri, code_verifier)?;
    let user = active_user(services, &stored).await?;
    let sign_in = SignIn::stored_in(data);
    let nonce = data.get("nonce").and_then(Value::as_str).map(str::to_owned);
    let minted = mint(
        services,
        app,
        provider,
        &stored,
        Some(&user),
        stored.scopes.clone(),
        &sign_in,
        nonce.as_deref(),
    )
    .await?;
    let event = token_event(app, "authorization_code", Some(&user), &stored.scopes);
    if !services
        .store
        .exchange_oauth2_token(stored.id, now, minted.records, event, audit)
        .await?
    {
        // Lost a race with another redemption of the same code: that is a replay too.
        revoke_family(services, app, &stored, "authorization code replayed", audit).await?;
        return Err(TokenError::invalid_grant("the authorization code was already used").into());
    }
    Ok(minted.response)
}

async fn refresh(
    services: &Services,
    app: &Application,
    provider: &OAuth2Provider,
    refresh_token: &str,
    scope: Option<&[String]>,
    audit: &AuditContext,
) -> Result<TokenResponse, GrantError> {
    let now = Utc::now();
    let stored = find(services, app, refresh_token, OAuth2TokenKind::RefreshToken).await?;
    if stored.used_at.is_some() {
        // RFC 9700 §4.14.2: reuse of a rotated refresh token revokes the whole family.
        revoke_family(
            services,
            app,
            &stored,
            "rotated refresh token reused",
            audit,
        )
        .await?;
        return Err(TokenError::invalid_grant("the refresh token was already used").into());
    }
    if !stored.is_active_at(now) {
        return Err(TokenError::invalid_grant("the refresh token expired or was revoked").into());
    }
    let scopes = token_request::narrowed_scopes(&stored.scopes, scope)?;
    let user = active_user(services, &stored).await?;
    let sign_in = SignIn::stored_in(&stored.data);
    // The new refresh token keeps the original grant's scopes so a later refresh can widen
    // back to them; the access token carries the narrowed ones.
    let mut minted = mint(
        services,
        app,
        provider,
        &stored,
        Some(&user),
        scopes.clone(),
        &sign_in,
        None,
    )
    .await?;
    if minted.response.refresh_token.is_none() && stored.scopes.iter().any(|s| s == OFFLINE_ACCESS)
    {
        let (secret, record) =
            refresh_record(services, app, provider, &stored, &stored.scopes, &sign_in);
        minted.response.refresh_token = Some(secret);
        minted.records.push(record);
    }
    let event = token_event(app, "refresh_token", Some(&user), &scopes);
    if !services
        .store
        .exchange_oauth2_token(stored.id, now, minted.records, event, audit)
        .await?
    {
        revoke_family(
            services,
            app,
            &stored,
            "rotated refresh token reused",
            audit,
        )
        .await?;
        return Err(TokenError::invalid_grant("the refresh token was already used").into());
    }
    Ok(minted.response)
}

async fn client_credentials(
    services: &Services,
    app: &Application,
    provider: &OAuth2Provider,
    scope: Option<&[String]>,
    via: Via,
    audit: &AuditContext,
) -> Result<TokenResponse, GrantError> {
    if provider.client_type != ClientType::Confidential {
        return Err(TokenError::new(
            TokenErrorCode::UnauthorizedClient,
            "public clients cannot use client_credentials",
        )
        .into());
    }
    // No user is involved: user-facing scopes are meaningless here.
    let usable =
        |s: &String| !matches!(s.as_str(), "openid" | OFFLINE_ACCESS | "profile" | "email");
    let scopes: Vec<String> = match scope {
        Some(requested) => {
            if let Some(bad) = requested.iter().find(|s| !provider.scopes.contains(s)) {
                return Err(TokenError::new(
                    TokenErrorCode::InvalidScope,
                    format!("scope {bad} is not allowed for this client"),
                )
                .into());
            }
            requested.iter().filter(|s| usable(s)).cloned().collect()
        }
        None => provider
            .scopes
            .iter()
            .filter(|s| usable(s))
            .cloned()
            .collect(),
    };
    let event = token_event(app, "client_credentials", None, &scopes);
    issue_direct(
        services,
        app,
        provider,
        None,
        scopes,
        &SignIn::default(),
        via,
        event,
        audit,
    )
    .await
}

/// Mints and records the tokens of a grant that redeems no earlier artefact
/// (client_credentials, for the client itself or for a service account `user`), through the
/// group-committing token writer.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn issue_direct(
    services: &Services,
    app: &Application,
    provider: &OAuth2Provider,
    user: Option<&User>,
    scopes: Vec<String>,
    sign_in: &SignIn,
    via: Via,
    event: NewEvent,
    audit: &AuditContext,
) -> Result<TokenResponse, GrantError> {
    let mut data = Map::new();
    issuer::record(services, via, &mut data);
    let seed = OAuth2Token {
        id: gatehouse_core::OAuth2TokenId::new(),
        kind: OAuth2TokenKind::AccessToken,
        application_id: app.id,
        user_id: user.map(|u| u.id),
        family: GrantFamilyId::new(),
        session_id: None,
        scopes: scopes.clone(),
        data,
        expires_at: Utc::now(),
        used_at: None,
        revoked_at: None,
        created_at: Utc::now(),
    };
    let minted = mint(services, app, provider, &seed, user, scopes, sign_in, None).await?;
    let grant = IssuedGrant {
        tokens: minted.records,
        event,
        audit: audit.clone(),
    };
    services.token_writer.issue(&services.store, grant).await?;
    Ok(minted.response)
}

/// Signed tokens and the records to store with them.
pub(crate) struct Minted {
    /// What the client gets.
    pub(crate) response: TokenResponse,
    /// What the store keeps.
    pub(crate) records: Vec<NewOAuth2Token>,
}

/// Signs the access token (and ID token with `openid`), creates a refresh token with
/// `offline_access`, and returns the records to store. The tokens name the issuer
/// `parent` recorded (the application's own unless it came through the Dex alias).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn mint(
    services: &Services,
    app: &Application,
    provider: &OAuth2Provider,
    parent: &OAuth2Token,
    user: Option<&User>,
    scopes: Vec<String>,
    sign_in: &SignIn,
    nonce: Option<&str>,
) -> Result<Minted, GrantError> {
    let auth_time = sign_in.auth_time;
    let key = keys::active_key(services, provider.signing_alg).await?;
    let issuer = issuer::recorded(services, app, &parent.data);
    let now = Utc::now();
    let subject = match user {
        Some(user) => subject(services, app, provider, user),
        None => provider.client_id.clone(),
    };
    let jti = gatehouse_crypto::generate_token("");
    let access_claims = jwt::access_token_claims(&AccessTokenInput {
        issuer: &issuer,
        subject: &subject,
        client_id: &provider.client_id,
        issued_at: now,
        lifetime_secs: provider.lifetimes.access_token,
        jti: &jti,
        scopes: &scopes,
        auth_time,
    });
    let signer = key.signer.clone();
    let kid = key.kid.clone();
    let access_token = jwt::sign(&signer, &kid, jwt::ACCESS_TOKEN_TYP, &access_claims)
        .map_err(|_| KeyError::Unusable)?;
    let mut records = vec![NewOAuth2Token {
        kind: OAuth2TokenKind::AccessToken,
        application_id: app.id,
        user_id: parent.user_id,
        family: parent.family,
        session_id: parent.session_id,
        digest: services.digester.digest(&jti),
        scopes: scopes.clone(),
        data: Map::new(),
        expires_at: now + Duration::seconds(provider.lifetimes.access_token),
    }];
    let mut id_token = None;
    if let Some(user) = user
        && scopes.iter().any(|s| s == "openid")
    {
        let groups: Vec<String> = services
            .store
            .effective_groups(user.id)
            .await?
            .into_iter()
            .map(|g| g.name)
            .collect();
        let context = authn_context::authentication_context(&sign_in.methods);
        let sid = parent.session_id.map(|id| session_sid(services, id));
        let claims = jwt::id_token_claims(
            &IdTokenInput {
                issuer: &issuer,
                subject: &subject,
                audience: &provider.client_id,
                issued_at: now,
                lifetime_secs: provider.lifetimes.access_token,
                auth_time,
                nonce,
                access_token: Some(&access_token),
                amr: &context.amr,
                acr: Some(context.acr),
                session_id: sid.as_deref(),
                user_claims: claims::user_claims(&scopes, user, &groups, &provider.scope_mappings),
            },
            provider.signing_alg,
        );
        id_token = Some(
            jwt::sign(&signer, &kid, jwt::ID_TOKEN_TYP, &claims).map_err(|_| KeyError::Unusable)?,
        );
    }
    let mut refresh_token = None;
    if user.is_some() && scopes.iter().any(|s| s == OFFLINE_ACCESS) {
        let (secret, record) = refresh_record(services, app, provider, parent, &scopes, sign_in);
        refresh_token = Some(secret);
        records.push(record);
    }
    Ok(Minted {
        response: TokenResponse {
            access_token,
            expires_in: provider.lifetimes.access_token,
            refresh_token,
            id_token,
            scopes,
        },
        records,
    })
}

fn refresh_record(
    services: &Services,
    app: &Application,
    provider: &OAuth2Provider,
    parent: &OAuth2Token,
    scopes: &[String],
    sign_in: &SignIn,
) -> (String, NewOAuth2Token) {
    let secret = gatehouse_crypto::generate_token("");
    let mut data = Map::new();
    sign_in.store_in(&mut data);
    issuer::carry(&parent.data, &mut data);
    let record = NewOAuth2Token {
        kind: OAuth2TokenKind::RefreshToken,
        application_id: app.id,
        user_id: parent.user_id,
        family: parent.family,
        session_id: parent.session_id,
        digest: services.digester.digest(&secret),
        scopes: scopes.to_vec(),
        data,
        expires_at: Utc::now() + Duration::seconds(provider.lifetimes.refresh_token),
    };
    (secret, record)
}

/// Finds an artefact of `kind` issued to `app`; anything else is `invalid_grant`.
async fn find(
    services: &Services,
    app: &Application,
    secret: &str,
    kind: OAuth2TokenKind,
) -> Result<OAuth2Token, GrantError> {
    match services
        .store
        .oauth2_token_by_digest(&services.digester.digest(secret))
        .await?
    {
        Some(token) if token.kind == kind && token.application_id == app.id => Ok(token),
        _ => Err(TokenError::invalid_grant("the grant is invalid").into()),
    }
}

async fn active_user(services: &Services, token: &OAuth2Token) -> Result<User, GrantError> {
    let Some(user_id) = token.user_id else {
        return Err(TokenError::invalid_grant("the grant has no user").into());
    };
    match services.store.user_by_id(user_id).await? {
        Some(user) if user.active => Ok(user),
        _ => Err(TokenError::invalid_grant("the user is no longer active").into()),
    }
}

async fn revoke_family(
    services: &Services,
    app: &Application,
    token: &OAuth2Token,
    reason: &str,
    audit: &AuditContext,
) -> Result<(), StoreError> {
    tracing::warn!(application = %app.slug, family = %token.family, reason, "revoking a grant family");
    let event = NewEvent::about_model(EventAction::TokenIssued, "application", app.id, &app.slug)
        .with("revoked_family", token.family.to_string())
        .with("reason", reason);
    services
        .store
        .revoke_oauth2_family(token.family, Utc::now(), event, audit)
        .await
        .map(|_| ())
}

pub(crate) fn token_event(
    app: &Application,
    grant: &str,
    user: Option<&User>,
    scopes: &[String],
) -> NewEvent {
    let mut event =
        NewEvent::about_model(EventAction::TokenIssued, "application", app.id, &app.slug)
            .with("grant_type", grant)
            .with("scopes", scopes.join(" "));
    if let Some(user) = user {
        event = event.with("user", user.username.as_str());
    }
    event
}

/// What a presented token turned out to be.
#[derive(Clone, Debug)]
pub struct TokenInfo {
    /// The stored record.
    pub record: OAuth2Token,
    /// The JWT claims, for access tokens.
    pub claims: Option<Map<String, Value>>,
}

/// Looks up an access token (a JWT of ours with an unrevoked `jti`) or a refresh token.
/// `None` for anything unknown, expired, revoked or spent.
pub async fn lookup_token(
    services: &Services,
    token: &str,
) -> Result<Option<TokenInfo>, StoreError> {
    let now = Utc::now();
    if token.contains('.') {
        let published = crate::oidc::cache::published_keys(services).await?;
        let Ok(claims) =
            jwt::verify_token(token, jwt::ACCESS_TOKEN_TYP, &published.verification, now)
        else {
            return Ok(None);
        };
        let Some(jti) = claims.get("jti").and_then(Value::as_str) else {
            return Ok(None);
        };
        return Ok(services
            .store
            .oauth2_token_by_digest(&services.digester.digest(jti))
            .await?
            .filter(|r| r.kind == OAuth2TokenKind::AccessToken && r.is_active_at(now))
            .map(|record| TokenInfo {
                record,
                claims: Some(claims),
            }));
    }
    if token.len() > 256 {
        return Ok(None);
    }
    Ok(services
        .store
        .oauth2_token_by_digest(&services.digester.digest(token))
        .await?
        .filter(|r| r.kind == OAuth2TokenKind::RefreshToken && r.is_active_at(now))
        .map(|record| TokenInfo {
            record,
            claims: None,
        }))
}

/// RFC 7662 §2.2: the introspection response for `app` (tokens of other clients are
/// reported inactive, revealing nothing).
pub async fn introspect(
    services: &Services,
    app: &Application,
    token: &str,
) -> Result<Value, StoreError> {
    let Some(info) = lookup_token(services, token).await? else {
        return Ok(json!({ "active": false }));
    };
    if info.record.application_id != app.id {
        return Ok(json!({ "active": false }));
    }
    let mut body = json!({
        "active": true,
        "client_id": app.oauth2.as_ref().map(|p| p.client_id.clone()),
        "scope": info.record.scopes.join(" "),
        "exp": info.record.expires_at.timestamp(),
        "iat": info.record.created_at.timestamp(),
        "iss": issuer::recorded(services, app, &info.record.data),
        "token_type": match info.record.kind {
            OAuth2TokenKind::RefreshToken => "refresh_token",
            _ => "Bearer",
        },
    });
    if let Some(claims) = &info.claims {
        for name in ["iss", "sub", "aud", "jti"] {
            if let Some(value) = claims.get(name) {
                body[name] = value.clone();
            }
        }
    } else if let (Some(user_id), Some(provider)) = (info.record.user_id, &app.oauth2)
        && let Some(user) = services.store.user_by_id(user_id).await?
    {
        body["sub"] = Value::from(subject(services, app, provider, &user));
        body["username"] = Value::from(user.username);
    }
    Ok(body)
}

/// RFC 7009: revokes `token` if it is `app`'s. Revoking a refresh token revokes its whole
/// grant (§2.1 lets us, and it is what a logout means). Unknown tokens are not an error.
pub async fn revoke(
    services: &Services,
    app: &Application,
    token: &str,
    audit: &AuditContext,
) -> Result<(), StoreError> {
    let Some(info) = lookup_token(services, token).await? else {
        return Ok(());
    };
    if info.record.application_id != app.id {
        return Ok(());
    }
    match info.record.kind {
        OAuth2TokenKind::RefreshToken => {
            let event =
                NewEvent::about_model(EventAction::TokenIssued, "application", app.id, &app.slug)
                    .with("revoked_family", info.record.family.to_string())
                    .with("reason", "revoked by the client");
            services
                .store
                .revoke_oauth2_family(info.record.family, Utc::now(), event, audit)
                .await?;
        }
        _ => {
            services
                .store
                .revoke_oauth2_token(info.record.id, Utc::now())
                .await?;
        }
    }
    Ok(())
}

/// The userinfo response for a bearer access token (OIDC Core §5.3), or `None` when the
/// token is not an active access token with `openid`.
pub async fn userinfo(services: &Services, token: &str) -> Result<Option<Value>, StoreError> {
    let Some(info) = lookup_token(services, token).await? else {
        return Ok(None);
    };
    let Some(claims_in_token) = info.claims else {
        return Ok(None);
    };
    if !info.record.scopes.iter().any(|s| s == "openid") {
        return Ok(None);
    }
    let Some(user_id) = info.record.user_id else {
        return Ok(None);
    };
    let Some(app) = services
        .store
        .application_by_id(info.record.application_id)
        .await?
    else {
        return Ok(None);
    };
    let (Some(provider), Some(user)) = (&app.oauth2, services.store.user_by_id(user_id).await?)
    else {
        return Ok(None);
    };
    if !user.active {
        return Ok(None);
    }
    let groups: Vec<String> = services
        .store
        .effective_groups(user.id)
        .await?
        .into_iter()
        .map(|g| g.name)
        .collect();
    let mut body = claims::user_claims(
        &info.record.scopes,
        &user,
        &groups,
        &provider.scope_mappings,
    );
    let sub = claims_in_token
        .get("sub")
        .cloned()
        .unwrap_or_else(|| Value::from(subject(services, &app, provider, &user)));
    body.insert("sub".into(), sub);
    Ok(Some(Value::Object(body)))
}
