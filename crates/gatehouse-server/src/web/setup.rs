//! The first-run setup page (`/if/flow/initial-setup/?token=…`): while no administrator exists,
//! the one-time link printed at start-up lets a person create one. Protected by the token, a
//! double-submit CSRF cookie, and the store's "no superuser yet" check inside the transaction.

use super::client::ClientIp;
use super::pages::{self, render};
use super::{cookies, csrf};
use crate::config::BrandingConfig;
use crate::services::Services;
use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::header::USER_AGENT;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::Utc;
use gatehouse_core::{
    AuditContext, FirstAdmin, NewUser, StoreError, TokenIntent, password_policy, validate,
};
use serde::Deserialize;

const INVALID_LINK: &str = "This setup link has been used or has expired. If Gatehouse still has \
    no administrator, restart it to print a new link.";

/// Field messages shown next to the inputs.
#[derive(Default)]
pub(crate) struct FieldErrors {
    username: Option<String>,
    email: Option<String>,
    password: Option<String>,
    password_repeat: Option<String>,
}

impl FieldErrors {
    fn is_empty(&self) -> bool {
        self.username.is_none()
            && self.email.is_none()
            && self.password.is_none()
            && self.password_repeat.is_none()
    }
}

#[derive(Template)]
#[template(path = "setup.html")]
struct SetupPage<'a> {
    brand: &'a BrandingConfig,
    token: &'a str,
    csrf: String,
    username: &'a str,
    email: &'a str,
    errors: FieldErrors,
    form_error: Option<&'a str>,
}

/// The query of the setup link.
#[derive(Deserialize)]
pub(crate) struct SetupQuery {
    #[serde(default)]
    token: String,
}

/// The submitted form.
#[derive(Deserialize)]
pub(crate) struct SetupForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_repeat: String,
}

/// `GET`: the form, if the link is still valid.
pub(crate) async fn show_form(
    State(services): State<Services>,
    headers: HeaderMap,
    Query(query): Query<SetupQuery>,
) -> Response {
    let brand = &services.config.branding;
    match setup_token_is_valid(&services, &query.token).await {
        Ok(true) => {}
        Ok(false) => {
            return pages::message(StatusCode::NOT_FOUND, brand, "Link not valid", INVALID_LINK);
        }
        Err(response) => return response,
    }
    let (csrf_token, set_cookie) = csrf::form_token(&services, &headers);
    let page = SetupPage {
        brand,
        token: &query.token,
        csrf: csrf_token,
        username: "",
        email: "",
        errors: FieldErrors::default(),
        form_error: None,
    };
    let mut response = render(StatusCode::OK, &page);
    if let Some(cookie) = set_cookie {
        cookies::append(&mut response, &cookie);
    }
    response
}

