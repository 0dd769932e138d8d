//! Signed-in sessions for the web layer: an opaque random secret in a cookie, its keyed
//! digest in the session store (so a leaked database holds no usable cookies), a fresh secret
//! at every sign-in (no fixation). Sign-out ends the session through a change set (see
//! `gatehouse_core::Change::EndSession`), which also queues its back-channel logouts. With
//! Redis, the lookup by digest is served from a short-lived shared cache
//! (`crate::redis::sessions`); the database stays the truth and every path that ends a
//! session drops it from that cache after the commit.

use super::cookies;
use crate::services::Services;
use axum::http::HeaderMap;
use chrono::{Duration, Utc};
use gatehouse_core::{AuditContext, AuthenticationMethod, Session, SessionId, StoreError, User};

const SESSION_COOKIE: &str = "gatehouse_session";

/// The signed-in session and its user, if the request carries a live one for an active user.
pub(crate) async fn current(
    services: &Services,
    headers: &HeaderMap,
) -> Result<Option<(Session, User)>, StoreError> {
    let name = cookies::name(SESSION_COOKIE, services.config.is_https());
    let Some(secret) = cookies::read(headers, &name).filter(|v| (32..=128).contains(&v.len()))
    else {
        return Ok(None);
    };
    let digest = services.digester.digest(&secret);
    let Some(session) = lookup(services, &digest).await? else {
        return Ok(None);
    };
    match services.store.user_by_id(session.user_id).await? {
        Some(user) if user.active => Ok(Some((session, user))),
        _ => Ok(None),
    }
}

/// The live session with `digest`: from the Redis cache when it has it, else from the
/// database (then cached).
async fn lookup(services: &Services, digest: &str) -> Result<Option<Session>, StoreError> {
    let now = Utc::now();
    if let Some(link) = &services.redis {
        if let Some(session) = crate::redis::sessions::cached(link, digest).await
            && session.digest == digest
            && session.expires_at > now
        {
            return Ok(Some(session));
        }
        let found = services.store.session_by_digest(digest, now).await?;
        if let Some(session) = &found {
            crate::redis::sessions::remember(link, session).await;
        }
        return Ok(found);
    }
    services.store.session_by_digest(digest, now).await
}

/// A new session for `user` lasting `lifetime`, authenticated just now with `methods` (not
/// stored yet: the caller stores it in one
/// change set with the sign-in's audit event) and the `Set-Cookie` value carrying its secret.
/// A `persistent` cookie outlives the browser ("Stay signed in"); otherwise the browser
/// forgets it when it closes, and the server ends the session after `lifetime` either way.
pub(crate) fn issue(
    services: &Services,
    user: &User,
    (lifetime, persistent): (Duration, bool),
    methods: Vec<AuthenticationMethod>,
    audit: &AuditContext,
) -> (Session, String) {
    let secret = gatehouse_crypto::generate_token("");
    let now = Utc::now();
    let session = Session {
        id: SessionId::new(),
        user_id: user.id,
        digest: services.digester.digest(&secret),
        created_at: now,
        expires_at: now + lifetime,
        client_ip: audit.client_ip.clone(),
        user_agent: audit.user_agent.clone(),
        auth_time: now,
        auth_methods: methods,
    };
    let https = services.config.is_https();
    let name = cookies::name(SESSION_COOKIE, https);
    let cookie = if persistent {
        cookies::set_lax_for(&name, &secret, https, lifetime.num_seconds())
    } else {
        cookies::set_lax(&name, &secret, https)
    };
    (session, cookie)
}

/// The `Set-Cookie` value that clears the session cookie.
pub(crate) fn clear_cookie(services: &Services) -> String {
    let https = services.config.is_https();
    cookies::clear(&cookies::name(SESSION_COOKIE, https), https)
}
