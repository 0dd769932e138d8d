//! What an upstream login does to Gatehouse's users (issue 6, "user matching"): sign in the
//! linked user, link an existing user, enrol a new one, or refuse. The one rule that never
//! bends: an upstream account is only ever joined to a local user by an explicit link, a
//! verified email (`email_link`) or, when the operator chose it, the username
//! (`username_link`); a local user already linked to another account at the same source is
//! never taken over.

use crate::identity::UpstreamIdentity;
use crate::request::LoginPurpose;
use gatehouse_core::{UserId, UserMatching};

/// A local user as the matching rules need to see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalCandidate {
    /// The user.
    pub id: UserId,
    /// Whether the user already has a link at this source (to another upstream account).
    pub linked_here: bool,
    /// Whether the user may sign in.
    pub active: bool,
}

/// What the store knows that bears on one upstream login.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MatchFacts {
    /// The user this upstream account is linked to, if any.
    pub linked_user: Option<UserId>,
    /// The one local user with the upstream email (case-insensitive), if exactly one.
    pub by_email: Option<LocalCandidate>,
    /// The local user with the upstream username, if any.
    pub by_username: Option<LocalCandidate>,
    /// For a link from the portal: whether the signed-in user already has a link here.
    pub current_user_linked_here: bool,
}

/// Why an upstream login was refused; each is audited and shown as a page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DenyReason {
    /// `deny` mode and no link.
    NotLinked,
    /// `email_link`: a local user has the address but the upstream does not vouch for it.
    EmailNotVerified,
    /// A local user has the address or the username but is linked to another upstream
    /// account at this source.
    LinkedToAnotherAccount,
    /// The linked or matched local user is deactivated.
    Inactive,
    /// From the portal: the upstream account is linked to someone else.
    LinkedToSomeoneElse,
    /// From the portal: the signed-in user already has a link at this source.
    AlreadyLinkedHere,
}

impl DenyReason {
    /// The stable name used in audit events.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotLinked => "not_linked",
            Self::EmailNotVerified => "email_not_verified",
            Self::LinkedToAnotherAccount => "linked_to_another_account",
            Self::Inactive => "inactive",
            Self::LinkedToSomeoneElse => "linked_to_someone_else",
            Self::AlreadyLinkedHere => "already_linked_here",
        }
    }

    /// What the person is told.
    pub fn message(self) -> &'static str {
        match self {
            Self::NotLinked => {
                "This account is not linked to a user here. Sign in another way and link it \
                 from your account page, or ask an administrator."
            }
            Self::EmailNotVerified => {
                "A user here has this email address, but the upstream has not verified it. \
                 Verify the address there, or sign in another way and link the account."
            }
            Self::LinkedToAnotherAccount => {
                "The matching user here is linked to a different upstream account."
            }
            Self::Inactive => "This user is deactivated.",
            Self::LinkedToSomeoneElse => "This upstream account is linked to another user.",
            Self::AlreadyLinkedHere => {
                "Your account is already linked to an account at this source; remove that \
                 link first."
            }
        }
    }
}

/// The outcome of matching.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MatchDecision {
    /// The account is linked: continue the authentication flow as this user.
    SignIn(UserId),
    /// Link the account to this existing user, then continue as them.
    Link(UserId),
    /// Create a user (through the enrollment flow if the source has one). `username_taken`
    /// says the upstream username cannot be used as is: the enrollment must ask for another.
    Enroll {
        /// The upstream username is taken locally.
        username_taken: bool,
    },
    /// Refuse.
    Deny(DenyReason),
}

