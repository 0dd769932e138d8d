//! Dex connectors as upstream sources: `gitea`, `github`, `oidc` and `oauth` become sources
//! of the same kind, with the connector id as slug (it is part of every Dex `sub` its users
//! had), client credentials, scopes and claim mappings. Other connector types are listed as
//! not imported. Settings with no Gatehouse equivalent are reported one by one, the
//! security-relevant ones (organisation restrictions, skipped email verification) loudly.

use super::config::Connector;
use super::report::{Report, Section};
use crate::declarative::SourceSpec;
use gatehouse_core::application;
use gatehouse_core::{ClaimPaths, GroupSync, GroupSyncMode, SourceKind, UserMatching};
use serde_yaml::{Mapping, Value};
use std::collections::BTreeSet;

/// The connector settings each type maps; every other key is reported as not imported.
fn mapped_keys(kind: SourceKind) -> &'static [&'static str] {
    match kind {
        SourceKind::Forgejo | SourceKind::Gitea => &[
            "baseURL",
            "clientID",
            "clientSecret",
            "redirectURI",
            "loadAllGroups",
        ],
        SourceKind::Github => &[
            "clientID",
            "clientSecret",
            "redirectURI",
            "hostName",
            "loadAllGroups",
        ],
        SourceKind::Oidc => &[
            "issuer",
            "clientID",
            "clientSecret",
            "redirectURI",
            "scopes",
            "userIDKey",
            "userNameKey",
            "claimMapping",
            "insecureEnableGroups",
        ],
        SourceKind::Oauth2 => &[
            "clientID",
            "clientSecret",
            "redirectURI",
            "authorizationURL",
            "tokenURL",
            "userInfoURL",
            "scopes",
            "userIDKey",
            "claimMapping",
        ],
    }
}

