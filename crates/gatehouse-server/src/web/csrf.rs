//! Double-submit CSRF protection for every form: a random HttpOnly cookie, and in each form a
//! token that is an HMAC over that cookie's value. A cross-site page can neither read the
//! cookie nor forge the token.

use super::cookies;
use crate::services::Services;
use axum::http::HeaderMap;

const CSRF_COOKIE: &str = "gatehouse_csrf";

/// The form token for this browser, and a `Set-Cookie` value when the cookie had to be created.
pub(crate) fn form_token(services: &Services, headers: &HeaderMap) -> (String, Option<String>) {
    let https = services.config.is_https();
    let name = cookies::name(CSRF_COOKIE, https);
    let (value, set_cookie) =
        match cookies::read(headers, &name).filter(|v| (32..=128).contains(&v.len())) {
            Some(existing) => (existing, None),
            None => {
                let value = gatehouse_crypto::generate_token("");
                let header = cookies::set(&name, &value, https);
                (value, Some(header))
            }
        };
    (services.csrf.issue(&value), set_cookie)
}

/// Whether a submitted form token matches this browser's cookie.
pub(crate) fn verify(services: &Services, headers: &HeaderMap, token: &str) -> bool {
    let name = cookies::name(CSRF_COOKIE, services.config.is_https());
    cookies::read(headers, &name).is_some_and(|cookie| services.csrf.verify(&cookie, token))
}