/// Decides what a login of `identity` at a source in `mode` does.
pub fn decide(
    mode: UserMatching,
    purpose: &LoginPurpose,
    identity: &UpstreamIdentity,
    facts: &MatchFacts,
) -> MatchDecision {
    if let LoginPurpose::Link { user } = purpose {
        return match facts.linked_user {
            Some(linked) if linked == *user => MatchDecision::SignIn(linked),
            Some(_) => MatchDecision::Deny(DenyReason::LinkedToSomeoneElse),
            None if facts.current_user_linked_here => {
                MatchDecision::Deny(DenyReason::AlreadyLinkedHere)
            }
            None => MatchDecision::Link(*user),
        };
    }
    if let Some(linked) = facts.linked_user {
        return MatchDecision::SignIn(linked);
    }
    let link_to = |candidate: &LocalCandidate| {
        if candidate.linked_here {
            MatchDecision::Deny(DenyReason::LinkedToAnotherAccount)
        } else if !candidate.active {
            MatchDecision::Deny(DenyReason::Inactive)
        } else {
            MatchDecision::Link(candidate.id)
        }
    };
    let enroll = MatchDecision::Enroll {
        username_taken: identity.username.is_none() || facts.by_username.is_some(),
    };
    match mode {
        UserMatching::Deny => MatchDecision::Deny(DenyReason::NotLinked),
        UserMatching::Identifier => enroll,
        UserMatching::EmailLink => match &facts.by_email {
            Some(_) if !identity.email_verified => {
                MatchDecision::Deny(DenyReason::EmailNotVerified)
            }
            Some(candidate) => link_to(candidate),
            None => enroll,
        },
        UserMatching::UsernameLink => match &facts.by_username {
            Some(candidate) => link_to(candidate),
            None => enroll,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(verified: bool) -> UpstreamIdentity {
        UpstreamIdentity {
            subject: "42".into(),
            username: Some("alice".into()),
            email: Some("alice@example.com".into()),
            email_verified: verified,
            ..UpstreamIdentity::default()
        }
    }

    fn candidate(id: UserId) -> LocalCandidate {
        LocalCandidate {
            id,
            linked_here: false,
            active: true,
        }
    }

    #[test]
    fn an_existing_link_always_signs_in() {
        let linked = UserId::new();
        let facts = MatchFacts {
            linked_user: Some(linked),
            ..MatchFacts::default()
        };
        for mode in [
            UserMatching::Identifier,
            UserMatching::EmailLink,
            UserMatching::UsernameLink,
            UserMatching::Deny,
        ] {
            assert_eq!(
                decide(mode, &LoginPurpose::SignIn, &identity(false), &facts),
                MatchDecision::SignIn(linked)
            );
        }
    }

    #[test]
    fn identifier_mode_enrols_and_never_merges_a_taken_username() {
        let sign_in = LoginPurpose::SignIn;
        assert_eq!(
            decide(
                UserMatching::Identifier,
                &sign_in,
                &identity(true),
                &MatchFacts::default()
            ),
            MatchDecision::Enroll {
                username_taken: false
            }
        );
        let taken = MatchFacts {
            by_username: Some(candidate(UserId::new())),
            by_email: Some(candidate(UserId::new())),
            ..MatchFacts::default()
        };
        assert_eq!(
            decide(UserMatching::Identifier, &sign_in, &identity(true), &taken),
            MatchDecision::Enroll {
                username_taken: true
            }
        );
    }

    #[test]
    fn email_link_needs_a_verified_address() {
        let local = UserId::new();
        let facts = MatchFacts {
            by_email: Some(candidate(local)),
            ..MatchFacts::default()
        };
        let sign_in = LoginPurpose::SignIn;
        assert_eq!(
            decide(UserMatching::EmailLink, &sign_in, &identity(true), &facts),
            MatchDecision::Link(local)
        );
        assert_eq!(
            decide(UserMatching::EmailLink, &sign_in, &identity(false), &facts),
            MatchDecision::Deny(DenyReason::EmailNotVerified)
        );
        let mut linked_elsewhere = facts.clone();
        if let Some(c) = linked_elsewhere.by_email.as_mut() {
            c.linked_here = true;
        }
        assert_eq!(
            decide(
                UserMatching::EmailLink,
                &sign_in,
                &identity(true),
                &linked_elsewhere
            ),
            MatchDecision::Deny(DenyReason::LinkedToAnotherAccount)
        );
        assert!(matches!(
            decide(
                UserMatching::EmailLink,
                &sign_in,
                &identity(false),
                &MatchFacts::default()
            ),
            MatchDecision::Enroll { .. }
        ));
    }

    #[test]
    fn username_link_and_deny() {
        let local = UserId::new();
        let mut facts = MatchFacts {
            by_username: Some(candidate(local)),
            ..MatchFacts::default()
        };
        let sign_in = LoginPurpose::SignIn;
        assert_eq!(
            decide(
                UserMatching::UsernameLink,
                &sign_in,
                &identity(false),
                &facts
            ),
            MatchDecision::Link(local)
        );
        if let Some(c) = facts.by_username.as_mut() {
            c.active = false;
        }
        assert_eq!(
            decide(
                UserMatching::UsernameLink,
                &sign_in,
                &identity(false),
                &facts
            ),
            MatchDecision::Deny(DenyReason::Inactive)
        );
        assert_eq!(
            decide(UserMatching::Deny, &sign_in, &identity(true), &facts),
            MatchDecision::Deny(DenyReason::NotLinked)
        );
    }

    #[test]
    fn linking_from_the_portal() {
        let me = UserId::new();
        let link = LoginPurpose::Link { user: me };
        let fresh = MatchFacts::default();
        assert_eq!(
            decide(UserMatching::Deny, &link, &identity(false), &fresh),
            MatchDecision::Link(me)
        );
        let someone_else = MatchFacts {
            linked_user: Some(UserId::new()),
            ..MatchFacts::default()
        };
        assert_eq!(
            decide(
                UserMatching::Identifier,
                &link,
                &identity(true),
                &someone_else
            ),
            MatchDecision::Deny(DenyReason::LinkedToSomeoneElse)
        );
        let already = MatchFacts {
            current_user_linked_here: true,
            ..MatchFacts::default()
        };
        assert_eq!(
            decide(UserMatching::Identifier, &link, &identity(true), &already),
            MatchDecision::Deny(DenyReason::AlreadyLinkedHere)
        );
    }
}
