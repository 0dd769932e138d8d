//! Which issuer a request came through: the application's own
//! (`/application/o/<slug>/`) or the installation's Dex-compatible alias
//! (`dex_compat.issuer_path`). Tokens name the issuer the user authorized through, and a
//! refresh keeps it (OIDC Core §12.2: a refreshed ID token has the same `iss`), so the
//! authorization code and every refresh token record it in their data.

use crate::services::Services;
use gatehouse_core::{Application, KeyAlgorithm};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The key under which an artefact's data records a non-default issuer.
const RECORDED_ISSUER: &str = "issuer";

/// The door a request came in by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Via {
    /// The application's own endpoints.
    #[default]
    Application,
    /// The Dex-compatible alias.
    DexAlias,
}

/// The Dex-compatible issuer URL, when `dex_compat.issuer_path` turns the alias on.
pub fn dex_alias_issuer(services: &Services) -> Option<String> {
    let path = services.config.dex_compat.path()?;
    Some(gatehouse_oidc::dex::alias_issuer(
        &services.config.base_url(),
        path,
    ))
}

/// The issuer of `app` as seen through `via`.
pub fn issuer_via(services: &Services, app: &Application, via: Via) -> String {
    match via {
        Via::DexAlias => dex_alias_issuer(services),
        Via::Application => None,
    }
    .unwrap_or_else(|| crate::oidc::grants::issuer(services, app))
}

/// The issuer to record in an artefact issued through `via`: none for the application's
/// own (the default when reading), the alias URL otherwise.
pub fn record(services: &Services, via: Via, data: &mut Map<String, Value>) {
    if via == Via::DexAlias
        && let Some(issuer) = dex_alias_issuer(services)
    {
        data.insert(RECORDED_ISSUER.into(), Value::from(issuer));
    }
}

/// The issuer an artefact's data recorded, else the application's own.
pub fn recorded(services: &Services, app: &Application, data: &Map<String, Value>) -> String {
    data.get(RECORDED_ISSUER)
        .and_then(Value::as_str)
        .map_or_else(|| crate::oidc::grants::issuer(services, app), str::to_owned)
}

/// Copies the recorded issuer (if any) from one artefact's data to its successor's.
pub fn carry(from: &Map<String, Value>, to: &mut Map<String, Value>) {
    if let Some(issuer) = from.get(RECORDED_ISSUER) {
        to.insert(RECORDED_ISSUER.into(), issuer.clone());
    }
}

/// The alias's discovery document (every signing algorithm: the issuer is shared by
/// applications that may each sign with another).
pub fn dex_alias_document(services: &Services, issuer: &str) -> Value {
    let base = services.config.base_url();
    let revocation = format!("{}/application/o/revoke/", base.trim_end_matches('/'));
    let scopes: Vec<String> = ["openid", "profile", "email", "groups", "offline_access"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    gatehouse_oidc::discovery::document_for(
        &gatehouse_oidc::dex::alias_endpoints(issuer, &revocation),
        &[
            KeyAlgorithm::Rs256,
            KeyAlgorithm::Es256,
            KeyAlgorithm::EdDsa,
        ],
        &scopes,
    )
}
