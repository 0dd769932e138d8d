//! RFC 8628 at the HTTP edge: `POST /application/o/device/` (the device authorization
//! endpoint, §3.1–3.2, client authentication as at the token endpoint, public clients
//! allowed) and the user-code page `/if/device/` (§3.3): sign-in required, the code typed or
//! taken from `verification_uri_complete`, then a CSRF-protected page naming the application
//! and what it gets, whose Allow or Deny is recorded once. The application's group policy is
//! enforced before the question, and an Allow stores remembered consent like the
//! authorization endpoint does. User-code guesses are limited per session and per client
//! address (§5.1). Rules live in `gatehouse_oidc::device`, storage in `crate::oidc::device`.

use super::client::client_request;
use super::responses::{audit, error_page, no_store_json, see_other, store_failure, token_error};
use crate::config::BrandingConfig;
use crate::oidc::device;
use crate::oidc::issuer::Via;
use crate::services::Services;
use crate::throttle::ThrottleVerdict;
use crate::web::client::ClientIp;
use crate::web::flow::LOGIN_PATH;
use crate::web::{cookies, csrf, pages, session};
use askama::Template;
use axum::Form;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::header::{CACHE_CONTROL, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use chrono::Utc;
use gatehouse_core::{
    Application, AuditContext, Consent, ConsentMode, DeviceAuthorization, Session, StoreError, User,
};
use gatehouse_oidc::authorize::form_encode;
use gatehouse_oidc::consent::remembered_scopes;
use serde::Deserialize;
use serde_json::json;

/// The user-code page.
pub(super) const DEVICE_PAGE: &str = "/if/device/";

/// `POST /application/o/device/`: starts a device authorization for the authenticated client.
pub(super) async fn device_authorization(
    State(services): State<Services>,
    client_ip: ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (params, app, provider) =
        match client_request(&services, &headers, &body, "device/", Via::Application).await {
            Ok(found) => found,
            Err(response) => return response,
        };
    let scopes = match gatehouse_oidc::device::requested_scopes(&params, &provider) {
        Ok(scopes) => scopes,
        Err(error) => return token_error(&error),
    };
    let audit = audit(
        client_ip.0,
        &headers,
        &format!("client:{}", provider.client_id),
    );
    match device::start(&services, &app, scopes, &audit).await {
        Ok(started) => {
            let uri = format!(
                "{}{DEVICE_PAGE}",
                services.config.base_url().trim_end_matches('/')
            );
            let complete = format!("{uri}?code={}", form_encode(&started.user_code));
            no_store_json(
                StatusCode::OK,
                &json!({
                    "device_code": started.device_code,
                    "user_code": started.user_code,
                    "verification_uri": uri,
                    "verification_uri_complete": complete,
                    "expires_in": started.expires_in,
                    "interval": started.interval,
                }),
            )
        }
        Err(error) => store_failure(&error),
    }
}

/// Query of the user-code page.
#[derive(Deserialize)]
pub(super) struct CodeQuery {
    code: Option<String>,
}

/// The user-code page: an entry form, or the question about one pending authorization.
#[derive(Template)]
#[template(path = "device.html")]
struct DevicePage<'a> {
    brand: &'a BrandingConfig,
    username: &'a str,
    action: &'static str,
    code: String,
    error: Option<&'static str>,
    app_name: Option<&'a str>,
    scopes: Vec<ScopeLine>,
    csrf: String,
}

struct ScopeLine {
    name: String,
    text: String,
}

const NOT_VALID: &str = "That code is not valid or has expired. Check the code on your device.";

