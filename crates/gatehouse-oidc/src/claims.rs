//! The claims a relying party receives about a user, by scope (OIDC Core §5.4): `profile`
//! gives `name`, `preferred_username`, `nickname` and (as authentik does) `groups`; `email`
//! gives `email` and `email_verified`; `groups` alone gives `groups`, as Dex's `groups`
//! scope does, so clients migrated from Dex get the claim they asked for. The same function
//! feeds the ID token and userinfo, so they never disagree. `sub` depends on the client's
//! subject mode. A provider's custom scope mappings (`gatehouse_core::scope_mapping`) add
//! their claims for the granted scopes.

use gatehouse_core::{ClaimSource, ScopeMappings, SubjectMode, User};
use serde_json::{Map, Value};

/// The `sub` value for `user` under `mode`. `hashed` computes the pairwise hashed id (a
/// keyed hash of the user id and the application, supplied by the caller, which holds the
/// key). A user without an email under `Email` mode falls back to the hashed id, so `sub`
/// is never empty. Under `Dex` mode a user imported from Dex gets the `sub` Dex gave them
/// (from the attributes `gatehouse import dex` sets); any other user gets one built the same
/// way from their Gatehouse id and the connector name `gatehouse`, so it can never equal
/// a Dex-issued one.
pub fn subject(mode: SubjectMode, user: &User, hashed: impl FnOnce() -> String) -> String {
    match mode {
        SubjectMode::HashedUserId => hashed(),
        SubjectMode::UserId => user.id.to_string(),
        SubjectMode::Username => user.username.clone(),
        SubjectMode::Email => user.email.clone().unwrap_or_else(hashed),
        SubjectMode::Dex => dex_identity(user).map_or_else(
            || crate::dex::subject(&user.id.to_string(), "gatehouse"),
            |(user_id, connector)| crate::dex::subject(user_id, connector),
        ),
    }
}

/// The Dex user id and connector recorded on `user`, when both are non-empty strings.
fn dex_identity(user: &User) -> Option<(&str, &str)> {
    let text = |key: &str| {
        user.attributes
            .get(key)
            .and_then(|v| v.as_str())
            .filter(|v| !v.is_empty())
    };
    Some((
        text(crate::dex::USER_ID_ATTRIBUTE)?,
        text(crate::dex::CONNECTOR_ID_ATTRIBUTE)?,
    ))
}

