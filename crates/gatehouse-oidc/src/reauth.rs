//! OIDC Core §3.1.2.1 `prompt=login` and `max_age`: whether a signed-in user's session is
//! fresh enough, and the marker that lets an authorization request recognise the fresh
//! sign-in it asked for. The authorization endpoint sends the browser to sign in again with
//! the request's own URL as the way back, plus `gatehouse_reauth=<time>.<mac>`: when the
//! request returns, a session authenticated at or after `<time>` satisfies it (without the
//! marker, `prompt=login` would send the user to sign in forever). The MAC (a keyed digest
//! computed by the caller) covers the time and the original request, so a client cannot
//! forge a marker, and a marker older than [`MARKER_LIFETIME_SECS`] is ignored.

use crate::authorize::Prompt;
use chrono::{DateTime, Utc};

/// The parameter carrying the marker, always appended last to the request.
pub const MARKER_PARAM: &str = "gatehouse_reauth";
/// How long after sending the user to sign in the returning request is still recognised.
pub const MARKER_LIFETIME_SECS: i64 = 15 * 60;

/// What the authorization endpoint does with a signed-in user's session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Freshness {
    /// The session satisfies the request.
    Fresh,
    /// The user must sign in again (the flow runs even though a session exists).
    SignInAgain,
    /// `prompt=none` forbids showing the sign-in page: answer `login_required`.
    LoginRequired,
}

/// Decides whether a session authenticated at `auth_time` satisfies `prompt` and `max_age`
/// at `now`. `signed_in_again_since` is the verified marker's time when the request comes
/// back from the sign-in it asked for. `max_age=0` means "always sign in again", like
/// `prompt=login`.
pub fn freshness(
    prompt: Prompt,
    max_age: Option<u64>,
    auth_time: DateTime<Utc>,
    now: DateTime<Utc>,
    signed_in_again_since: Option<DateTime<Utc>>,
) -> Freshness {
    if signed_in_again_since.is_some_and(|since| auth_time >= since) {
        return Freshness::Fresh;
    }
    let elapsed = u64::try_from((now - auth_time).num_seconds()).unwrap_or(0);
    let too_old = match max_age {
        Some(0) => true,
        Some(max) => elapsed > max,
        None => false,
    };
    match (prompt.login || too_old, prompt.none) {
        (false, _) => Freshness::Fresh,
        (true, true) => Freshness::LoginRequired,
        (true, false) => Freshness::SignInAgain,
    }
}

/// The text the marker's MAC covers.
pub fn marker_message(issued_at: i64, original_query: &str) -> String {
    format!("oidc-reauth:{issued_at}:{original_query}")
}

/// The `&gatehouse_reauth=…` suffix for `original_query` (the caller supplies the MAC of
/// [`marker_message`]).
pub fn marker_suffix(issued_at: i64, mac: &str) -> String {
    format!("&{MARKER_PARAM}={issued_at}.{mac}")
}

/// Splits a returning request's query into the original query and its marker (time and
/// MAC), if it ends with one.
pub fn split_marker(query: &str) -> (&str, Option<(i64, &str)>) {
    let needle = format!("&{MARKER_PARAM}=");
    let Some(at) = query.rfind(&needle) else {
        return (query, None);
    };
    let (original, rest) = query.split_at(at);
    let value = &rest[needle.len()..];
    let parsed = value
        .split_once('.')
        .and_then(|(time, mac)| Some((time.parse::<i64>().ok()?, mac)))
        .filter(|(_, mac)| !mac.is_empty() && !mac.contains('&'));
    match parsed {
        Some(marker) => (original, Some(marker)),
        None => (original, None),
    }
}

/// Whether a marker issued at `issued_at` may still be honoured at `now`.
pub fn marker_is_current(issued_at: i64, now: DateTime<Utc>) -> bool {
    let age = now.timestamp() - issued_at;
    (0..=MARKER_LIFETIME_SECS).contains(&age)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).expect("valid")
    }

    #[test]
    fn a_plain_request_accepts_any_session() {
        let p = Prompt::default();
        assert_eq!(
            freshness(p, None, at(0), at(99_999), None),
            Freshness::Fresh
        );
    }

    #[test]
    fn prompt_login_needs_a_sign_in_after_the_marker() {
        let p = Prompt {
            login: true,
            ..Prompt::default()
        };
        assert_eq!(
            freshness(p, None, at(0), at(5), None),
            Freshness::SignInAgain
        );
        assert_eq!(
            freshness(p, None, at(0), at(5), Some(at(3))),
            Freshness::SignInAgain
        );
        assert_eq!(
            freshness(p, None, at(3), at(5), Some(at(3))),
            Freshness::Fresh
        );
    }

    #[test]
    fn max_age() {
        let p = Prompt::default();
        assert_eq!(
            freshness(p, Some(60), at(0), at(60), None),
            Freshness::Fresh
        );
        assert_eq!(
            freshness(p, Some(60), at(0), at(61), None),
            Freshness::SignInAgain
        );
        // max_age=0 is prompt=login: even a session a moment old signs in again.
        assert_eq!(
            freshness(p, Some(0), at(5), at(5), None),
            Freshness::SignInAgain
        );
        assert_eq!(
            freshness(p, Some(0), at(5), at(6), Some(at(4))),
            Freshness::Fresh
        );
        let none = Prompt {
            none: true,
            ..Prompt::default()
        };
        assert_eq!(
            freshness(none, Some(60), at(0), at(61), None),
            Freshness::LoginRequired
        );
        assert_eq!(
            freshness(none, Some(60), at(0), at(30), None),
            Freshness::Fresh
        );
    }

    #[test]
    fn markers_split_and_expire() {
        let query = format!(
            "client_id=a&scope=openid{}",
            marker_suffix(1234, "mac-value")
        );
        assert_eq!(
            split_marker(&query),
            ("client_id=a&scope=openid", Some((1234, "mac-value")))
        );
        assert_eq!(split_marker("client_id=a"), ("client_id=a", None));
        assert_eq!(
            split_marker("client_id=a&gatehouse_reauth=junk"),
            ("client_id=a", None)
        );
        let now = at(0);
        assert!(marker_is_current(now.timestamp(), now));
        assert!(marker_is_current(
            (now - Duration::minutes(10)).timestamp(),
            now
        ));
        assert!(!marker_is_current(
            (now - Duration::minutes(16)).timestamp(),
            now
        ));
        assert!(!marker_is_current(
            (now + Duration::minutes(1)).timestamp(),
            now
        ));
    }
}