/// `GET /if/device/`: sign-in first; then the code form, or the question when `code` names
/// a pending authorization.
pub(super) async fn page(
    State(services): State<Services>,
    client_ip: ClientIp,
    headers: HeaderMap,
    Query(query): Query<CodeQuery>,
) -> Response {
    let typed = query.code.unwrap_or_default();
    let (session, user) = match signed_in(&services, &headers, &typed).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    if typed.trim().is_empty() {
        return render(&services, &headers, &user, typed, None, None);
    }
    let guess = CodeGuess::new(&session, &client_ip);
    if let Some(response) = guess.refusal(&services).await {
        return response;
    }
    match guess
        .counted(
            &services,
            device::pending(&services, &typed, Utc::now()).await,
        )
        .await
    {
        Ok(Some((authorization, app))) => {
            if let Err(response) = admitted(&services, &app, &user).await {
                return response;
            }
            let code = gatehouse_oidc::device::normalise_user_code(&typed)
                .map(|c| gatehouse_oidc::device::display_user_code(&c))
                .unwrap_or_default();
            render(
                &services,
                &headers,
                &user,
                code,
                None,
                Some((&authorization, &app)),
            )
        }
        Ok(None) => render(&services, &headers, &user, typed, Some(NOT_VALID), None),
        Err(error) => unavailable(&services, &error),
    }
}

/// The question's answer.
#[derive(Deserialize)]
pub(super) struct AnswerForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    decision: String,
}

/// `POST /if/device/`: records Allow or Deny for the pending authorization.
pub(super) async fn answer(
    State(services): State<Services>,
    client_ip: ClientIp,
    headers: HeaderMap,
    Form(form): Form<AnswerForm>,
) -> Response {
    if !csrf::verify(&services, &headers, &form.csrf) {
        return error_page(
            &services,
            StatusCode::FORBIDDEN,
            "The form expired or was not sent by this browser. Reload the page and try again.",
        );
    }
    let approve = match form.decision.as_str() {
        "allow" => true,
        "deny" => false,
        _ => return error_page(&services, StatusCode::BAD_REQUEST, "Choose Allow or Deny."),
    };
    let (session, user) = match signed_in(&services, &headers, &form.code).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let now = Utc::now();
    let guess = CodeGuess::new(&session, &client_ip);
    if let Some(response) = guess.refusal(&services).await {
        return response;
    }
    let (authorization, app) = match guess
        .counted(&services, device::pending(&services, &form.code, now).await)
        .await
    {
        Ok(Some(found)) => found,
        Ok(None) => {
            return render(&services, &headers, &user, form.code, Some(NOT_VALID), None);
        }
        Err(error) => return unavailable(&services, &error),
    };
    if let Err(response) = admitted(&services, &app, &user).await {
        return response;
    }
    let audit = AuditContext {
        actor_id: Some(user.id),
        actor: user.username.clone(),
        ..audit(client_ip.0, &headers, "")
    };
    let recorded = record(
        &services,
        (&authorization, &app),
        (&user, &session),
        approve,
        &audit,
    )
    .await;
    match recorded {
        Ok(true) if approve => pages::message(
            StatusCode::OK,
            &services.config.branding,
            "Device connected",
            &format!(
                "{} is now connected. You can return to your device.",
                app.name
            ),
        ),
        Ok(true) => pages::message(
            StatusCode::OK,
            &services.config.branding,
            "Request denied",
            &format!("{} was not connected. You can close this page.", app.name),
        ),
        Ok(false) => render(&services, &headers, &user, form.code, Some(NOT_VALID), None),
        Err(error) => unavailable(&services, &error),
    }
}

/// Stores remembered consent (on Allow, for `remembered` applications), then the answer.
async fn record(
    services: &Services,
    (authorization, app): (&DeviceAuthorization, &Application),
    (user, session): (&User, &Session),
    approve: bool,
    audit: &AuditContext,
) -> Result<bool, StoreError> {
    let recorded = device::answer(
        services,
        (authorization, app),
        (user, session),
        approve,
        audit,
    )
    .await?;
    let remembered = app
        .oauth2
        .as_ref()
        .is_some_and(|p| p.consent_mode == ConsentMode::Remembered);
    if recorded && approve && remembered {
        let now = Utc::now();
        let earlier = services.store.consent(user.id, app.id).await?;
        let consent = Consent {
            user_id: user.id,
            application_id: app.id,
            scopes: remembered_scopes(earlier.as_ref(), &authorization.scopes, now),
            granted_at: now,
            expires_at: None,
        };
        services
            .store
            .grant_consent(consent, &app.slug, audit)
            .await?;
    }
    Ok(recorded)
}