/// The user claims granted by `scopes` (without `sub`): the standard ones, then those of
/// every granted scope in `mappings` (a source without a value leaves its claim out).
pub fn user_claims(
    scopes: &[String],
    user: &User,
    groups: &[String],
    mappings: &ScopeMappings,
) -> Map<String, Value> {
    let mut claims = Map::new();
    let has = |scope: &str| scopes.iter().any(|s| s == scope);
    if has("profile") {
        claims.insert("name".into(), Value::from(user.name.as_str()));
        claims.insert(
            "preferred_username".into(),
            Value::from(user.username.as_str()),
        );
        claims.insert("nickname".into(), Value::from(user.username.as_str()));
    }
    if has("profile") || has("groups") {
        claims.insert("groups".into(), Value::from(groups.to_vec()));
    }
    if has("email")
        && let Some(email) = &user.email
    {
        claims.insert("email".into(), Value::from(email.as_str()));
        claims.insert("email_verified".into(), Value::from(user.email_verified));
    }
    for (scope, mapped) in mappings {
        if !has(scope) {
            continue;
        }
        for (claim, source) in mapped {
            // Validated at registration; a mapping that no longer parses adds nothing
            // rather than a wrong value, and never replaces a standard claim.
            let value = ClaimSource::parse(source)
                .ok()
                .and_then(|source| source.value(user, groups));
            if let Some(value) = value
                && !gatehouse_core::scope_mapping::RESERVED_CLAIMS.contains(&claim.as_str())
            {
                claims.insert(claim.clone(), value);
            }
        }
    }
    claims
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use gatehouse_core::{UserId, UserType};

    fn alice() -> User {
        User {
            id: UserId::new(),
            username: "alice".into(),
            name: "Alice Example".into(),
            email: Some("alice@example.com".into()),
            email_verified: true,
            active: true,
            user_type: UserType::Internal,
            password_hash: None,
            attributes: Map::new(),
            created_at: Utc::now(),
            updated_at: Utc::now(),
            last_login: None,
        }
    }

    #[test]
    fn claims_follow_scopes() {
        let user = alice();
        let groups = vec!["grafana-admins".to_owned()];
        let scopes = |s: &[&str]| s.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
        let none = ScopeMappings::new();
        assert!(user_claims(&scopes(&["openid"]), &user, &groups, &none).is_empty());
        let profile = user_claims(&scopes(&["openid", "profile"]), &user, &groups, &none);
        assert_eq!(profile["preferred_username"], "alice");
        assert_eq!(profile["nickname"], "alice");
        assert_eq!(profile["name"], "Alice Example");
        assert_eq!(profile["groups"], serde_json::json!(["grafana-admins"]));
        assert!(!profile.contains_key("email"));
        let email = user_claims(&scopes(&["email"]), &user, &groups, &none);
        assert_eq!(email["email"], "alice@example.com");
        assert_eq!(email["email_verified"], true);
        assert!(!email.contains_key("name"));
        assert!(!email.contains_key("groups"));
        let groups_only = user_claims(&scopes(&["openid", "groups"]), &user, &groups, &none);
        assert_eq!(groups_only["groups"], serde_json::json!(["grafana-admins"]));
        assert!(!groups_only.contains_key("name"));
    }

    #[test]
    fn mapped_scopes_add_their_claims_when_granted() {
        let mut user = alice();
        user.attributes = serde_json::json!({"team": "ops"})
            .as_object()
            .cloned()
            .unwrap_or_default();
        let groups = vec!["staff".to_owned()];
        let mut mappings = ScopeMappings::new();
        mappings.entry("team".into()).or_default().extend([
            ("team".to_owned(), "attributes.team".to_owned()),
            ("roles".to_owned(), "groups".to_owned()),
            ("missing".to_owned(), "attributes.nope".to_owned()),
        ]);
        mappings
            .entry("hr".into())
            .or_default()
            .insert("employee".into(), "user.id".into());
        let scopes = vec!["openid".to_owned(), "team".to_owned()];
        let claims = user_claims(&scopes, &user, &groups, &mappings);
        assert_eq!(claims["team"], "ops");
        assert_eq!(claims["roles"], serde_json::json!(["staff"]));
        assert!(!claims.contains_key("missing"), "no value, no claim");
        assert!(!claims.contains_key("employee"), "hr not granted");
        assert!(!claims.contains_key("name"), "profile not granted");
        let none = user_claims(&["openid".to_owned()], &user, &groups, &mappings);
        assert!(none.is_empty());
    }

    #[test]
    fn subjects() {
        let mut user = alice();
        let hashed = || "h".to_owned();
        assert_eq!(subject(SubjectMode::HashedUserId, &user, hashed), "h");
        assert_eq!(
            subject(SubjectMode::UserId, &user, hashed),
            user.id.to_string()
        );
        assert_eq!(subject(SubjectMode::Username, &user, hashed), "alice");
        assert_eq!(
            subject(SubjectMode::Email, &user, hashed),
            "alice@example.com"
        );
        user.email = None;
        assert_eq!(subject(SubjectMode::Email, &user, hashed), "h");
    }

    #[test]
    fn dex_subjects_come_from_the_imported_identity_or_the_gatehouse_id() {
        let mut user = alice();
        let hashed = || "h".to_owned();
        assert_eq!(
            subject(SubjectMode::Dex, &user, hashed),
            crate::dex::subject(&user.id.to_string(), "gatehouse")
        );
        user.attributes.insert(
            crate::dex::USER_ID_ATTRIBUTE.into(),
            "08a8684b-db88-4b73-90a9-3cd1661f5466".into(),
        );
        // Half an identity is no identity.
        assert_eq!(
            subject(SubjectMode::Dex, &user, hashed),
            crate::dex::subject(&user.id.to_string(), "gatehouse")
        );
        user.attributes
            .insert(crate::dex::CONNECTOR_ID_ATTRIBUTE.into(), "local".into());
        assert_eq!(
            subject(SubjectMode::Dex, &user, hashed),
            "CiQwOGE4Njg0Yi1kYjg4LTRiNzMtOTBhOS0zY2QxNjYxZjU0NjYSBWxvY2Fs"
        );
    }
}
