//! Custom scope mappings: a provider may define its own scopes, each granting claims whose
//! values come from the user (`user.<field>`), the user's attributes (`attributes.<path>`)
//! or the user's groups (`groups`). The rules live here so the CLI, `apply` and the store
//! refuse the same mappings; the claims are minted by `gatehouse_oidc::claims`.

use crate::user::User;
use crate::validate::ValidationError;
use serde_json::Value;
use std::collections::BTreeMap;

/// A provider's mappings: scope name → claim name → source text (`attributes.team`).
pub type ScopeMappings = BTreeMap<String, BTreeMap<String, String>>;

/// The scopes whose claims are defined by OIDC Core §5.4 (and `offline_access`, §11), plus
/// `groups` as Dex defines it; a mapping cannot redefine them, so `profile` means the same
/// thing for every client.
pub const BUILT_IN_SCOPES: &[&str] = &["openid", "profile", "email", "groups", "offline_access"];

/// Claims no scope mapping may define: the ID token's own (OIDC Core §2), the access token's
/// (RFC 9068 §2.2) and the standard ones the built-in scopes give, so a mapping can never
/// forge or shadow them.
pub const RESERVED_CLAIMS: &[&str] = &[
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "nbf",
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

/// The most mapped scopes per provider and claims per scope, and the longest claim name.
const MAX_MAPPED_SCOPES: usize = 32;
const MAX_CLAIMS_PER_SCOPE: usize = 32;
const MAX_CLAIM_NAME: usize = 128;

/// Where a custom scope mapping takes a claim's value from.
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

/// Refuses a custom claim name that is empty, too long, not printable ASCII without spaces,
/// or reserved ([`RESERVED_CLAIMS`]).
///
/// # Errors
/// A message saying why.
pub fn check_custom_claim(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > MAX_CLAIM_NAME || !name.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(format!(
            "claim {name:?} must be 1-128 printable ASCII characters without spaces"
        ));
    }
    if RESERVED_CLAIMS.contains(&name) {
        return Err(format!(
            "claim {name:?} is a standard claim and cannot be mapped"
        ));
    }
    Ok(())
}

/// Checks every mapping: scope names are RFC 6749 §3.3 scope tokens and not built in, each
/// maps 1-32 claims, claim names are not reserved and appear under one scope only, and every
/// source parses. Errors name the place as `scope_mappings.<scope>[.<claim>]`.
pub fn validate(mappings: &ScopeMappings) -> Result<(), ValidationError> {
    if mappings.len() > MAX_MAPPED_SCOPES {
        return Err(ValidationError::new(
            "scope_mappings",
            "at most 32 mapped scopes",
        ));
    }
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    for (scope, claims) in mappings {
        let at = format!("scope_mappings.{scope}");
        crate::application::scope_token(scope)
            .map_err(|e| ValidationError::new(at.clone(), e.message))?;
        if BUILT_IN_SCOPES.contains(&scope.as_str()) {
            return Err(ValidationError::new(
                at,
                format!("{scope} is a standard scope; map claims to a scope of your own"),
            ));
        }
        if claims.is_empty() || claims.len() > MAX_CLAIMS_PER_SCOPE {
            return Err(ValidationError::new(at, "must map 1-32 claims"));
        }
        for (claim, source) in claims {
            let at = format!("{at}.{claim}");
            check_custom_claim(claim).map_err(|m| ValidationError::new(at.clone(), m))?;
            ClaimSource::parse(source).map_err(|m| ValidationError::new(at.clone(), m))?;
            if let Some(other) = seen.insert(claim, scope) {
                return Err(ValidationError::new(
                    at,
                    format!("claim {claim:?} is already mapped by scope {other:?}"),
                ));
            }
        }
    }
    Ok(())
}

/// Parses one mapping as the CLI takes it: `scope:claim=source`.
///
/// # Errors
/// A message showing the expected shape.
pub fn parse_mapping_arg(text: &str) -> Result<(String, String, String), String> {
    let shape =
        || format!("{text:?} is not scope:claim=source (e.g. team:team_name=attributes.team)");
    let (scope, rest) = text.split_once(':').ok_or_else(shape)?;
    let (claim, source) = rest.split_once('=').ok_or_else(shape)?;
    if scope.is_empty() || claim.is_empty() || source.is_empty() {
        return Err(shape());
    }
    Ok((scope.to_owned(), claim.to_owned(), source.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{UserId, UserType};
    use chrono::Utc;
    use serde_json::json;

    fn user() -> User {
        User {
            id: UserId::new(),
            username: "alice".into(),
            name: "Alice Example".into(),
            email: Some("alice@example.com".into()),
            email_verified: true,
            active: true,
            user_type: UserType::Internal,
            password_hash: None,
            attributes: json!({"team": {"name": "ops", "none": null}, "level": 3})
                .as_object()
                .cloned()
                .unwrap_or_default(),
            created_at: Utc::now(),
            updated_at: Utc::now(),
            last_login: None,
        }
    }

    #[test]
    fn sources_parse_and_evaluate() {
        let user = user();
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
        for name in ["sub", "email", "groups", "iss", "", "a b", &"x".repeat(129)] {
            assert!(check_custom_claim(name).is_err(), "{name}");
        }
        assert_eq!(check_custom_claim("team"), Ok(()));
    }

    fn mappings(entries: &[(&str, &str, &str)]) -> ScopeMappings {
        let mut out = ScopeMappings::new();
        for (scope, claim, source) in entries {
            out.entry((*scope).to_owned())
                .or_default()
                .insert((*claim).to_owned(), (*source).to_owned());
        }
        out
    }

    #[test]
    fn mappings_are_checked_with_their_place() {
        assert_eq!(
            validate(&mappings(&[
                ("team", "team", "attributes.team.name"),
                ("team", "roles", "groups"),
                ("hr", "employee_id", "user.id"),
            ])),
            Ok(())
        );
        let field =
            |entries: &[(&str, &str, &str)]| validate(&mappings(entries)).map_err(|e| e.field);
        assert_eq!(
            field(&[("profile", "team", "groups")]),
            Err("scope_mappings.profile".into())
        );
        assert_eq!(
            field(&[("bad scope", "team", "groups")]),
            Err("scope_mappings.bad scope".into())
        );
        assert_eq!(
            field(&[("team", "email", "user.email")]),
            Err("scope_mappings.team.email".into())
        );
        assert_eq!(
            field(&[("team", "team", "user.password_hash")]),
            Err("scope_mappings.team.team".into())
        );
        assert_eq!(
            field(&[("a", "team", "groups"), ("b", "team", "groups")]),
            Err("scope_mappings.b.team".into())
        );
        let mut empty = ScopeMappings::new();
        empty.insert("team".into(), BTreeMap::new());
        assert!(validate(&empty).is_err());
    }

    #[test]
    fn cli_form() {
        assert_eq!(
            parse_mapping_arg("team:team_name=attributes.team.name"),
            Ok((
                "team".into(),
                "team_name".into(),
                "attributes.team.name".into()
            ))
        );
        for bad in ["team", "team:claim", ":c=groups", "t:=groups", "t:c="] {
            assert!(parse_mapping_arg(bad).is_err(), "{bad}");
        }
    }
}
