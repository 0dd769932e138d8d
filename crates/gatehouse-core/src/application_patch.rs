//! Changes to an existing application, as `gatehouse apply` plans them. The OAuth2 provider
//! is carried whole (the planner merges the document onto the stored settings), so the store
//! only validates and replaces it; the field names say what differs, for the plan and the
//! audit event. A client secret travels only as its keyed digest.

use crate::application::OAuth2Provider;

/// What to change on an application found by slug; `None` leaves a field alone.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ApplicationPatch {
    /// New display name.
    pub name: Option<String>,
    /// New launch URL (`Some(None)` removes it).
    pub launch_url: Option<Option<String>>,
    /// Names of the groups allowed to use it, exactly (empty: everyone).
    pub allowed_groups: Option<Vec<String>>,
    /// The provider as it must be afterwards (created when the application had none).
    pub oauth2: Option<OAuth2Provider>,
    /// Names of the provider fields that differ (`redirect_uris`, `client_secret`, ...).
    pub oauth2_fields: Vec<&'static str>,
}

impl ApplicationPatch {
    /// The names of the fields this patch sets, for the plan and audit events.
    pub fn field_names(&self) -> Vec<&'static str> {
        let mut names: Vec<&'static str> = [
            ("name", self.name.is_some()),
            ("launch_url", self.launch_url.is_some()),
            ("allowed_groups", self.allowed_groups.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, set)| set.then_some(name))
        .collect();
        if self.oauth2.is_some() {
            names.extend(&self.oauth2_fields);
        }
        names
    }

    /// Whether the patch would change anything at all.
    pub fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.launch_url.is_none()
            && self.allowed_groups.is_none()
            && self.oauth2.is_none()
    }
}
