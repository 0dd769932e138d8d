//! Service accounts in the client_credentials grant (RFC 6749 §4.4), the way authentik does
//! it: the client sends `username` and `password` beside its own `client_id`, and the token's
//! subject becomes that service account. The password is one of the account's app-password
//! tokens. This module decides whether the presented account and token may act; the caller
//! looks them up (the token by its keyed digest) and checks the application's group policy.

use chrono::{DateTime, Utc};
use gatehouse_core::{Token, TokenIntent, User, UserType};

/// Why a service-account credential was refused. The client only ever sees
/// `invalid_grant`; the reason goes to the audit log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No user has that name.
    UnknownUser,
    /// The user is not a service account (people sign in through flows).
    NotServiceAccount,
    /// The account is deactivated.
    Inactive,
    /// The password is no app password of this account.
    WrongPassword,
    /// The app password expired.
    Expired,
}

impl Refusal {
    /// A short, stable reason for the audit log.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UnknownUser => "unknown user",
            Self::NotServiceAccount => "not a service account",
            Self::Inactive => "user inactive",
            Self::WrongPassword => "wrong app password",
            Self::Expired => "app password expired",
        }
    }
}

/// Whether `user`, presenting the app password that was found as `token` (looked up by the
/// keyed digest of the presented password; `None` when no token matched), may obtain tokens
/// at `now`.
///
/// # Errors
/// The first rule the pair breaks.
pub fn admit(
    user: Option<&User>,
    token: Option<&Token>,
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    let user = user.ok_or(Refusal::UnknownUser)?;
    let token = token
        .filter(|t| t.intent == TokenIntent::AppPassword && t.user_id == Some(user.id))
        .ok_or(Refusal::WrongPassword)?;
    if user.user_type != UserType::ServiceAccount {
        return Err(Refusal::NotServiceAccount);
    }
    if !user.active {
        return Err(Refusal::Inactive);
    }
    if !token.is_valid_at(now) {
        return Err(Refusal::Expired);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;
    use gatehouse_core::{TokenId, UserId};
    use serde_json::Map;

    fn user(user_type: UserType, active: bool) -> User {
        let now = Utc::now();
        User {
            id: UserId::new(),
            username: "robot".into(),
            name: "Robot".into(),
            email: None,
            email_verified: false,
            active,
            user_type,
            password_hash: None,
            attributes: Map::new(),
            created_at: now,
            updated_at: now,
            last_login: None,
        }
    }

    fn app_password(owner: &User, expires_at: Option<DateTime<Utc>>) -> Token {
        Token {
            id: TokenId::new(),
            intent: TokenIntent::AppPassword,
            user_id: Some(owner.id),
            description: "ci".into(),
            expires_at,
            created_at: Utc::now(),
        }
    }

    #[test]
    fn admits_an_active_service_account_with_its_app_password() {
        let now = Utc::now();
        let robot = user(UserType::ServiceAccount, true);
        let forever = app_password(&robot, None);
        let later = app_password(&robot, Some(now + Duration::hours(1)));
        assert_eq!(admit(Some(&robot), Some(&forever), now), Ok(()));
        assert_eq!(admit(Some(&robot), Some(&later), now), Ok(()));
    }

    #[test]
    fn refuses_everything_else() {
        let now = Utc::now();
        let robot = user(UserType::ServiceAccount, true);
        let token = app_password(&robot, None);
        assert_eq!(admit(None, Some(&token), now), Err(Refusal::UnknownUser));
        assert_eq!(admit(Some(&robot), None, now), Err(Refusal::WrongPassword));
        // Another account's app password.
        let other = user(UserType::ServiceAccount, true);
        assert_eq!(
            admit(Some(&other), Some(&token), now),
            Err(Refusal::WrongPassword)
        );
        // A token of another intent with the same owner.
        let mut api = token.clone();
        api.intent = TokenIntent::Api;
        assert_eq!(
            admit(Some(&robot), Some(&api), now),
            Err(Refusal::WrongPassword)
        );
        let mut person = user(UserType::Internal, true);
        person.id = robot.id;
        assert_eq!(
            admit(Some(&person), Some(&token), now),
            Err(Refusal::NotServiceAccount)
        );
        let mut inactive = robot.clone();
        inactive.active = false;
        assert_eq!(
            admit(Some(&inactive), Some(&token), now),
            Err(Refusal::Inactive)
        );
        let expired = app_password(&robot, Some(now - Duration::seconds(1)));
        assert_eq!(
            admit(Some(&robot), Some(&expired), now),
            Err(Refusal::Expired)
        );
    }
}
