//! Just-in-time enrollment of an upstream account (issue 6): the attributes every enrolled
//! user carries, and what a source's enrollment flow starts with. The upstream's values
//! pre-fill the flow's prompt; a username that is missing, invalid or already taken here is
//! left out, so the prompt asks for another one: an upstream account is never merged into a
//! local user by its name. Only the address the upstream verified counts as verified.

use crate::identity::UpstreamIdentity;
use gatehouse_core::validate;
use serde_json::{Map, Value};

/// The attributes of a user enrolled from upstream account `subject` at source `slug`: what
/// subject mode `dex` reads, so applications imported from Dex give this person the `sub` Dex
/// gave them (a source imported from a Dex connector keeps the connector id as its slug).
pub fn user_attributes(subject: &str, slug: &str) -> Map<String, Value> {
    gatehouse_oidc::dex::connector_identity(subject, slug)
        .into_iter()
        .map(|(name, value)| (name.to_owned(), Value::String(value)))
        .collect()
}

/// What an enrollment flow starts with for one upstream account.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EnrollmentSeed {
    /// Prompt values to pre-fill, by field name: `username` (only when usable here), `name`
    /// and `email` (only when a valid address).
    pub prompt_data: Map<String, Value>,
    /// The upstream username when it cannot be used here (taken or invalid), so the prompt
    /// can say why it asks for another.
    pub unusable_username: Option<String>,
    /// The address the upstream verified, normalised, if any.
    pub verified_email: Option<String>,
}

/// The seed of an enrollment flow for `identity`; `username_taken` says a local user already
/// has the upstream username (in any letter case).
pub fn seed(identity: &UpstreamIdentity, username_taken: bool) -> EnrollmentSeed {
    let mut seed = EnrollmentSeed::default();
    match identity.username.as_deref() {
        Some(name) if !username_taken && validate::username(name).is_ok() => {
            seed.prompt_data
                .insert("username".into(), Value::String(name.to_owned()));
        }
        Some(name) => seed.unusable_username = Some(name.to_owned()),
        None => {}
    }
    if let Some(name) = identity.name.as_deref().map(str::trim)
        && validate::display_name(name).is_ok()
    {
        seed.prompt_data
            .insert("name".into(), Value::String(name.to_owned()));
    }
    if let Some(email) = identity
        .email
        .as_deref()
        .and_then(|e| validate::email(e).ok())
    {
        seed.prompt_data
            .insert("email".into(), Value::String(email.clone()));
        if identity.email_verified {
            seed.verified_email = Some(email);
        }
    }
    seed
}

/// Whether the address the person ends up with (`chosen`, as the user record stores it) is
/// the one the upstream verified. An address typed into the prompt instead is unverified.
pub fn email_verified(verified: Option<&str>, chosen: Option<&str>) -> bool {
    match (verified, chosen.map(validate::email)) {
        (Some(verified), Some(Ok(chosen))) => verified.eq_ignore_ascii_case(&chosen),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(username: Option<&str>, email: &str, verified: bool) -> UpstreamIdentity {
        UpstreamIdentity {
            subject: "42".into(),
            username: username.map(str::to_owned),
            email: Some(email.into()),
            email_verified: verified,
            name: Some("Ada Lovelace".into()),
            groups: Vec::new(),
        }
    }

    #[test]
    fn a_free_username_and_the_other_values_are_pre_filled() {
        let seed = seed(&identity(Some("ada"), "Ada@Example.COM", true), false);
        assert_eq!(seed.prompt_data["username"], "ada");
        assert_eq!(seed.prompt_data["name"], "Ada Lovelace");
        assert_eq!(seed.prompt_data["email"], "Ada@example.com");
        assert_eq!(seed.unusable_username, None);
        assert_eq!(seed.verified_email.as_deref(), Some("Ada@example.com"));
    }

    #[test]
    fn a_taken_invalid_or_missing_username_is_left_for_the_prompt() {
        let taken = seed(&identity(Some("carol"), "c@example.com", true), true);
        assert!(!taken.prompt_data.contains_key("username"));
        assert_eq!(taken.unusable_username.as_deref(), Some("carol"));
        let invalid = seed(&identity(Some("-carol"), "c@example.com", true), false);
        assert!(!invalid.prompt_data.contains_key("username"));
        assert_eq!(invalid.unusable_username.as_deref(), Some("-carol"));
        let missing = seed(&identity(None, "c@example.com", true), false);
        assert!(!missing.prompt_data.contains_key("username"));
        assert_eq!(missing.unusable_username, None);
    }

    #[test]
    fn an_unverified_or_invalid_address_is_not_verified() {
        let unverified = seed(&identity(Some("ada"), "ada@example.com", false), false);
        assert_eq!(unverified.prompt_data["email"], "ada@example.com");
        assert_eq!(unverified.verified_email, None);
        let invalid = seed(&identity(Some("ada"), "not an address", true), false);
        assert!(!invalid.prompt_data.contains_key("email"));
        assert_eq!(invalid.verified_email, None);
    }

    #[test]
    fn only_the_verified_address_counts_as_verified() {
        let verified = Some("ada@example.com");
        assert!(email_verified(verified, Some("ada@EXAMPLE.com")));
        assert!(!email_verified(verified, Some("other@example.com")));
        assert!(!email_verified(verified, None));
        assert!(!email_verified(None, Some("ada@example.com")));
    }

    #[test]
    fn attributes_name_the_upstream_account_and_the_source() {
        let attributes = user_attributes("101", "forgejo");
        assert_eq!(attributes["dex_user_id"], "101");
        assert_eq!(attributes["dex_connector_id"], "forgejo");
    }
}
