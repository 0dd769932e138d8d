//! RFC 8628, the device authorization grant, over the store: starting an authorization
//! (device code and user code, stored as keyed digests), finding a pending one by the code
//! the user typed, recording the user's answer, and the token endpoint's polling. The rules
//! (code alphabet, poll answers, `slow_down`) live in `gatehouse_oidc::device`. Starting,
//! answering and redeeming are audit events.

use crate::oidc::grants::{self, GrantError, SignIn, TokenResponse};
use crate::services::Services;
use chrono::{DateTime, Duration, Utc};
use gatehouse_core::{
    Application, AuditContext, DeviceAuthorization, DeviceDecision, EventAction, GrantFamilyId,
    NewDeviceAuthorization, NewEvent, OAuth2Provider, OAuth2Token, OAuth2TokenId, OAuth2TokenKind,
    Session, StoreError, User,
};
use gatehouse_oidc::TokenError;
use gatehouse_oidc::device::{self as rules, PollAnswer};

/// How many user codes to draw before giving up on a collision (each try collides with
/// probability about live codes / 20^8).
const USER_CODE_ATTEMPTS: usize = 4;

/// A started device authorization: what the device shows and polls with.
#[derive(Clone, Debug)]
pub struct DeviceStart {
    /// The secret the device polls with.
    pub device_code: String,
    /// The code the user types, `XXXX-XXXX`.
    pub user_code: String,
    /// Seconds until both expire.
    pub expires_in: i64,
    /// Seconds between polls.
    pub interval: i64,
}

/// Starts a device authorization for `app` with `scopes`; records a `model_created` event
/// about the `device_authorization`.
pub async fn start(
    services: &Services,
    app: &Application,
    scopes: Vec<String>,
    audit: &AuditContext,
) -> Result<DeviceStart, StoreError> {
    let device_code = gatehouse_crypto::generate_token("");
    let expires_at = Utc::now() + Duration::seconds(rules::DEVICE_CODE_LIFETIME_SECS);
    let mut last_conflict = None;
    for _ in 0..USER_CODE_ATTEMPTS {
        let user_code = rules::user_code_from(gatehouse_crypto::random_u64());
        let new = NewDeviceAuthorization {
            application_id: app.id,
            device_code_digest: services.digester.digest(&device_code),
            user_code_digest: user_code_digest(services, &user_code),
            scopes: scopes.clone(),
            interval_secs: rules::DEFAULT_INTERVAL_SECS,
            expires_at,
        };
        let event = NewEvent::about_model(
            EventAction::ModelCreated,
            "device_authorization",
            app.id,
            &app.slug,
        )
        .with("scopes", scopes.join(" "));
        match services
            .store
            .create_device_authorization(new, event, audit)
            .await
        {
            Ok(_) => {
                return Ok(DeviceStart {
                    device_code,
                    user_code: rules::display_user_code(&user_code),
                    expires_in: rules::DEVICE_CODE_LIFETIME_SECS,
                    interval: rules::DEFAULT_INTERVAL_SECS,
                });
            }
            Err(StoreError::Conflict(message)) => last_conflict = Some(message),
            Err(other) => return Err(other),
        }
    }
    tracing::error!(
        conflict = last_conflict.as_deref().unwrap_or_default(),
        "no free device user code"
    );
    Err(StoreError::Internal)
}

fn user_code_digest(services: &Services, normalised: &str) -> String {
    services
        .digester
        .digest(&format!("device-user-code:{normalised}"))
}

/// The pending, unexpired authorization for what the user typed, with its application.
pub async fn pending(
    services: &Services,
    typed: &str,
    now: DateTime<Utc>,
) -> Result<Option<(DeviceAuthorization, Application)>, StoreError> {
    let Some(code) = rules::normalise_user_code(typed) else {
        return Ok(None);
    };
    let Some(authorization) = services
        .store
        .pending_device_authorization(&user_code_digest(services, &code), now)
        .await?
    else {
        return Ok(None);
    };
    Ok(services
        .store
        .application_by_id(authorization.application_id)
        .await?
        .filter(|app| app.oauth2.is_some())
        .map(|app| (authorization, app)))
}

