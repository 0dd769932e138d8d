//! `sources:` in the declarative document (docs/sources.md): each entry describes a whole
//! source, matched by slug. The client secret comes in clear (usually `env://NAME`) and is
//! sealed on apply, or as `client_secret_sealed`, the form `export` writes, which only this
//! installation's secret key opens; with neither, a stored secret is kept. Applying the same
//! document twice plans nothing: a clear secret is compared with the opened stored one.

use super::plan::{PlanError, error};
use super::snapshot::Snapshot;
use gatehouse_core::source::client_secret_context;
use gatehouse_core::{
    Change, ChangeSet, ClaimPaths, GroupSync, NewSource, Source, SourceEndpoints, SourceKind,
    UserMatching,
};
use gatehouse_crypto::{SecretBox, constant_time_eq};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// One source.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSpec {
    /// Natural key.
    pub slug: String,
    /// Button label (default: the slug).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `forgejo`, `gitea`, `github`, `oidc` or `oauth2`.
    #[serde(rename = "type")]
    pub kind: SourceKind,
    /// Forgejo/Gitea base URL, GitHub Enterprise URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// OIDC discovery document URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discovery_url: Option<String>,
    /// Expected ID-token issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// Authorization endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorize_url: Option<String>,
    /// Token endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_url: Option<String>,
    /// User-info endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userinfo_url: Option<String>,
    /// JWKS URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_url: Option<String>,
    /// Claim names (default: OpenID Connect's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claims: Option<ClaimPaths>,
    /// Our client id.
    pub client_id: String,
    /// The client secret in clear (use `env://NAME` or `file:///path`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// The client secret as `export` writes it, sealed with this installation's key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_sealed: Option<String>,
    /// Scopes (empty: the preset's).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    /// `identifier`, `email_link`, `username_link` or `deny`.
    #[serde(default)]
    pub user_matching: UserMatching,
    /// Enrollment flow slug.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enrollment_flow: Option<String>,
    /// Group rule.
    #[serde(default)]
    pub group_sync: GroupSync,
    /// Whether the source is offered (default true).
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
}

fn enabled_by_default() -> bool {
    true
}

/// The changes that make every listed source match the document.
pub(super) fn plan_sources(
    specs: &[SourceSpec],
    current: &Snapshot,
    known_groups: &BTreeSet<&str>,
    known_flows: &BTreeSet<&str>,
    secret_box: &SecretBox,
) -> Result<ChangeSet, PlanError> {
    let mut slugs = BTreeSet::new();
    let mut changes = Vec::new();
    for (index, spec) in specs.iter().enumerate() {
        let path = |field: &str| format!("sources[{index}].{field}");
        if !slugs.insert(spec.slug.as_str()) {
            return Err(error(
                path("slug"),
                format!("source {:?} is listed twice", spec.slug),
            ));
        }
        if let Some(parent) = &spec.group_sync.parent
            && !known_groups.contains(parent.as_str())
        {
            return Err(error(
                path("group_sync.parent"),
                format!("there is no group named {parent:?}"),
            ));
        }
        if let Some(flow) = &spec.enrollment_flow
            && !known_flows.contains(flow.as_str())
        {
            return Err(error(
                path("enrollment_flow"),
                format!("there is no flow with slug {flow:?}"),
            ));
        }
        let stored = current.sources.get(&spec.slug);
        let wanted = settings(spec, stored, secret_box)
            .validate()
            .map_err(|e| error(path(&e.field), e.message))?;
        if stored.is_none_or(|s| s.settings != wanted) {
            changes.push(Change::PutSource(Box::new(wanted)));
        }
    }
    Ok(changes)
}

fn settings(spec: &SourceSpec, stored: Option<&Source>, secret_box: &SecretBox) -> NewSource {
    let stored_sealed = stored.and_then(|s| s.settings.client_secret_sealed.clone());
    let context = client_secret_context(&spec.slug);
    let client_secret_sealed = match (&spec.client_secret, &spec.client_secret_sealed) {
        (Some(clear), _) => {
            let unchanged = stored_sealed.as_deref().is_some_and(|sealed| {
                secret_box
                    .open(sealed, &context)
                    .is_ok_and(|opened| constant_time_eq(&opened, clear.as_bytes()))
            });
            if unchanged {
                stored_sealed
            } else {
                Some(secret_box.seal(clear.as_bytes(), &context))
            }
        }
        (None, Some(sealed)) => Some(sealed.clone()),
        (None, None) => stored_sealed,
    };
    NewSource {
        slug: spec.slug.clone(),
        name: spec.name.clone().unwrap_or_else(|| spec.slug.clone()),
        kind: spec.kind,
        base_url: spec
            .base_url
            .as_deref()
            .map(|url| url.trim_end_matches('/').to_owned()),
        endpoints: SourceEndpoints {
            discovery_url: spec.discovery_url.clone(),
            issuer: spec.issuer.clone(),
            authorize_url: spec.authorize_url.clone(),
            token_url: spec.token_url.clone(),
            userinfo_url: spec.userinfo_url.clone(),
            jwks_url: spec.jwks_url.clone(),
        },
        claims: spec.claims.clone().unwrap_or_default(),
        client_id: spec.client_id.clone(),
        client_secret_sealed,
        scopes: spec.scopes.clone(),
        user_matching: spec.user_matching,
        enrollment_flow: spec.enrollment_flow.clone(),
        group_sync: spec.group_sync.clone(),
        enabled: spec.enabled,
    }
}

/// The document entry describing `source`: the sealed secret, never the clear one.
pub(super) fn source_spec(source: &Source) -> SourceSpec {
    let s = &source.settings;
    SourceSpec {
        slug: s.slug.clone(),
        name: Some(s.name.clone()),
        kind: s.kind,
        base_url: s.base_url.clone(),
        discovery_url: s.endpoints.discovery_url.clone(),
        issuer: s.endpoints.issuer.clone(),
        authorize_url: s.endpoints.authorize_url.clone(),
        token_url: s.endpoints.token_url.clone(),
        userinfo_url: s.endpoints.userinfo_url.clone(),
        jwks_url: s.endpoints.jwks_url.clone(),
        claims: (s.claims != ClaimPaths::default()).then(|| s.claims.clone()),
        client_id: s.client_id.clone(),
        client_secret: None,
        client_secret_sealed: s.client_secret_sealed.clone(),
        scopes: s.scopes.clone(),
        user_matching: s.user_matching,
        enrollment_flow: s.enrollment_flow.clone(),
        group_sync: s.group_sync.clone(),
        enabled: s.enabled,
    }
}
