//! The claims a relying party receives about a user, by scope (OIDC Core §5.4): `profile`
//! gives `name`, `preferred_username`, `nickname` and (as authentik does) `groups`; `email`
//! gives `email` and `email_verified`. The same function feeds the ID token and userinfo,
//! so they never disagree. `sub` depends on the client's subject mode.

use gatehouse_core::{SubjectMode, User};
use serde_json::{Map, Value};

/// The `sub` value for `user` under `mode`. `hashed` computes the pairwise hashed id (a
/// keyed hash of the user id and the application, supplied by the caller, which holds the
/// key). A user without an email under `Email` mode falls back to the hashed id, so `sub`
/// is never empty.
pub fn subject(mode: SubjectMode, user: &User, hashed: impl FnOnce() -> String) -> String {
    match mode {
        SubjectMode::HashedUserId => hashed(),
        SubjectMode::UserId => user.id.to_string(),
        SubjectMode::Username => user.username.clone(),
        SubjectMode::Email => user.email.clone().unwrap_or_else(hashed),
    }
}

/// The user claims granted by `scopes` (without `sub`).
pub fn user_claims(scopes: &[String], user: &User, groups: &[String]) -> Map<String, Value> {
    let mut claims = Map::new();
    let has = |scope: &str| scopes.iter().any(|s| s == scope);
    if has("profile") {
        claims.insert("name".into(), Value::from(user.name.as_str()));
        claims.insert(
            "preferred_username".into(),
            Value::from(user.username.as_str()),
        );
        claims.insert("nickname".into(), Value::from(user.username.as_str()));
        claims.insert("groups".into(), Value::from(groups.to_vec()));
    }
    if has("email")
        && let Some(email) = &user.email
    {
        claims.insert("email".into(), Value::from(email.as_str()));
        claims.insert("email_verified".into(), Value::from(user.email_verified));
    }
    claims
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use gatehouse_core::{UserId, UserType};

    pub(crate) fn alice() -> User {
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
        assert!(user_claims(&scopes(&["openid"]), &user, &groups).is_empty());
        let profile = user_claims(&scopes(&["openid", "profile"]), &user, &groups);
        assert_eq!(profile["preferred_username"], "alice");
        assert_eq!(profile["nickname"], "alice");
        assert_eq!(profile["name"], "Alice Example");
        assert_eq!(profile["groups"], serde_json::json!(["grafana-admins"]));
        assert!(!profile.contains_key("email"));
        let email = user_claims(&scopes(&["email"]), &user, &groups);
        assert_eq!(email["email"], "alice@example.com");
        assert_eq!(email["email_verified"], true);
        assert!(!email.contains_key("name"));
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
}

/// Claims no scope mapping may define: the ID token's own (OIDC Core §2) and the standard
/// ones the built-in scopes give, so a mapping can never forge or shadow them.
pub const RESERVED_CLAIMS: &[&str] = &[
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "acr",
    "amr",
    "azp",
    "at_hash",
    "c_hash",
    "jti",
    "scope",
    "client_id",
    "sid",
    "name",
    "preferred_username",
    "nickname",
    "groups",
    "email",
    "email_verified",
];

/// Where a custom scope mapping takes a claim's value from (building block for the
/// provider's `scope_mappings`; not yet wired to storage or the token endpoint).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClaimSource {
    /// A field of the user: `user.username`, `user.name`, `user.email`,
    /// `user.email_verified` or `user.id`.
    User(String),
    /// A dot path into the user's attributes JSON: `attributes.team.name`.
    Attribute(Vec<String>),
    /// The user's effective group names: `groups`.
    Groups,
}

impl ClaimSource {
    /// Parses a source as written in a mapping.
    ///
    /// # Errors
    /// A message naming the unknown source.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text == "groups" {
            return Ok(Self::Groups);
        }
        if let Some(field) = text.strip_prefix("user.") {
            return match field {
                "username" | "name" | "email" | "email_verified" | "id" => {
                    Ok(Self::User(field.to_owned()))
                }
                _ => Err(format!(
                    "unknown user field {field:?} (expected username, name, email, email_verified or id)"
                )),
            };
        }
        if let Some(path) = text.strip_prefix("attributes.") {
            let parts: Vec<String> = path.split('.').map(str::to_owned).collect();
            if parts.iter().any(String::is_empty) {
                return Err(format!("attribute path {path:?} has an empty part"));
            }
            return Ok(Self::Attribute(parts));
        }
        Err(format!(
            "unknown claim source {text:?} (expected user.<field>, attributes.<path> or groups)"
        ))
    }

    /// The value for `user`, or `None` when it has none (the claim is then left out).
    pub fn value(&self, user: &User, groups: &[String]) -> Option<Value> {
        match self {
            Self::Groups => Some(Value::from(groups.to_vec())),
            Self::User(field) => match field.as_str() {
                "username" => Some(Value::from(user.username.as_str())),
                "name" => Some(Value::from(user.name.as_str())),
                "email" => user.email.as_deref().map(Value::from),
                "email_verified" => Some(Value::from(user.email_verified)),
                "id" => Some(Value::from(user.id.to_string())),
                _ => None,
            },
            Self::Attribute(path) => {
                let (first, rest) = path.split_first()?;
                let mut value = user.attributes.get(first)?;
                for part in rest {
                    value = value.get(part)?;
                }
                (!value.is_null()).then(|| value.clone())
            }
        }
    }
}

/// Refuses a custom claim name that is empty or reserved ([`RESERVED_CLAIMS`]).
///
/// # Errors
/// A message saying why.
pub fn check_custom_claim(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("a claim name must not be empty".into());
    }
    if RESERVED_CLAIMS.contains(&name) {
        return Err(format!(
            "claim {name:?} is a standard claim and cannot be mapped"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod mapping_tests {
    use super::tests::alice;
    use super::*;
    use serde_json::json;

    #[test]
    fn sources_parse_and_evaluate() {
        let mut user = alice();
        user.attributes = json!({"team": {"name": "ops", "none": null}, "level": 3})
            .as_object()
            .cloned()
            .unwrap_or_default();
        let groups = vec!["staff".to_owned()];
        let value = |text: &str| {
            ClaimSource::parse(text)
                .expect("parses")
                .value(&user, &groups)
        };
        assert_eq!(value("user.username"), Some(json!("alice")));
        assert_eq!(value("user.email_verified"), Some(json!(true)));
        assert_eq!(value("user.id"), Some(json!(user.id.to_string())));
        assert_eq!(value("attributes.team.name"), Some(json!("ops")));
        assert_eq!(value("attributes.level"), Some(json!(3)));
        assert_eq!(value("groups"), Some(json!(["staff"])));
        // Missing or null attributes: the claim is omitted.
        assert_eq!(value("attributes.team.lead"), None);
        assert_eq!(value("attributes.team.none"), None);
        assert_eq!(value("attributes.level.deeper"), None);
        let mut no_email = user.clone();
        no_email.email = None;
        assert_eq!(
            ClaimSource::User("email".into()).value(&no_email, &groups),
            None
        );
        for bad in [
            "user.password_hash",
            "attributes.",
            "attributes.a..b",
            "session.id",
            "",
        ] {
            assert!(ClaimSource::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn standard_claims_cannot_be_mapped() {
        for name in ["sub", "email", "groups", "iss", ""] {
            assert!(check_custom_claim(name).is_err(), "{name}");
        }
        assert_eq!(check_custom_claim("team"), Ok(()));
    }
}