/// Translates `connectors[index]`; `None` (with a note) when it cannot become a source.
pub(super) fn translate(
    index: usize,
    connector: &Connector,
    base_url: &str,
    taken: &mut BTreeSet<String>,
    report: &mut Report,
) -> Result<Option<SourceSpec>, String> {
    let path = format!("connectors[{index}]");
    let kind = match connector.kind.as_str() {
        "gitea" => SourceKind::Gitea,
        "github" => SourceKind::Github,
        "oidc" => SourceKind::Oidc,
        "oauth" => SourceKind::Oauth2,
        other => {
            report.note(
                Section::NotImported,
                &format!("{path} ({other} {:?})", connector.id),
                format!("Gatehouse has no {other} source; its users must sign in another way"),
            );
            return Ok(None);
        }
    };
    let empty = Mapping::new();
    let settings = match &connector.config {
        Some(Value::Mapping(map)) => map,
        None => &empty,
        Some(_) => return Err(format!("{path}.config: must be a mapping")),
    };
    let text = |key: &str| settings.get(key).and_then(Value::as_str).map(str::to_owned);
    let flag = |key: &str| settings.get(key).and_then(Value::as_bool).unwrap_or(false);
    let list = |key: &str| -> Vec<String> {
        settings
            .get(key)
            .and_then(Value::as_sequence)
            .map(|items| {
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };

    if application::slug(&connector.id).is_err() || taken.contains(&connector.id) {
        return Err(format!(
            "{path}.id: {:?} cannot be a source slug (1-50 lowercase letters, digits and -); \
             it is part of the Dex subjects of this connector's users, so it is not renamed",
            connector.id
        ));
    }
    taken.insert(connector.id.clone());
    let client_id = text("clientID").ok_or_else(|| format!("{path}.config.clientID: missing"))?;
    let mut spec = SourceSpec {
        slug: connector.id.clone(),
        name: connector.name.clone(),
        kind,
        base_url: None,
        discovery_url: None,
        issuer: None,
        authorize_url: None,
        token_url: None,
        userinfo_url: None,
        jwks_url: None,
        claims: None,
        client_id,
        client_secret: text("clientSecret"),
        client_secret_sealed: None,
        scopes: Vec::new(),
        user_matching: UserMatching::Identifier,
        enrollment_flow: None,
        group_sync: GroupSync::default(),
        enabled: true,
    };
    let place = format!("{path} ({} {:?})", connector.kind, connector.id);
    let wants_groups = match kind {
        SourceKind::Forgejo | SourceKind::Gitea => {
            spec.base_url =
                Some(text("baseURL").ok_or_else(|| format!("{path}.config.baseURL: missing"))?);
            flag("loadAllGroups") || settings.contains_key("orgs")
        }
        SourceKind::Github => {
            spec.base_url = text("hostName").map(|host| format!("https://{host}"));
            flag("loadAllGroups") || settings.contains_key("orgs") || settings.contains_key("org")
        }
        SourceKind::Oidc => {
            let issuer = text("issuer").ok_or_else(|| format!("{path}.config.issuer: missing"))?;
            spec.discovery_url = Some(format!(
                "{}/.well-known/openid-configuration",
                issuer.trim_end_matches('/')
            ));
            spec.issuer = Some(issuer);
            spec.scopes = list("scopes");
            spec.claims = claim_paths(settings, "userIDKey", "userNameKey");
            flag("insecureEnableGroups")
        }
        SourceKind::Oauth2 => {
            spec.authorize_url = text("authorizationURL");
            spec.token_url = text("tokenURL");
            spec.userinfo_url = text("userInfoURL");
            spec.scopes = list("scopes");
            spec.claims = claim_paths(settings, "userIDKey", "userNameKey");
            true
        }
    };
    if wants_groups {
        spec.group_sync = GroupSync {
            mode: GroupSyncMode::Create,
            parent: None,
        };
    }
    report.note(
        Section::Imported,
        &place,
        format!(
            "source {:?} ({}); register {}/source/oauth/callback/{}/ as its redirect URI at the \
             upstream{}",
            spec.slug,
            kind.as_str(),
            base_url.trim_end_matches('/'),
            spec.slug,
            if wants_groups {
                "; upstream groups are synced into Gatehouse groups of the same names"
            } else {
                ""
            }
        ),
    );
    report_differences(&path, &place, kind, settings, report);
    Ok(Some(spec))
}

/// `claimMapping` (and the id/name keys) as claim paths; `None` when nothing is mapped.
fn claim_paths(settings: &Mapping, id_key: &str, name_key: &str) -> Option<ClaimPaths> {
    let mapping = settings.get("claimMapping").and_then(Value::as_mapping);
    let mapped = |keys: &[&str]| {
        keys.iter().find_map(|key| {
            mapping
                .and_then(|m| m.get(*key))
                .or_else(|| settings.get(*key))
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
    };
    let mut paths = ClaimPaths::default();
    let mut changed = false;
    for (slot, keys) in [
        (&mut paths.subject, vec![id_key]),
        (
            &mut paths.username,
            vec![
                name_key,
                "preferred_username",
                "preferredUsernameKey",
                "userNameKey",
            ],
        ),
        (&mut paths.email, vec!["email", "emailKey"]),
        (
            &mut paths.email_verified,
            vec!["email_verified", "emailVerifiedKey"],
        ),
        (&mut paths.groups, vec!["groups", "groupsKey"]),
    ] {
        if let Some(value) = mapped(&keys) {
            *slot = value;
            changed = true;
        }
    }
    changed.then_some(paths)
}

fn report_differences(
    path: &str,
    place: &str,
    kind: SourceKind,
    settings: &Mapping,
    report: &mut Report,
) {
    let mapped = mapped_keys(kind);
    for key in settings.keys().filter_map(Value::as_str) {
        if mapped.contains(&key) {
            continue;
        }
        let (section, message) = match key {
            "orgs" | "org" => (
                Section::Changed,
                "Dex let only members of these organisations/teams sign in; a Gatehouse source \
                 lets every upstream account sign in and syncs its groups: restrict \
                 applications with allowed_groups (e.g. `org:team`) instead"
                    .to_owned(),
            ),
            "useLoginAsID" => (
                Section::Changed,
                "Gatehouse identifies upstream accounts by their stable id; with this set, Dex \
                 used the login name, so these users' Dex-compatible `sub` values will differ"
                    .to_owned(),
            ),
            "insecureSkipEmailVerified" => (
                Section::Changed,
                "not carried over: Gatehouse never treats an unverified upstream email as \
                 verified"
                    .to_owned(),
            ),
            _ => (
                Section::NotImported,
                "no Gatehouse equivalent; ignored".to_owned(),
            ),
        };
        report.note(section, &format!("{place} {path}.config.{key}"), message);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connector(kind: &str, id: &str, config: &str) -> Connector {
        Connector {
            kind: kind.into(),
            id: id.into(),
            name: Some("Upstream".into()),
            config: Some(serde_yaml::from_str(config).expect("yaml")),
            unknown: Default::default(),
        }
    }

    fn run(c: &Connector) -> (Result<Option<SourceSpec>, String>, Report) {
        let mut report = Report::default();
        let result = translate(
            0,
            c,
            "https://id.example.com",
            &mut BTreeSet::new(),
            &mut report,
        );
        (result, report)
    }

    #[test]
    fn gitea_connectors_become_sources_with_group_sync() {
        let c = connector(
            "gitea",
            "forgejo",
            "{baseURL: https://git.example.com, clientID: dex, clientSecret: s, orgs: [{name: platform}], useLoginAsID: true, insecureCA: true}",
        );
        let (result, report) = run(&c);
        let spec = result.expect("ok").expect("a source");
        assert_eq!(spec.slug, "forgejo");
        assert_eq!(spec.kind, SourceKind::Gitea);
        assert_eq!(spec.base_url.as_deref(), Some("https://git.example.com"));
        assert_eq!(spec.client_secret.as_deref(), Some("s"));
        assert_eq!(spec.group_sync.mode, GroupSyncMode::Create);
        assert_eq!(spec.user_matching, UserMatching::Identifier);
        let text = report.to_string();
        assert!(text.contains("/source/oauth/callback/forgejo/"), "{text}");
        assert!(text.contains("config.orgs"), "{text}");
        assert!(text.contains("config.useLoginAsID"), "{text}");
        assert!(
            text.contains("config.insecureCA: no Gatehouse equivalent"),
            "{text}"
        );
    }

    #[test]
    fn oidc_connectors_use_discovery_and_claim_mappings() {
        let c = connector(
            "oidc",
            "keycloak",
            "{issuer: 'https://sso.example/realms/main/', clientID: dex, clientSecret: s, scopes: [openid, groups], userNameKey: preferred_username, claimMapping: {groups: roles}}",
        );
        let spec = run(&c).0.expect("ok").expect("a source");
        assert_eq!(
            spec.discovery_url.as_deref(),
            Some("https://sso.example/realms/main/.well-known/openid-configuration")
        );
        assert_eq!(spec.scopes, ["openid", "groups"]);
        let claims = spec.claims.expect("claims");
        assert_eq!(claims.groups, "roles");
        assert_eq!(claims.username, "preferred_username");
        assert_eq!(claims.subject, "sub");
        assert_eq!(spec.group_sync.mode, GroupSyncMode::Off);
    }

    #[test]
    fn other_types_and_bad_ids_are_reported() {
        let (result, report) = run(&connector("ldap", "ad", "{host: ad:636}"));
        assert_eq!(result, Ok(None));
        assert!(report.to_string().contains("Gatehouse has no ldap source"));
        let (result, _) = run(&connector("github", "GitHub_Main", "{clientID: x}"));
        assert!(result.expect_err("bad slug").contains("connectors[0].id"));
        let (result, _) = run(&connector("gitea", "forgejo", "{clientID: x}"));
        assert!(result.expect_err("no base").contains("baseURL: missing"));
    }
}
