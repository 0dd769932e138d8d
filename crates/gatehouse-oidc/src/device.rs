//! RFC 8628, the device authorization grant, as pure rules: the user code (§6.1: eight
//! letters from an alphabet without vowels or look-alikes, shown as `XXXX-XXXX`, typed in any
//! case with or without the dash), the scopes of a device authorization request (§3.1), and
//! what a poll of the token endpoint answers (§3.5): `authorization_pending`, `slow_down`
//! (and the interval grows by five seconds), `access_denied`, `expired_token`, or tokens.

use crate::error::{TokenError, TokenErrorCode};
use crate::params::Params;
use chrono::{DateTime, Utc};
use gatehouse_core::{DeviceAuthorization, DeviceAuthorizationStatus, OAuth2Provider};

/// The grant type of the token request.
pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// RFC 8628 §6.1's consonant alphabet: no vowels (no words), nothing that looks alike.
pub const USER_CODE_ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";
/// Letters in a user code (20^8: about 34 bits, against a few guesses per code lifetime).
pub const USER_CODE_LEN: usize = 8;
/// Seconds a device code and its user code stay valid.
pub const DEVICE_CODE_LIFETIME_SECS: i64 = 600;
/// The polling interval a device starts with (RFC 8628 §3.2's default).
pub const DEFAULT_INTERVAL_SECS: i64 = 5;
/// What `slow_down` adds to the interval (RFC 8628 §3.5).
pub const SLOW_DOWN_STEP_SECS: i64 = 5;

/// A user code from a random number, in its normalised form (eight letters, no dash).
pub fn user_code_from(random: u64) -> String {
    let base = USER_CODE_ALPHABET.len() as u64;
    let mut rest = random;
    let mut code = String::with_capacity(USER_CODE_LEN);
    for _ in 0..USER_CODE_LEN {
        let index = usize::try_from(rest % base).unwrap_or(0);
        code.push(char::from(USER_CODE_ALPHABET[index]));
        rest /= base;
    }
    code
}

/// How a normalised user code is shown: `XXXX-XXXX`.
pub fn display_user_code(code: &str) -> String {
    match (code.get(..4), code.get(4..)) {
        (Some(head), Some(tail)) if !tail.is_empty() => format!("{head}-{tail}"),
        _ => code.to_owned(),
    }
}

/// What the user typed, normalised (upper case, dashes and spaces dropped), if it can be a
/// user code at all.
pub fn normalise_user_code(typed: &str) -> Option<String> {
    if typed.len() > 32 {
        return None;
    }
    let code: String = typed
        .chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (code.len() == USER_CODE_LEN && code.bytes().all(|b| USER_CODE_ALPHABET.contains(&b)))
        .then_some(code)
}

/// RFC 8628 §3.1: the scopes of a device authorization request, kept to those the client may
/// have (as the authorization endpoint does). Without `scope`, every allowed scope.
pub fn requested_scopes(
    params: &Params,
    provider: &OAuth2Provider,
) -> Result<Vec<String>, TokenError> {
    let Some(text) = params.get("scope") else {
        return Ok(provider.scopes.clone());
    };
    let mut scopes: Vec<String> = Vec::new();
    for scope in text.split(' ').filter(|s| !s.is_empty()) {
        gatehouse_core::application::scope_token(scope)
            .map_err(|_| TokenError::new(TokenErrorCode::InvalidScope, "scope is malformed"))?;
        if provider.scopes.iter().any(|s| s == scope) && !scopes.iter().any(|s| s == scope) {
            scopes.push(scope.to_owned());
        }
    }
    if scopes.is_empty() {
        return Err(TokenError::new(
            TokenErrorCode::InvalidScope,
            "none of the requested scopes is allowed for this application",
        ));
    }
    Ok(scopes)
}

/// What a poll of the token endpoint gets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PollAnswer {
    /// The user approved: issue tokens (once).
    Issue,
    /// Still pending: answer the error, and store the poll with this interval.
    Wait {
        /// `authorization_pending` or `slow_down`.
        error: TokenError,
        /// The interval from now on.
        interval_secs: i64,
    },
    /// A final refusal.
    Refuse(TokenError),
}

