//! Planning `applications:`: each entry merged onto the stored application (absent fields keep
//! their value) and checked by the rules `gatehouse app create` uses, so a bad redirect URI or
//! an unknown group is refused with its place before anything is written. Client secrets are
//! compared by keyed digest, so applying the same secret twice plans nothing.

use super::app_spec::{ApplicationSpec, OidcSpec};
use super::plan::{PlanError, error};
use super::snapshot::Snapshot;
use crate::oidc::secrets;
use gatehouse_core::{
    Application, ApplicationPatch, Change, ChangeSet, ClientType, ConsentMode, KeyAlgorithm,
    NewApplication, OAuth2Provider, SubjectMode, TokenEndpointAuthMethod, ValidationError,
};
use gatehouse_crypto::TokenDigester;
use std::collections::{BTreeMap, BTreeSet};

/// The changes that make every listed application match the document.
pub(super) fn plan_applications(
    specs: &[ApplicationSpec],
    current: &Snapshot,
    known_groups: &BTreeSet<&str>,
    digester: &TokenDigester,
) -> Result<ChangeSet, PlanError> {
    check_unique(specs, current)?;
    let mut changes = Vec::new();
    for (index, spec) in specs.iter().enumerate() {
        if let Some(change) = plan_one(index, spec, current, known_groups, digester)? {
            changes.push(change);
        }
    }
    Ok(changes)
}

/// Slugs and client ids appear once in the document, and a client id is not already used by
/// an application the document does not mention.
fn check_unique(specs: &[ApplicationSpec], current: &Snapshot) -> Result<(), PlanError> {
    let mut slugs = BTreeSet::new();
    let mut client_ids: BTreeMap<&str, &str> = BTreeMap::new();
    for (index, spec) in specs.iter().enumerate() {
        if !slugs.insert(spec.slug.as_str()) {
            return Err(error(
                format!("applications[{index}].slug"),
                format!("application {:?} is listed twice", spec.slug),
            ));
        }
        if let Some(client_id) = spec.oidc.as_ref().and_then(|o| o.client_id.as_deref())
            && let Some(other) = client_ids.insert(client_id, &spec.slug)
        {
            return Err(error(
                format!("applications[{index}].oidc.client_id"),
                format!("client_id {client_id:?} is also used by application {other:?}"),
            ));
        }
    }
    for (index, spec) in specs.iter().enumerate() {
        let Some(client_id) = spec.oidc.as_ref().and_then(|o| o.client_id.as_deref()) else {
            continue;
        };
        let holder = current.applications.values().find(|app| {
            app.slug != spec.slug
                && !slugs.contains(app.slug.as_str())
                && app
                    .oauth2
                    .as_ref()
                    .is_some_and(|p| p.client_id == client_id)
        });
        if let Some(holder) = holder {
            return Err(error(
                format!("applications[{index}].oidc.client_id"),
                format!(
                    "client_id {client_id:?} is already used by application {:?}",
                    holder.slug
                ),
            ));
        }
    }
    Ok(())
}

fn plan_one(
    index: usize,
    spec: &ApplicationSpec,
    current: &Snapshot,
    known_groups: &BTreeSet<&str>,
    digester: &TokenDigester,
) -> Result<Option<Change>, PlanError> {
    let path = format!("applications[{index}]");
    gatehouse_core::application::slug(&spec.slug)
        .map_err(|e| error(format!("{path}.slug"), e.message))?;
    let allowed_groups = match &spec.allowed_groups {
        None => None,
        Some(list) => {
            let mut groups: Vec<String> = Vec::with_capacity(list.len());
            for (g, group) in list.iter().enumerate() {
                if !known_groups.contains(group.as_str()) {
                    return Err(error(
                        format!("{path}.allowed_groups[{g}]"),
                        format!("unknown group {group:?}"),
                    ));
                }
                if !groups.contains(group) {
                    groups.push(group.clone());
                }
            }
            Some(groups)
        }
    };
    let existing = current.applications.get(&spec.slug);
    let stored_provider = existing.and_then(|app| app.oauth2.as_ref());
    let provider = match &spec.oidc {
        None => stored_provider.cloned(),
        Some(oidc) => Some(merge_provider(&path, oidc, stored_provider, digester)?),
    };

    let name = spec
        .name
        .clone()
        .or_else(|| existing.map(|app| app.name.clone()))
        .unwrap_or_else(|| spec.slug.clone());
    let launch_url = match &spec.launch_url {
        Some(url) => url.clone(),
        None => existing.and_then(|app| app.launch_url.clone()),
    };
    let wanted = NewApplication {
        slug: spec.slug.clone(),
        name,
        launch_url,
        allowed_groups: allowed_groups.clone().unwrap_or_default(),
        oauth2: provider,
    };
    wanted
        .validate()
        .map_err(|e| error(document_path(&path, &e), e.message))?;

    let Some(existing) = existing else {
        return Ok(Some(Change::CreateApplication(wanted)));
    };
    Ok(application_update(existing, wanted, allowed_groups))
}

