//! The client_credentials grant for service accounts (RFC 6749 §4.4, authentik's form): the
//! client names a service account with `username` and proves it with one of the account's
//! app passwords in `password`. The token's subject is the account. The password is found by
//! its keyed digest (never Argon2: this sits on the hot token path); the rules are in
//! `gatehouse_oidc::service_account`. Every refusal is `invalid_grant` (§5.2) and a
//! `login_failed` event with the reason. Failed checks go through the login throttle, keyed
//! by the account name and the client address like password sign-ins; a throttled attempt is
//! refused before any lookup (the web layer answers 429 with `Retry-After`).

use crate::oidc::grants::{
    GrantError, SignIn, TokenResponse, admits_user, issue_direct, token_event,
};
use crate::oidc::issuer::Via;
use crate::services::Services;
use crate::throttle::{LoginThrottle, ThrottleVerdict};
use chrono::Utc;
use gatehouse_core::{Application, AuditContext, OAuth2Provider, TokenIntent, User};
use gatehouse_oidc::service_account::admit;
use gatehouse_oidc::token_request::ServiceAccountCredentials;
use gatehouse_oidc::{TokenError, TokenErrorCode};

/// Longest username looked up; longer ones cannot exist and are refused without a query.
const MAX_USERNAME: usize = 150;
/// Longest app password looked up.
const MAX_PASSWORD: usize = 512;

/// Issues tokens whose subject is the service account `account` names, if its app password
/// is right, the account is an active service account and the application admits it.
pub async fn client_credentials(
    services: &Services,
    app: &Application,
    provider: &OAuth2Provider,
    account: &ServiceAccountCredentials,
    scope: Option<&[String]>,
    via: Via,
    audit: &AuditContext,
) -> Result<TokenResponse, GrantError> {
    let scopes = granted_scopes(provider, scope)?;
    let user = verified_account(services, app, account, audit).await?;
    let sign_in = SignIn {
        auth_time: Some(Utc::now()),
        methods: Vec::new(),
        session: None,
    };
    let event =
        token_event(app, "client_credentials", Some(&user), &scopes).with("service_account", true);
    issue_direct(
        services,
        app,
        provider,
        Some(&user),
        scopes,
        &sign_in,
        via,
        event,
        audit,
    )
    .await
}

/// The requested scopes (all of them must be the client's), or the client's scopes; never
/// `offline_access`, as this grant issues no refresh token (RFC 6749 §4.4.3).
fn granted_scopes(
    provider: &OAuth2Provider,
    scope: Option<&[String]>,
) -> Result<Vec<String>, TokenError> {
    let requested = scope.unwrap_or(&provider.scopes);
    if let Some(bad) = requested.iter().find(|s| !provider.scopes.contains(s)) {
        return Err(TokenError::new(
            TokenErrorCode::InvalidScope,
            format!("scope {bad} is not allowed for this client"),
        ));
    }
    Ok(requested
        .iter()
        .filter(|s| s.as_str() != "offline_access")
        .cloned()
        .collect())
}

/// Looks the account and its app password up, applies the rules and the application's group
/// policy; a refusal is recorded and answered with `invalid_grant`.
async fn verified_account(
    services: &Services,
    app: &Application,
    account: &ServiceAccountCredentials,
    audit: &AuditContext,
) -> Result<User, GrantError> {
    let refuse_unthrottled = |reason: &'static str| async move {
        tracing::info!(application = %app.slug, reason, "service account refused");
        crate::authn::record_service_account_failure(services, &account.username, reason, audit)
            .await;
        GrantError::from(TokenError::invalid_grant(
            "the service account credentials are invalid",
        ))
    };
    let throttle = &services.login_throttle;
    let keys = [
        LoginThrottle::account_key(&account.username),
        LoginThrottle::address_key(audit.client_ip.as_deref().unwrap_or("unknown")),
    ];
    let keys = &keys;
    if let ThrottleVerdict::Wait(wait) = throttle.check(keys).await {
        tracing::info!(application = %app.slug, "service account attempt throttled");
        crate::authn::record_service_account_failure(
            services,
            &account.username,
            "throttled",
            audit,
        )
        .await;
        return Err(GrantError::Throttled(wait));
    }
    // Every wrong credential counts against the account and the address.
    let refuse = |reason: &'static str| async move {
        throttle.record_failure(&keys[0], &keys[1]).await;
        refuse_unthrottled(reason).await
    };
    if account.username.len() > MAX_USERNAME || account.password.len() > MAX_PASSWORD {
        return Err(refuse("credentials too long").await);
    }
    // Both lookups always run, so the answer time does not tell whether the name exists.
    let digest = services.digester.digest(&account.password);
    let (user, token) = tokio::try_join!(
        services.store.user_by_username(&account.username),
        services
            .store
            .token_by_digest(TokenIntent::AppPassword, &digest),
    )?;
    if let Err(refusal) = admit(user.as_ref(), token.as_ref(), Utc::now()) {
        return Err(refuse(refusal.as_str()).await);
    }
    let Some(user) = user else {
        return Err(refuse("unknown user").await);
    };
    // The credentials are right: the account's failures are forgotten (the address keeps
    // its count). A group-policy refusal is not a guess and is not counted.
    throttle.record_success(&keys[0]).await;
    if !admits_user(services, app, &user).await? {
        return Err(refuse_unthrottled("denied by the application's group policy").await);
    }
    Ok(user)
}