/// RFC 8628 §3.5: the answer to a poll at `now`. A device that polls again sooner than its
/// interval while the request is pending gets `slow_down` and five more seconds of interval.
/// A redeemed code is `invalid_grant` (single use).
pub fn poll(authorization: &DeviceAuthorization, now: DateTime<Utc>) -> PollAnswer {
    use DeviceAuthorizationStatus as S;
    if authorization.status == S::Redeemed {
        return PollAnswer::Refuse(TokenError::invalid_grant(
            "the device code was already used",
        ));
    }
    if authorization.expires_at <= now {
        return PollAnswer::Refuse(TokenError::new(
            TokenErrorCode::ExpiredToken,
            "the device code expired",
        ));
    }
    match authorization.status {
        S::Denied => PollAnswer::Refuse(TokenError::new(
            TokenErrorCode::AccessDenied,
            "the user denied the request",
        )),
        S::Approved => PollAnswer::Issue,
        S::Pending | S::Redeemed => {
            let too_soon = authorization.last_polled_at.is_some_and(|last| {
                (now - last).num_milliseconds() < authorization.interval_secs * 1000
            });
            if too_soon {
                PollAnswer::Wait {
                    error: TokenError::new(TokenErrorCode::SlowDown, "poll less often"),
                    interval_secs: authorization.interval_secs + SLOW_DOWN_STEP_SECS,
                }
            } else {
                PollAnswer::Wait {
                    error: TokenError::new(
                        TokenErrorCode::AuthorizationPending,
                        "the user has not answered yet",
                    ),
                    interval_secs: authorization.interval_secs,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;
    use gatehouse_core::ApplicationId;
    use proptest::prelude::*;

    fn pending(now: DateTime<Utc>) -> DeviceAuthorization {
        DeviceAuthorization {
            id: ApplicationId::new().0,
            application_id: ApplicationId::new(),
            scopes: vec!["openid".into()],
            status: DeviceAuthorizationStatus::Pending,
            user_id: None,
            data: serde_json::Map::new(),
            interval_secs: DEFAULT_INTERVAL_SECS,
            last_polled_at: None,
            expires_at: now + Duration::seconds(DEVICE_CODE_LIFETIME_SECS),
            created_at: now,
        }
    }

    fn code_of(answer: &PollAnswer) -> Option<&'static str> {
        match answer {
            PollAnswer::Issue => None,
            PollAnswer::Wait { error, .. } | PollAnswer::Refuse(error) => Some(error.code.as_str()),
        }
    }

    #[test]
    fn user_codes_are_shown_with_a_dash_and_typed_loosely() {
        let code = user_code_from(123_456_789);
        assert_eq!(code.len(), USER_CODE_LEN);
        let shown = display_user_code(&code);
        assert_eq!(shown.len(), 9);
        assert_eq!(&shown[4..5], "-");
        assert_eq!(normalise_user_code(&shown), Some(code.clone()));
        assert_eq!(
            normalise_user_code(&shown.to_ascii_lowercase()),
            Some(code.clone())
        );
        assert_eq!(normalise_user_code("BCDF GHJK"), Some("BCDFGHJK".into()));
        assert_eq!(
            normalise_user_code("ABCD-EFGH"),
            None,
            "vowels are not used"
        );
        assert_eq!(normalise_user_code("BCDF-GHJ"), None);
        assert_eq!(normalise_user_code(&"B".repeat(40)), None);
    }

    proptest! {
        #[test]
        fn every_user_code_normalises_to_itself(random in any::<u64>()) {
            let code = user_code_from(random);
            prop_assert_eq!(normalise_user_code(&display_user_code(&code)), Some(code));
        }

        #[test]
        fn normalising_never_panics(typed in ".{0,40}") {
            let _ = normalise_user_code(&typed);
        }
    }

    #[test]
    fn pending_polls_wait_and_fast_ones_slow_down() {
        let now = Utc::now();
        let mut auth = pending(now);
        let first = poll(&auth, now);
        assert_eq!(code_of(&first), Some("authorization_pending"));
        auth.last_polled_at = Some(now);
        let fast = poll(&auth, now + Duration::seconds(2));
        assert_eq!(
            fast,
            PollAnswer::Wait {
                error: TokenError::new(TokenErrorCode::SlowDown, "poll less often"),
                interval_secs: DEFAULT_INTERVAL_SECS + SLOW_DOWN_STEP_SECS,
            }
        );
        let patient = poll(&auth, now + Duration::seconds(DEFAULT_INTERVAL_SECS));
        assert_eq!(code_of(&patient), Some("authorization_pending"));
    }

    #[test]
    fn answers_and_expiry() {
        let now = Utc::now();
        let mut auth = pending(now);
        auth.status = DeviceAuthorizationStatus::Approved;
        auth.last_polled_at = Some(now);
        assert_eq!(
            poll(&auth, now),
            PollAnswer::Issue,
            "approval is not slowed down"
        );
        auth.status = DeviceAuthorizationStatus::Denied;
        assert_eq!(code_of(&poll(&auth, now)), Some("access_denied"));
        auth.status = DeviceAuthorizationStatus::Pending;
        let late = now + Duration::seconds(DEVICE_CODE_LIFETIME_SECS);
        assert_eq!(code_of(&poll(&auth, late)), Some("expired_token"));
        auth.status = DeviceAuthorizationStatus::Redeemed;
        assert_eq!(code_of(&poll(&auth, now)), Some("invalid_grant"));
    }
}