/// The change that turns `existing` into `wanted` (`allowed_groups` by name, `None` to
/// leave them), or `None` when nothing differs; `gatehouse app update` uses it so its audit
/// event names the changed fields exactly as `apply` does. `wanted` must have passed
/// [`NewApplication::validate`].
pub fn application_update(
    existing: &Application,
    wanted: NewApplication,
    allowed_groups: Option<Vec<String>>,
) -> Option<Change> {
    let patch = application_patch(existing, wanted, allowed_groups);
    (!patch.is_empty()).then(|| Change::UpdateApplication {
        slug: existing.slug.clone(),
        patch,
    })
}

/// What differs between the stored application and the wanted one.
fn application_patch(
    existing: &Application,
    wanted: NewApplication,
    allowed_groups: Option<Vec<String>>,
) -> ApplicationPatch {
    let existing_groups: Vec<String> = existing
        .allowed_groups
        .iter()
        .map(|g| g.name.clone())
        .collect();
    let (oauth2, oauth2_fields) = match (&existing.oauth2, wanted.oauth2) {
        (_, None) => (None, Vec::new()),
        (None, Some(new)) => (Some(new), vec!["oidc"]),
        (Some(old), Some(new)) => {
            let fields = provider_differences(old, &new);
            (Some(new).filter(|_| !fields.is_empty()), fields)
        }
    };
    ApplicationPatch {
        name: Some(wanted.name).filter(|n| *n != existing.name),
        launch_url: Some(wanted.launch_url).filter(|u| *u != existing.launch_url),
        allowed_groups: allowed_groups.filter(|g| *g != existing_groups),
        oauth2,
        oauth2_fields,
    }
}