/// RFC 8628 §5.1: a user code is short, so guesses are limited per session and per client
/// address, with the login throttle's policy (`login_throttle.*`: a few free misses, then a
/// growing wait, then a lockout of the session) under keys of their own, so code guesses and
/// password failures do not share a budget.
struct CodeGuess {
    keys: [String; 2],
}

impl CodeGuess {
    fn new(session: &Session, client_ip: &ClientIp) -> Self {
        Self {
            keys: [
                format!("device-session:{}", session.id),
                format!("device-ip:{client_ip}"),
            ],
        }
    }

    /// `None` when another code may be tried now; else the 429 page with `Retry-After`.
    async fn refusal(&self, services: &Services) -> Option<Response> {
        let ThrottleVerdict::Wait(wait) = services.login_throttle.check(&self.keys).await else {
            return None;
        };
        let secs = crate::throttle::retry_after_secs(wait);
        tracing::info!(wait_secs = secs, "device user-code guesses throttled");
        let mut response = pages::message(
            StatusCode::TOO_MANY_REQUESTS,
            &services.config.branding,
            "Too many codes tried",
            &format!("Too many wrong codes were entered. Wait {secs} seconds, then try again."),
        );
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(secs));
        Some(response)
    }

    /// Counts a lookup that found no pending authorization as a miss.
    async fn counted<T>(
        &self,
        services: &Services,
        found: Result<Option<T>, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        if matches!(found, Ok(None)) {
            services
                .login_throttle
                .record_failure(&self.keys[0], &self.keys[1])
                .await;
        }
        found
    }
}

/// The signed-in session and user, or a redirect to sign in that comes back with the code.
async fn signed_in(
    services: &Services,
    headers: &HeaderMap,
    typed: &str,
) -> Result<(Session, User), Response> {
    match session::current(services, headers).await {
        Ok(Some(found)) => Ok(found),
        Ok(None) => {
            let mut back = DEVICE_PAGE.to_owned();
            if let Some(code) = gatehouse_oidc::device::normalise_user_code(typed) {
                back.push_str("?code=");
                back.push_str(&gatehouse_oidc::device::display_user_code(&code));
            }
            Err(see_other(&format!(
                "{LOGIN_PATH}?next={}",
                form_encode(&back)
            )))
        }
        Err(error) => Err(unavailable(services, &error)),
    }
}

/// The application's group policy: outsiders get the access-denied page.
async fn admitted(services: &Services, app: &Application, user: &User) -> Result<(), Response> {
    match crate::oidc::grants::admits_user(services, app, user).await {
        Ok(true) => return Ok(()),
        Ok(false) => {}
        Err(error) => return Err(unavailable(services, &error)),
    }
    tracing::info!(application = %app.slug, user = %user.username, "device authorization denied by the application's group policy");
    Err(pages::message(
        StatusCode::FORBIDDEN,
        &services.config.branding,
        "Access denied",
        &format!(
            "Your account may not use {}. Ask an administrator for access.",
            app.name
        ),
    ))
}

fn render(
    services: &Services,
    headers: &HeaderMap,
    user: &User,
    code: String,
    error: Option<&'static str>,
    question: Option<(&DeviceAuthorization, &Application)>,
) -> Response {
    let (csrf, csrf_cookie) = csrf::form_token(services, headers);
    let code: String = code.chars().take(32).collect();
    let page = DevicePage {
        brand: &services.config.branding,
        username: &user.username,
        action: DEVICE_PAGE,
        code,
        error,
        app_name: question.map(|(_, app)| app.name.as_str()),
        scopes: question
            .map(|(authorization, _)| {
                authorization
                    .scopes
                    .iter()
                    .map(|s| ScopeLine {
                        name: s.clone(),
                        text: gatehouse_oidc::consent::describe(s),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        csrf,
    };
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let mut response = pages::render(status, &page);
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(cookie) = csrf_cookie {
        cookies::append(&mut response, &cookie);
    }
    response
}

fn unavailable(services: &Services, error: &StoreError) -> Response {
    tracing::warn!(%error, "device page: store failed");
    error_page(
        services,
        StatusCode::SERVICE_UNAVAILABLE,
        "Gatehouse cannot reach its database right now. Try again in a moment.",
    )
}
