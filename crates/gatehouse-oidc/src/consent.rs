//! Whether an authorization needs the user's consent (OIDC Core §3.1.2.4, §3.1.2.1 `prompt`),
//! and how requested scopes are described to the user in plain words. The application's
//! consent mode decides: `implicit` never asks, `explicit` always asks, `remembered` asks
//! once and again when the requested scopes grow beyond what was allowed. `prompt=consent`
//! always asks; `prompt=none` turns a needed page into `consent_required`.

use crate::authorize::Prompt;
use chrono::{DateTime, Utc};
use gatehouse_core::{Consent, ConsentMode};

/// What the authorization endpoint must do about consent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConsentDecision {
    /// Issue the code without asking.
    Proceed,
    /// Show the consent page.
    Ask,
    /// A page is needed but `prompt=none` forbids one: answer `consent_required`.
    Required,
}

/// Decides for a request with `prompt` asking for `scopes`, given the application's mode and
/// the user's remembered consent (if any).
pub fn decide(
    mode: ConsentMode,
    prompt: Prompt,
    scopes: &[String],
    remembered: Option<&Consent>,
    now: DateTime<Utc>,
) -> ConsentDecision {
    let ask = prompt.consent
        || match mode {
            ConsentMode::Implicit => false,
            ConsentMode::Explicit => true,
            ConsentMode::Remembered => !remembered.is_some_and(|c| c.covers(scopes, now)),
        };
    match (ask, prompt.none) {
        (false, _) => ConsentDecision::Proceed,
        (true, true) => ConsentDecision::Required,
        (true, false) => ConsentDecision::Ask,
    }
}

/// The scopes to remember after the user allowed `scopes`: what was allowed before (if still
/// in force) plus the new ones, in first-seen order.
pub fn remembered_scopes(
    previous: Option<&Consent>,
    scopes: &[String],
    now: DateTime<Utc>,
) -> Vec<String> {
    let mut all: Vec<String> = previous
        .filter(|c| c.expires_at.is_none_or(|at| at > now))
        .map(|c| c.scopes.clone())
        .unwrap_or_default();
    for scope in scopes {
        if !all.contains(scope) {
            all.push(scope.clone());
        }
    }
    all
}

/// What a scope lets the application have, in words for the consent page.
pub fn describe(scope: &str) -> String {
    match scope {
        "openid" => "know who you are (your account identifier)".to_owned(),
        "profile" => "your name, your username and your groups".to_owned(),
        "email" => "your email address".to_owned(),
        "groups" => "the groups you belong to".to_owned(),
        "offline_access" => "stay signed in to the app (offline access)".to_owned(),
        other => format!("the permission \u{201c}{other}\u{201d}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;
    use gatehouse_core::{ApplicationId, UserId};

    fn scopes(s: &[&str]) -> Vec<String> {
        s.iter().map(|v| (*v).to_owned()).collect()
    }

    fn consent(s: &[&str]) -> Consent {
        Consent {
            user_id: UserId::new(),
            application_id: ApplicationId::new(),
            scopes: scopes(s),
            granted_at: Utc::now(),
            expires_at: None,
        }
    }

    #[test]
    fn modes_decide() {
        use ConsentDecision as D;
        let now = Utc::now();
        let p = Prompt::default();
        let asked = scopes(&["openid", "email"]);
        let granted = consent(&["openid", "email"]);
        assert_eq!(
            decide(ConsentMode::Implicit, p, &asked, None, now),
            D::Proceed
        );
        assert_eq!(
            decide(ConsentMode::Explicit, p, &asked, Some(&granted), now),
            D::Ask
        );
        assert_eq!(
            decide(ConsentMode::Remembered, p, &asked, None, now),
            D::Ask
        );
        assert_eq!(
            decide(ConsentMode::Remembered, p, &asked, Some(&granted), now),
            D::Proceed
        );
        let more = scopes(&["openid", "email", "profile"]);
        assert_eq!(
            decide(ConsentMode::Remembered, p, &more, Some(&granted), now),
            D::Ask
        );
        let mut lapsed = granted.clone();
        lapsed.expires_at = Some(now - Duration::seconds(1));
        assert_eq!(
            decide(ConsentMode::Remembered, p, &asked, Some(&lapsed), now),
            D::Ask
        );
    }

    #[test]
    fn prompt_forces_or_forbids_the_page() {
        use ConsentDecision as D;
        let now = Utc::now();
        let asked = scopes(&["openid"]);
        let force = Prompt {
            consent: true,
            ..Prompt::default()
        };
        let none = Prompt {
            none: true,
            ..Prompt::default()
        };
        assert_eq!(
            decide(ConsentMode::Implicit, force, &asked, None, now),
            D::Ask
        );
        assert_eq!(
            decide(ConsentMode::Explicit, none, &asked, None, now),
            D::Required
        );
        assert_eq!(
            decide(ConsentMode::Implicit, none, &asked, None, now),
            D::Proceed
        );
        let granted = consent(&["openid"]);
        assert_eq!(
            decide(ConsentMode::Remembered, none, &asked, Some(&granted), now),
            D::Proceed
        );
    }

    #[test]
    fn remembering_unions_scopes() {
        let now = Utc::now();
        let before = consent(&["openid", "email"]);
        assert_eq!(
            remembered_scopes(Some(&before), &scopes(&["profile", "openid"]), now),
            scopes(&["openid", "email", "profile"])
        );
        assert_eq!(
            remembered_scopes(None, &scopes(&["openid"]), now),
            scopes(&["openid"])
        );
        let mut lapsed = before;
        lapsed.expires_at = Some(now - Duration::seconds(1));
        assert_eq!(
            remembered_scopes(Some(&lapsed), &scopes(&["profile"]), now),
            scopes(&["profile"])
        );
    }

    #[test]
    fn scopes_in_plain_words() {
        assert_eq!(describe("email"), "your email address");
        assert!(describe("profile").contains("groups"));
        assert!(describe("offline_access").contains("offline access"));
        assert!(describe("read:things").contains("read:things"));
    }
}