/// The document's provider fields laid over the stored provider (or a new one's defaults).
fn merge_provider(
    path: &str,
    oidc: &OidcSpec,
    stored: Option<&OAuth2Provider>,
    digester: &TokenDigester,
) -> Result<OAuth2Provider, PlanError> {
    let at = |field: &str| format!("{path}.oidc.{field}");
    let mut provider = match stored {
        Some(stored) => stored.clone(),
        None => {
            let client_id = oidc.client_id.clone().ok_or_else(|| {
                error(
                    at("client_id"),
                    "required to create the OAuth2/OIDC provider",
                )
            })?;
            let client_type = if oidc.public == Some(true) {
                ClientType::Public
            } else {
                ClientType::Confidential
            };
            OAuth2Provider::new(client_type, client_id)
        }
    };
    if let Some(client_id) = &oidc.client_id {
        provider.client_id.clone_from(client_id);
    }
    if let Some(public) = oidc.public {
        provider.client_type = if public {
            ClientType::Public
        } else {
            ClientType::Confidential
        };
    }
    if let Some(uris) = &oidc.redirect_uris {
        provider.redirect_uris.clone_from(uris);
    }
    if let Some(uris) = &oidc.post_logout_redirect_uris {
        provider.post_logout_redirect_uris.clone_from(uris);
    }
    if let Some(scopes) = &oidc.scopes {
        provider.scopes.clone_from(scopes);
    }
    if let Some(alg) = &oidc.signing_alg {
        provider.signing_alg = KeyAlgorithm::parse(alg)
            .ok_or_else(|| error(at("signing_alg"), "must be RS256, ES256 or EdDSA"))?;
    }
    if let Some(mode) = &oidc.subject_mode {
        provider.subject_mode = SubjectMode::parse(mode).ok_or_else(|| {
            error(
                at("subject_mode"),
                "must be hashed_user_id, user_id, username, email or dex",
            )
        })?;
    }
    if let Some(mode) = &oidc.consent {
        provider.consent_mode = ConsentMode::parse(mode)
            .ok_or_else(|| error(at("consent"), "must be implicit, explicit or remembered"))?;
    }
    if let Some(secs) = oidc.access_token_lifetime {
        provider.lifetimes.access_token = secs;
    }
    if let Some(secs) = oidc.refresh_token_lifetime {
        provider.lifetimes.refresh_token = secs;
    }
    if let Some(secs) = oidc.code_lifetime {
        provider.lifetimes.authorization_code = secs;
    }
    if let Some(require) = oidc.require_pkce {
        provider.require_pkce = require;
    }
    if let Some(jwks) = &oidc.jwks {
        provider.jwks = jwks
            .clone()
            .map(gatehouse_oidc::client_assertion::registered_jwks)
            .transpose()
            .map_err(|message| error(at("jwks"), message))?;
    }
    if let Some(method) = &oidc.token_endpoint_auth_method {
        provider.token_endpoint_auth_method = method
            .as_deref()
            .map(|m| {
                TokenEndpointAuthMethod::parse(m).ok_or_else(|| {
                    error(
                        at("token_endpoint_auth_method"),
                        "must be client_secret_basic, client_secret_post, private_key_jwt or none",
                    )
                })
            })
            .transpose()?;
    }
    if let Some(uri) = &oidc.backchannel_logout_uri {
        provider.backchannel_logout_uri.clone_from(uri);
    }
    if let Some(required) = oidc.backchannel_logout_session_required {
        provider.backchannel_logout_session_required = required;
    }
    if let Some(mappings) = &oidc.scope_mappings {
        provider.scope_mappings.clone_from(mappings);
    }
    provider.allow_mapped_scopes();
    match provider.client_type {
        ClientType::Public => {
            if oidc.client_secret.is_some() {
                return Err(error(at("client_secret"), "public clients have no secret"));
            }
            provider.client_secret_digest = None;
            provider.require_pkce = true;
        }
        ClientType::Confidential => match &oidc.client_secret {
            Some(secret) => {
                secrets::check_supplied_secret(secret)
                    .map_err(|message| error(at("client_secret"), message))?;
                let unchanged = provider
                    .client_secret_digest
                    .as_deref()
                    .is_some_and(|stored| digester.verify(secret, stored));
                if !unchanged {
                    provider.client_secret_digest = Some(secrets::digest(digester, secret));
                }
            }
            // A confidential client without a secret in the document (an export, or one
            // being made confidential) gets a random secret nobody knows; an operator sets
            // one with `gatehouse app rotate-secret`.
            None if provider.client_secret_digest.is_none() => {
                provider.client_secret_digest = Some(secrets::digest(
                    digester,
                    &secrets::generate_client_secret(),
                ));
            }
            None => {}
        },
    }
    Ok(provider)
}

