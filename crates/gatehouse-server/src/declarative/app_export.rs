//! Exporting applications: every setting written out in full (so the file does not depend on
//! a release's defaults), and never a client secret or its digest: applying the export leaves
//! stored secrets alone, and on a fresh installation a confidential client gets a random
//! secret to be set with `gatehouse app rotate-secret`.

use super::app_spec::{ApplicationSpec, OidcSpec};
use gatehouse_core::{Application, ClientType};

/// The document entry describing `app`.
pub(super) fn application_spec(app: &Application) -> ApplicationSpec {
    ApplicationSpec {
        slug: app.slug.clone(),
        name: Some(app.name.clone()),
        launch_url: app.launch_url.clone().map(Some),
        allowed_groups: Some(app.allowed_groups.iter().map(|g| g.name.clone()).collect()),
        oidc: app.oauth2.as_ref().map(|p| OidcSpec {
            client_id: Some(p.client_id.clone()),
            client_secret: None,
            public: Some(p.client_type == ClientType::Public),
            redirect_uris: Some(p.redirect_uris.clone()),
            post_logout_redirect_uris: Some(p.post_logout_redirect_uris.clone()),
            scopes: Some(p.scopes.clone()),
            signing_alg: Some(p.signing_alg.as_str().to_owned()),
            subject_mode: Some(p.subject_mode.as_str().to_owned()),
            consent: Some(p.consent_mode.as_str().to_owned()),
            require_pkce: Some(p.require_pkce),
            access_token_lifetime: Some(p.lifetimes.access_token),
            refresh_token_lifetime: Some(p.lifetimes.refresh_token),
            code_lifetime: Some(p.lifetimes.authorization_code),
            jwks: Some(p.jwks.clone()),
            token_endpoint_auth_method: Some(
                p.token_endpoint_auth_method.map(|m| m.as_str().to_owned()),
            ),
            backchannel_logout_uri: Some(p.backchannel_logout_uri.clone()),
            backchannel_logout_session_required: Some(p.backchannel_logout_session_required),
            scope_mappings: Some(p.scope_mappings.clone()),
        }),
    }
}
