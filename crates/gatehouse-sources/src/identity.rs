//! The upstream account, read from whatever the upstream offers: validated ID-token claims
//! plus user-info (OIDC Core §5.3; user-info's `sub` must be the ID token's, §5.3.2), a plain
//! OAuth2 user-info document read with the source's claim paths, or the Forgejo/Gitea and
//! GitHub REST APIs, whose organisations and teams become groups named `org` and `org:team`
//! (the names Dex's gitea connector uses).

use crate::SourceError;
use gatehouse_core::ClaimPaths;
use serde_json::{Map, Value};

/// The most upstream groups read from one login.
pub const MAX_GROUPS: usize = 500;

/// Who the upstream says the user is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UpstreamIdentity {
    /// Stable identifier at the upstream (never a username, which can be renamed).
    pub subject: String,
    /// Preferred username.
    pub username: Option<String>,
    /// Email address.
    pub email: Option<String>,
    /// Whether the upstream vouches for the address.
    pub email_verified: bool,
    /// Display name.
    pub name: Option<String>,
    /// Group names (`org`, `org:team`, or a `groups` claim's values).
    pub groups: Vec<String>,
}

fn text(document: &Map<String, Value>, name: &str) -> Option<String> {
    match document.get(name)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn truthy(document: &Map<String, Value>, name: &str) -> bool {
    match document.get(name) {
        Some(Value::Bool(b)) => *b,
        // Some providers send the boolean as a string.
        Some(Value::String(s)) => s == "true",
        _ => false,
    }
}

fn string_list(value: Option<&Value>) -> Vec<String> {
    let Some(Value::Array(items)) = value else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(Value::as_str)
        .filter(|s| !s.is_empty())
        .take(MAX_GROUPS)
        .map(str::to_owned)
        .collect()
}

/// Reads an identity from a claims document (validated ID-token claims, or a plain OAuth2
/// user-info document) with `paths`.
pub fn from_claims(
    claims: &Map<String, Value>,
    paths: &ClaimPaths,
) -> Result<UpstreamIdentity, SourceError> {
    let subject = text(claims, &paths.subject)
        .filter(|s| s.len() <= 255)
        .ok_or(SourceError::BadDocument("user document (no subject)"))?;
    Ok(UpstreamIdentity {
        subject,
        username: text(claims, &paths.username),
        email: text(claims, &paths.email),
        email_verified: truthy(claims, &paths.email_verified),
        name: text(claims, &paths.name),
        groups: string_list(claims.get(&paths.groups)),
    })
}

/// Fills what the ID token left out from the user-info document. Its `sub` must be the ID
/// token's, else it describes someone else and is refused.
pub fn merge_userinfo(
    identity: &mut UpstreamIdentity,
    userinfo: &Map<String, Value>,
    paths: &ClaimPaths,
) -> Result<(), SourceError> {
    if text(userinfo, &paths.subject).as_deref() != Some(identity.subject.as_str()) {
        return Err(SourceError::BadDocument(
            "user-info document (its sub is not the ID token's)",
        ));
    }
    if identity.username.is_none() {
        identity.username = text(userinfo, &paths.username);
    }
    if identity.email.is_none() {
        identity.email = text(userinfo, &paths.email);
        identity.email_verified = truthy(userinfo, &paths.email_verified);
    }
    if identity.name.is_none() {
        identity.name = text(userinfo, &paths.name);
    }
    if identity.groups.is_empty() {
        identity.groups = string_list(userinfo.get(&paths.groups));
    }
    Ok(())
}

/// A Forgejo/Gitea `GET /api/v1/user` document. The API does not say whether the address is
/// confirmed, so it counts as unverified (email linking needs the OIDC path).
pub fn forgejo_user(user: &Map<String, Value>) -> Result<UpstreamIdentity, SourceError> {
    Ok(UpstreamIdentity {
        subject: text(user, "id").ok_or(SourceError::BadDocument("user document (no id)"))?,
        username: text(user, "login").or_else(|| text(user, "username")),
        email: text(user, "email"),
        email_verified: false,
        name: text(user, "full_name"),
        groups: Vec::new(),
    })
}

/// A GitHub `GET /user` document with `GET /user/emails`: the primary verified address is
/// used, else the public one, unverified.
pub fn github_user(
    user: &Map<String, Value>,
    emails: Option<&Value>,
) -> Result<UpstreamIdentity, SourceError> {
    let primary = emails.and_then(Value::as_array).and_then(|list| {
        list.iter().find(|e| {
            e.get("primary").and_then(Value::as_bool) == Some(true)
                && e.get("verified").and_then(Value::as_bool) == Some(true)
        })
    });
    let (email, email_verified) = match primary.and_then(|e| e.get("email")).and_then(Value::as_str)
    {
        Some(address) => (Some(address.to_owned()), true),
        None => (text(user, "email"), false),
    };
    Ok(UpstreamIdentity {
        subject: text(user, "id").ok_or(SourceError::BadDocument("user document (no id)"))?,
        username: text(user, "login"),
        email,
        email_verified,
        name: text(user, "name"),
        groups: Vec::new(),
    })
}

/// Groups from a Forgejo/Gitea or GitHub organisations list and teams list: each
/// organisation as `org`, each team as `org:team`. Forgejo names organisations by `username`
/// (older Gitea by `name`) and teams by `name`; GitHub uses `login` and the team `slug`.
pub fn org_team_groups(orgs: &Value, teams: &Value) -> Vec<String> {
    let org_name = |org: &Value| {
        ["username", "login", "name"]
            .iter()
            .find_map(|key| org.get(key).and_then(Value::as_str))
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let mut groups: Vec<String> = Vec::new();
    for org in orgs.as_array().into_iter().flatten() {
        groups.extend(org_name(org));
    }
    for team in teams.as_array().into_iter().flatten() {
        let name = ["slug", "name"]
            .iter()
            .find_map(|key| team.get(key).and_then(Value::as_str))
            .filter(|s| !s.is_empty());
        if let (Some(org), Some(name)) = (team.get("organization").and_then(org_name), name) {
            groups.push(format!("{org}:{name}"));
        }
    }
    groups.sort();
    groups.dedup();
    groups.truncate(MAX_GROUPS);
    groups
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().cloned().expect("object")
    }

    #[test]
    fn claims_with_default_and_custom_paths() {
        let claims = object(json!({
            "sub": "u-1", "preferred_username": "alice", "email": "alice@example.com",
            "email_verified": true, "name": "Alice", "groups": ["dev", "dev:core", 7, ""],
        }));
        let identity = from_claims(&claims, &ClaimPaths::default()).expect("identity");
        assert_eq!(identity.subject, "u-1");
        assert_eq!(identity.username.as_deref(), Some("alice"));
        assert!(identity.email_verified);
        assert_eq!(identity.groups, ["dev", "dev:core"]);
        let plain = object(json!({"id": 1234, "login": "bob", "mail": "b@example.com"}));
        let paths = ClaimPaths {
            subject: "id".into(),
            username: "login".into(),
            email: "mail".into(),
            ..ClaimPaths::default()
        };
        let identity = from_claims(&plain, &paths).expect("identity");
        assert_eq!(identity.subject, "1234");
        assert!(!identity.email_verified);
        assert!(from_claims(&object(json!({"login": "x"})), &paths).is_err());
    }

    #[test]
    fn userinfo_about_someone_else_is_refused() {
        let paths = ClaimPaths::default();
        let mut identity = from_claims(&object(json!({"sub": "u-1"})), &paths).expect("id");
        let other = object(json!({"sub": "u-2", "email": "x@example.com"}));
        assert!(merge_userinfo(&mut identity, &other, &paths).is_err());
        let same = object(json!({
            "sub": "u-1", "email": "a@example.com", "email_verified": "true", "groups": ["g"],
        }));
        merge_userinfo(&mut identity, &same, &paths).expect("merge");
        assert_eq!(identity.email.as_deref(), Some("a@example.com"));
        assert!(identity.email_verified);
        assert_eq!(identity.groups, ["g"]);
    }

    #[test]
    fn forgejo_and_github_documents() {
        let user = object(json!({"id": 7, "login": "carol", "email": "c@example.com",
            "full_name": "Carol"}));
        let identity = forgejo_user(&user).expect("forgejo");
        assert_eq!(identity.subject, "7");
        assert!(!identity.email_verified);
        let orgs = json!([{"id": 1, "username": "infra"}, {"id": 2, "name": "old-gitea"}]);
        let teams = json!([
            {"name": "Owners", "organization": {"username": "infra"}},
            {"name": "ops", "organization": {"name": "old-gitea"}},
            {"name": "orphan"},
        ]);
        assert_eq!(
            org_team_groups(&orgs, &teams),
            ["infra", "infra:Owners", "old-gitea", "old-gitea:ops"]
        );
        let gh = object(json!({"id": 99, "login": "dave", "email": "public@example.com"}));
        let emails = json!([
            {"email": "old@example.com", "primary": false, "verified": true},
            {"email": "dave@example.com", "primary": true, "verified": true},
        ]);
        let identity = github_user(&gh, Some(&emails)).expect("github");
        assert_eq!(identity.email.as_deref(), Some("dave@example.com"));
        assert!(identity.email_verified);
        let unverified = github_user(&gh, None).expect("github");
        assert_eq!(unverified.email.as_deref(), Some("public@example.com"));
        assert!(!unverified.email_verified);
        let gh_teams = json!([{"slug": "sre", "name": "SRE", "organization": {"login": "acme"}}]);
        assert_eq!(
            org_team_groups(&json!([{"login": "acme"}]), &gh_teams),
            ["acme", "acme:sre"]
        );
    }
}