/// The names (as in the document) of the provider fields that differ.
fn provider_differences(old: &OAuth2Provider, new: &OAuth2Provider) -> Vec<&'static str> {
    [
        ("client_id", old.client_id != new.client_id),
        ("public", old.client_type != new.client_type),
        (
            "client_secret",
            old.client_secret_digest != new.client_secret_digest,
        ),
        ("redirect_uris", old.redirect_uris != new.redirect_uris),
        (
            "post_logout_redirect_uris",
            old.post_logout_redirect_uris != new.post_logout_redirect_uris,
        ),
        ("scopes", old.scopes != new.scopes),
        ("scope_mappings", old.scope_mappings != new.scope_mappings),
        ("signing_alg", old.signing_alg != new.signing_alg),
        ("subject_mode", old.subject_mode != new.subject_mode),
        ("consent", old.consent_mode != new.consent_mode),
        ("require_pkce", old.require_pkce != new.require_pkce),
        ("jwks", old.jwks != new.jwks),
        (
            "token_endpoint_auth_method",
            old.token_endpoint_auth_method != new.token_endpoint_auth_method,
        ),
        (
            "backchannel_logout_uri",
            old.backchannel_logout_uri != new.backchannel_logout_uri,
        ),
        (
            "backchannel_logout_session_required",
            old.backchannel_logout_session_required != new.backchannel_logout_session_required,
        ),
        (
            "access_token_lifetime",
            old.lifetimes.access_token != new.lifetimes.access_token,
        ),
        (
            "refresh_token_lifetime",
            old.lifetimes.refresh_token != new.lifetimes.refresh_token,
        ),
        (
            "code_lifetime",
            old.lifetimes.authorization_code != new.lifetimes.authorization_code,
        ),
    ]
    .into_iter()
    .filter_map(|(name, differs)| differs.then_some(name))
    .collect()
}

