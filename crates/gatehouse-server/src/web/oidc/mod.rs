//! The OAuth2/OIDC endpoints in authentik's layout (DESIGN.md): per-application discovery,
//! JWKS and end-session (RP-initiated logout), and the shared authorize, token, userinfo,
//! introspection, revocation and device authorization endpoints with the device user-code
//! page (`/if/device/`). Handlers only translate HTTP to `gatehouse-oidc` and `crate::oidc::grants`.
//! With `dex_compat.issuer_path` set, the same handlers also answer at Dex's paths under that
//! issuer (`<path>/auth`, `/token`, `/keys`, `/userinfo`, `/token/introspect` and discovery),
//! told by the [`Via`] in the request's extensions which issuer they speak for.

mod authorize;
mod client;
mod consent;
mod device;
mod discovery;
mod end_session;
mod introspect;
mod responses;
mod token;
mod userinfo;

use crate::oidc::issuer::Via;
use crate::services::Services;
use axum::extract::FromRequestParts;
use axum::http::HeaderValue;
use axum::http::request::Parts;
use axum::routing::{get, post};
use axum::{Extension, Router};
use gatehouse_oidc::AuthorizeError;
use gatehouse_oidc::params::Params;

/// The OIDC routes, merged into the public router; with a Dex issuer path (`""` for the
/// root), the Dex-compatible alias too.
pub(crate) fn routes(dex_issuer_path: Option<&str>) -> Router<Services> {
    let routes = Router::new()
        .route(
            "/application/o/{slug}/.well-known/openid-configuration",
            get(discovery::configuration),
        )
        .route("/application/o/{slug}/jwks/", get(discovery::jwks))
        .route(
            "/application/o/{slug}/end-session/",
            get(end_session::end_session_get).post(end_session::end_session_post),
        )
        .route(
            "/application/o/authorize/",
            get(authorize::authorize_get).post(authorize::authorize_post),
        )
        .route(consent::CONSENT_PATH, post(consent::answer))
        .route("/application/o/token/", post(token::token))
        .route("/application/o/device/", post(device::device_authorization))
        .route(device::DEVICE_PAGE, get(device::page).post(device::answer))
        .route(
            "/application/o/userinfo/",
            get(userinfo::userinfo_get).post(userinfo::userinfo_post),
        )
        .route("/application/o/introspect/", post(introspect::introspect))
        .route("/application/o/revoke/", post(introspect::revoke));
    match dex_issuer_path {
        None => routes,
        Some("") => routes.merge(dex_alias_routes()),
        Some(path) => routes.nest(path, dex_alias_routes()),
    }
}

/// Dex's endpoint paths, served by the same handlers as the application endpoints.
fn dex_alias_routes() -> Router<Services> {
    use gatehouse_oidc::dex;
    Router::new()
        .route(dex::DISCOVERY_PATH, get(discovery::dex_alias_configuration))
        .route(dex::KEYS_PATH, get(discovery::dex_alias_jwks))
        .route(
            dex::AUTH_PATH,
            get(authorize::authorize_get).post(authorize::authorize_post),
        )
        .route(dex::TOKEN_PATH, post(token::token))
        .route(
            dex::USERINFO_PATH,
            get(userinfo::userinfo_get).post(userinfo::userinfo_post),
        )
        .route(dex::INTROSPECT_PATH, post(introspect::introspect))
        .layer(Extension(Via::DexAlias))
}

/// The issuer a request came through: the alias's routes mark their requests.
impl<S: Send + Sync> FromRequestParts<S> for Via {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts.extensions.get::<Via>().copied().unwrap_or_default())
    }
}

/// The local path of the authorization endpoint `via` names, up to its query.
pub(crate) fn authorization_path(services: &Services, via: Via) -> String {
    match (via, services.config.dex_compat.path()) {
        (Via::DexAlias, Some(path)) => format!("{path}{}", gatehouse_oidc::dex::AUTH_PATH),
        _ => "/application/o/authorize/".to_owned(),
    }
}

/// The `Content-Security-Policy` of a page whose form may end, through redirects, at
/// `redirect_uri` (browsers check `form-action` on each redirect after a form submission).
pub(crate) fn csp_for_form_target(redirect_uri: &str) -> Option<HeaderValue> {
    let source = gatehouse_oidc::redirect::csp_source(redirect_uri)?;
    HeaderValue::from_str(&crate::web::layers::content_security_policy(&[source])).ok()
}

/// Where the authorization request in a flow's `next` will send the browser, when its client
/// is known and the redirect URI registered (the authorization endpoint's own checks), so
/// the flow's pages can allow it as a form target. `None` for any other `next`.
pub(crate) async fn redirect_target_of_next(services: &Services, next: &str) -> Option<String> {
    let (path, query) = next.split_once('?')?;
    if ![Via::Application, Via::DexAlias]
        .into_iter()
        .any(|via| authorization_path(services, via) == path)
    {
        return None;
    }
    let params = Params::parse_form(query).ok()?;
    let client_id = gatehouse_oidc::authorize::client_id(&params).ok()?;
    let app = services
        .store
        .application_by_client_id(client_id)
        .await
        .ok()??;
    let provider = app.oauth2?;
    match gatehouse_oidc::authorize::validate(&params, &provider) {
        Ok(request) => Some(request.redirect_uri),
        Err(AuthorizeError::Redirect { redirect_uri, .. }) => Some(redirect_uri),
        Err(AuthorizeError::Page(_)) => None,
    }
}