/// Records the signed-in user's answer; `false` when the authorization was answered or
/// expired meanwhile. An approval is an `authorize_application` event.
pub async fn answer(
    services: &Services,
    (authorization, app): (&DeviceAuthorization, &Application),
    (user, session): (&User, &Session),
    approve: bool,
    audit: &AuditContext,
) -> Result<bool, StoreError> {
    let (decision, event) = if approve {
        let mut data = serde_json::Map::new();
        SignIn::of_session(session).store_in(&mut data);
        let event = NewEvent::about_model(
            EventAction::AuthorizeApplication,
            "application",
            app.id,
            &app.slug,
        )
        .with("user", user.username.as_str())
        .with("scopes", authorization.scopes.join(" "))
        .with("grant_type", rules::DEVICE_CODE_GRANT);
        (
            DeviceDecision::Approve {
                user: user.id,
                data,
            },
            event,
        )
    } else {
        let event = NewEvent::about_model(
            EventAction::ModelUpdated,
            "device_authorization",
            app.id,
            &app.slug,
        )
        .with("user", user.username.as_str())
        .with("decision", "denied");
        (DeviceDecision::Deny { user: user.id }, event)
    };
    services
        .store
        .decide_device_authorization(authorization.id, decision, Utc::now(), event, audit)
        .await
}

/// The token endpoint's device code grant (RFC 8628 §3.4, §3.5).
pub async fn redeem(
    services: &Services,
    app: &Application,
    provider: &OAuth2Provider,
    device_code: &str,
    audit: &AuditContext,
) -> Result<TokenResponse, GrantError> {
    let now = Utc::now();
    let found = if device_code.len() > 256 {
        None
    } else {
        services
            .store
            .device_authorization_by_device_code(&services.digester.digest(device_code))
            .await?
    };
    let Some(authorization) = found.filter(|a| a.application_id == app.id) else {
        return Err(TokenError::invalid_grant("the device code is invalid").into());
    };
    match rules::poll(&authorization, now) {
        PollAnswer::Refuse(error) => return Err(error.into()),
        PollAnswer::Wait {
            error,
            interval_secs,
        } => {
            services
                .store
                .record_device_poll(authorization.id, now, interval_secs)
                .await?;
            return Err(error.into());
        }
        PollAnswer::Issue => {}
    }
    let user = match authorization.user_id {
        Some(id) => services.store.user_by_id(id).await?,
        None => None,
    };
    let Some(user) = user.filter(|u| u.active) else {
        return Err(TokenError::invalid_grant("the user is no longer active").into());
    };
    // The grant's family starts here: refresh tokens issued now rotate within it.
    let seed = OAuth2Token {
        id: OAuth2TokenId::new(),
        kind: OAuth2TokenKind::AuthorizationCode,
        application_id: app.id,
        user_id: Some(user.id),
        family: GrantFamilyId::new(),
        // The approving browser session is not the device's: no sid, no back-channel link.
        session_id: None,
        scopes: authorization.scopes.clone(),
        data: serde_json::Map::new(),
        expires_at: authorization.expires_at,
        used_at: None,
        revoked_at: None,
        created_at: authorization.created_at,
    };
    let minted = grants::mint(
        services,
        app,
        provider,
        &seed,
        Some(&user),
        authorization.scopes.clone(),
        &SignIn::stored_in(&authorization.data),
        None,
    )
    .await?;
    let event = grants::token_event(
        app,
        rules::DEVICE_CODE_GRANT,
        Some(&user),
        &authorization.scopes,
    );
    if !services
        .store
        .redeem_device_authorization(authorization.id, minted.records, event, audit)
        .await?
    {
        return Err(TokenError::invalid_grant("the device code was already used").into());
    }
    Ok(minted.response)
}