/// Where a core validation error belongs in the document.
fn document_path(path: &str, e: &ValidationError) -> String {
    match e.field.as_str() {
        "slug" | "name" | "launch_url" => format!("{path}.{}", e.field),
        "authorization_code_lifetime" => format!("{path}.oidc.code_lifetime"),
        "redirect_uri" => format!("{path}.oidc.redirect_uris"),
        other => format!("{path}.oidc.{other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_crypto::SecretKey;

    fn digester() -> TokenDigester {
        TokenDigester::new(&SecretKey::from_configured(&"k".repeat(64)).expect("key"))
    }

    fn grafana() -> ApplicationSpec {
        ApplicationSpec {
            slug: "grafana".into(),
            oidc: Some(OidcSpec {
                client_id: Some("grafana".into()),
                client_secret: Some("a-long-enough-client-secret".into()),
                redirect_uris: Some(vec!["https://grafana.example/cb".into()]),
                ..OidcSpec::default()
            }),
            ..ApplicationSpec::default()
        }
    }

    fn created(spec: &ApplicationSpec, digester: &TokenDigester) -> Snapshot {
        let changes = plan_applications(
            std::slice::from_ref(spec),
            &Snapshot::default(),
            &BTreeSet::new(),
            digester,
        )
        .expect("plan");
        let Some(Change::CreateApplication(new)) = changes.into_iter().next() else {
            panic!("a create");
        };
        let app = Application {
            id: gatehouse_core::ApplicationId::new(),
            slug: new.slug.clone(),
            name: new.name,
            launch_url: new.launch_url,
            allowed_groups: Vec::new(),
            oauth2: new.oauth2,
            created_at: chrono::Utc::now(),
        };
        Snapshot {
            applications: [(new.slug, app)].into_iter().collect(),
            ..Snapshot::default()
        }
    }

    #[test]
    fn same_secret_plans_nothing_and_a_new_one_plans_client_secret() {
        let digester = digester();
        let spec = grafana();
        let current = created(&spec, &digester);
        let none = plan_applications(
            std::slice::from_ref(&spec),
            &current,
            &BTreeSet::new(),
            &digester,
        );
        assert_eq!(none, Ok(vec![]));
        let mut rotated = spec;
        if let Some(oidc) = &mut rotated.oidc {
            oidc.client_secret = Some("another-long-client-secret".into());
            oidc.redirect_uris = None;
        }
        let changes =
            plan_applications(&[rotated], &current, &BTreeSet::new(), &digester).expect("plan");
        assert_eq!(
            changes.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["~ application grafana: client_secret"]
        );
    }

    #[test]
    fn errors_carry_their_document_path() {
        let digester = digester();
        let mut spec = grafana();
        if let Some(oidc) = &mut spec.oidc {
            oidc.redirect_uris = Some(vec!["https://ok.example/cb".into(), "nope".into()]);
        }
        let err = plan_applications(&[spec], &Snapshot::default(), &BTreeSet::new(), &digester)
            .expect_err("bad uri");
        assert_eq!(err.path, "applications[0].oidc.redirect_uris[1]");

        let mut spec = grafana();
        spec.allowed_groups = Some(vec!["ghosts".into()]);
        let err = plan_applications(&[spec], &Snapshot::default(), &BTreeSet::new(), &digester)
            .expect_err("unknown group");
        assert_eq!(err.path, "applications[0].allowed_groups[0]");

        let mut spec = grafana();
        if let Some(oidc) = &mut spec.oidc {
            oidc.public = Some(true);
        }
        let err = plan_applications(&[spec], &Snapshot::default(), &BTreeSet::new(), &digester)
            .expect_err("public with secret");
        assert_eq!(err.path, "applications[0].oidc.client_secret");
    }

    #[test]
    fn backchannel_logout_is_planned_and_checked() {
        let digester = digester();
        let spec = grafana();
        let current = created(&spec, &digester);
        let mut with_uri = spec.clone();
        if let Some(oidc) = &mut with_uri.oidc {
            oidc.backchannel_logout_uri = Some(Some("https://grafana.example/bc".into()));
            oidc.backchannel_logout_session_required = Some(true);
        }
        let changes =
            plan_applications(&[with_uri], &current, &BTreeSet::new(), &digester).expect("plan");
        assert_eq!(
            changes.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["~ application grafana: backchannel_logout_uri, backchannel_logout_session_required"]
        );
        let mut plain_http = spec.clone();
        if let Some(oidc) = &mut plain_http.oidc {
            oidc.backchannel_logout_uri = Some(Some("http://grafana.example/bc".into()));
        }
        let err = plan_applications(&[plain_http], &current, &BTreeSet::new(), &digester)
            .expect_err("http off loopback");
        assert_eq!(err.path, "applications[0].oidc.backchannel_logout_uri");
    }

    #[test]
    fn jwks_text_is_read_checked_and_planned() {
        let digester = digester();
        let key = gatehouse_crypto::generate_signing_key(KeyAlgorithm::EdDsa).expect("key");
        let jwk = gatehouse_crypto::public_jwk(KeyAlgorithm::EdDsa, &key.public_key_der, "k")
            .expect("jwk");
        let jwks = serde_json::json!({ "keys": [jwk] });
        let spec = grafana();
        let current = created(&spec, &digester);
        let mut with_keys = spec.clone();
        if let Some(oidc) = &mut with_keys.oidc {
            // As `file:///path` leaves it: JSON text.
            oidc.jwks = Some(Some(serde_json::Value::from(jwks.to_string())));
            oidc.token_endpoint_auth_method = Some(Some("private_key_jwt".into()));
        }
        let changes =
            plan_applications(&[with_keys], &current, &BTreeSet::new(), &digester).expect("plan");
        assert_eq!(
            changes.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["~ application grafana: jwks, token_endpoint_auth_method"]
        );
        let Some(Change::UpdateApplication { patch, .. }) = changes.into_iter().next() else {
            panic!("an update");
        };
        assert_eq!(patch.oauth2.and_then(|p| p.jwks), Some(jwks));

        for (jwks, method, path) in [
            (
                Some(serde_json::json!({"keys": [{"kty": "oct"}]})),
                None,
                "jwks",
            ),
            (Some(serde_json::json!("{not json")), None, "jwks"),
            (None, Some("private_key_jwt"), "token_endpoint_auth_method"),
            (
                None,
                Some("client_secret_jwt"),
                "token_endpoint_auth_method",
            ),
        ] {
            let mut bad = spec.clone();
            if let Some(oidc) = &mut bad.oidc {
                oidc.jwks = jwks.map(Some);
                oidc.token_endpoint_auth_method = method.map(|m| Some(m.to_owned()));
            }
            let err = plan_applications(&[bad], &current, &BTreeSet::new(), &digester)
                .expect_err("refused");
            assert_eq!(err.path, format!("applications[0].oidc.{path}"));
        }
    }
}