/// `POST`: validates, then creates the administrator in one transaction that also spends the
/// token.
pub(crate) async fn submit_form(
    State(services): State<Services>,
    ClientIp(peer): ClientIp,
    headers: HeaderMap,
    Form(form): Form<SetupForm>,
) -> Response {
    let brand = &services.config.branding;
    if !csrf::verify(&services, &headers, &form.csrf) {
        return pages::message(
            StatusCode::FORBIDDEN,
            brand,
            "Form expired",
            "This form could not be verified (missing or stale security token). Go back, reload the page and try again.",
        );
    }
    match setup_token_is_valid(&services, &form.token).await {
        Ok(true) => {}
        Ok(false) => {
            return pages::message(StatusCode::NOT_FOUND, brand, "Link not valid", INVALID_LINK);
        }
        Err(response) => return response,
    }

    let mut errors = FieldErrors::default();
    let username = form.username.trim();
    if let Err(e) = validate::username(username) {
        errors.username = Some(e.message);
    }
    let email = match validate::email(&form.email) {
        Ok(email) => Some(email),
        Err(e) => {
            errors.email = Some(e.message);
            None
        }
    };
    if let Err(e) = password_policy::check(&form.password, &[username, form.email.trim()]) {
        errors.password = Some(format!("Password {}", e.message));
    } else if form.password != form.password_repeat {
        errors.password_repeat = Some("Passwords do not match".into());
    }
    if !errors.is_empty() {
        return form_again(&services, &form, errors, None, StatusCode::BAD_REQUEST);
    }

    let password_hash = match services.hasher.hash(form.password.clone()).await {
        Ok(hash) => hash,
        Err(error) => {
            tracing::error!(%error, "password hashing failed");
            return pages::message(
                StatusCode::INTERNAL_SERVER_ERROR,
                brand,
                "Something went wrong",
                "The administrator could not be created. Try again.",
            );
        }
    };
    let audit = AuditContext {
        actor_id: None,
        actor: "setup".into(),
        client_ip: Some(peer.to_string()),
        user_agent: headers
            .get(USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    };
    let admin = FirstAdmin {
        user: NewUser {
            email,
            email_verified: false,
            password_hash: Some(password_hash),
            ..NewUser::named(username)
        },
        setup_token_digest: Some(services.digester.digest(&form.token)),
        api_token: None,
    };
    match services.store.create_first_admin(admin, &audit).await {
        Ok(user) => {
            // Any other setup links printed by other replicas die with this one.
            if let Err(error) = services
                .store
                .delete_tokens_with_intent(TokenIntent::Setup)
                .await
            {
                tracing::warn!(%error, "could not delete remaining setup links");
            }
            tracing::info!(username = %user.username, "first administrator created through the setup link");
            pages::message(
                StatusCode::OK,
                brand,
                "Administrator created",
                &format!(
                    "{} can now manage Gatehouse. This setup link no longer works.",
                    user.username
                ),
            )
        }
        Err(StoreError::Conflict(message)) if message.contains("username") => {
            let errors = FieldErrors {
                username: Some("This username is taken".into()),
                ..FieldErrors::default()
            };
            form_again(&services, &form, errors, None, StatusCode::CONFLICT)
        }
        Err(StoreError::Conflict(_)) => pages::message(
            StatusCode::CONFLICT,
            brand,
            "Already set up",
            "Gatehouse already has an administrator. This setup link no longer works.",
        ),
        Err(StoreError::Invalid(e)) if e.field == "token" => {
            pages::message(StatusCode::NOT_FOUND, brand, "Link not valid", INVALID_LINK)
        }
        Err(StoreError::Invalid(e)) => {
            let errors = FieldErrors {
                username: (e.field == "username").then(|| e.message.clone()),
                email: (e.field == "email").then(|| e.message.clone()),
                ..FieldErrors::default()
            };
            let form_error = (errors.is_empty()).then_some(e.message.as_str());
            form_again(
                &services,
                &form,
                errors,
                form_error,
                StatusCode::BAD_REQUEST,
            )
        }
        Err(StoreError::Unavailable) => unavailable(brand),
        Err(error) => {
            tracing::error!(%error, "first administrator could not be created");
            pages::message(
                StatusCode::INTERNAL_SERVER_ERROR,
                brand,
                "Something went wrong",
                "The administrator could not be created. Try again.",
            )
        }
    }
}

fn form_again(
    services: &Services,
    form: &SetupForm,
    errors: FieldErrors,
    form_error: Option<&str>,
    status: StatusCode,
) -> Response {
    // The CSRF cookie is known to be present and valid at this point.
    let page = SetupPage {
        brand: &services.config.branding,
        token: &form.token,
        csrf: form.csrf.clone(),
        username: form.username.trim(),
        email: form.email.trim(),
        errors,
        form_error,
    };
    render(status, &page)
}

async fn setup_token_is_valid(services: &Services, token: &str) -> Result<bool, Response> {
    if token.is_empty() || token.len() > 256 {
        return Ok(false);
    }
    match services
        .store
        .token_by_digest(TokenIntent::Setup, &services.digester.digest(token))
        .await
    {
        Ok(found) => Ok(found.is_some_and(|t| t.is_valid_at(Utc::now()))),
        Err(StoreError::Unavailable) => Err(unavailable(&services.config.branding)),
        Err(error) => {
            tracing::error!(%error, "setup token lookup failed");
            Err(pages::message(
                StatusCode::INTERNAL_SERVER_ERROR,
                &services.config.branding,
                "Something went wrong",
                "Try again in a moment.",
            ))
        }
    }
}

fn unavailable(brand: &BrandingConfig) -> Response {
    pages::message(
        StatusCode::SERVICE_UNAVAILABLE,
        brand,
        "Temporarily unavailable",
        "Gatehouse cannot reach its database right now. Try again in a moment.",
    )
}
