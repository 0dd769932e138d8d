//! Admin pages for API tokens and app passwords: the list (searchable by description,
//! filterable by user, paginated; never a secret), the creation form that ends on the
//! secret shown this once, and revocation after a confirmation. Every change goes through
//! [`crate::admin::tokens`].

use super::events::parse_time;
use super::users::Done;
use super::{AdminUi, Confirm, FieldErrors, FormData, ListParams, Pager, Section, expiry, when};
use crate::admin::{AdminError, tokens as service};
use askama::Template;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use gatehouse_core::{AdminArea, Token, TokenId, TokenIntent, UserId};

const LIST: &str = "/if/admin/tokens/";

/// What people call each kind of token.
fn kind_label(kind: TokenIntent) -> &'static str {
    match kind {
        TokenIntent::AppPassword => "app password",
        _ => "API token",
    }
}

/// One row of the tokens list.
struct TokenRow {
    id: String,
    description: String,
    kind: &'static str,
    user_id: String,
    username: String,
    created: String,
    expires: String,
}

#[derive(Template)]
#[template(path = "admin/tokens.html")]
struct ListPage {
    shell: super::Shell,
    pager: Pager,
    rows: Vec<TokenRow>,
    /// The username filter as entered.
    user: String,
    user_error: String,
    notice: Option<&'static str>,
    can_write: bool,
}

/// `?user=` (a username) on the list.
#[derive(Default, serde::Deserialize)]
pub(crate) struct UserFilter {
    #[serde(default)]
    user: Option<String>,
}

/// The owner of `id`'s username, or the id itself when the user is gone.
async fn username_of(ui: &AdminUi, id: Option<UserId>) -> (String, String) {
    let Some(id) = id else {
        return (String::new(), String::new());
    };
    match ui.services.store.user_by_id(id).await {
        Ok(Some(user)) => (id.to_string(), user.username),
        _ => (id.to_string(), id.to_string()),
    }
}

/// `GET /if/admin/tokens/`: API tokens and app passwords, newest last, searchable by
/// description and filtered by `user`.
pub(crate) async fn list(
    ui: AdminUi,
    Query(params): Query<ListParams>,
    Query(filter): Query<UserFilter>,
    Query(done): Query<Done>,
) -> Response {
    let query = params.query("created");
    let user = filter
        .user
        .as_deref()
        .map(str::trim)
        .unwrap_or_default()
        .to_owned();
    let outcome = async {
        let owner = if user.is_empty() {
            None
        } else {
            ui.caller.require_read(AdminArea::Tokens)?;
            match ui.services.store.user_by_username(&user).await? {
                Some(found) => Some(found.id),
                None => return Ok(None),
            }
        };
        service::list(&ui.services, &ui.caller, owner, &service::MANAGED, &query)
            .await
            .map(Some)
    }
    .await;
    let (page, user_error) = match outcome {
        Ok(Some(page)) => (page, String::new()),
        Ok(None) => (
            gatehouse_core::Page {
                items: Vec::new(),
                total: 0,
            },
            format!("no user named {user:?}"),
        ),
        Err(error) => return ui.error(error),
    };
    let filters = if user.is_empty() {
        String::new()
    } else {
        format!("&user={}", gatehouse_oidc::authorize::form_encode(&user))
    };
    let pager = Pager::filtered(LIST, "created", &query, &page, &filters);
    let mut rows = Vec::with_capacity(page.items.len());
    for token in page.items {
        let (user_id, username) = username_of(&ui, token.user_id).await;
        rows.push(row(token, user_id, username));
    }
    let status = if user_error.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    let page = ListPage {
        shell: ui.shell(Section::Tokens),
        pager,
        rows,
        user,
        user_error,
        notice: match done.done.as_deref() {
            Some("revoked") => Some("Token revoked."),
            _ => None,
        },
        can_write: ui.can_write(AdminArea::Tokens),
    };
    ui.render(status, &page)
}

fn row(token: Token, user_id: String, username: String) -> TokenRow {
    TokenRow {
        id: token.id.to_string(),
        kind: kind_label(token.intent),
        created: when(token.created_at),
        expires: expiry(token.expires_at),
        description: token.description,
        user_id,
        username,
    }
}

/// The creation form's values, kept when it comes back with errors.
#[derive(Default)]
struct NewTokenValues {
    user: String,
    app_password: bool,
    description: String,
    expires_at: String,
}

#[derive(Template)]
#[template(path = "admin/token_new.html")]
struct NewPage {
    shell: super::Shell,
    values: NewTokenValues,
    errors: FieldErrors,
}

/// `GET /if/admin/tokens/new/`: the creation form (`?user=` fills in the user).
pub(crate) async fn new_form(ui: AdminUi, Query(filter): Query<UserFilter>) -> Response {
    if let Err(error) = ui.caller.require_write(AdminArea::Tokens) {
        return ui.error(error);
    }
    let page = NewPage {
        shell: ui.shell(Section::Tokens),
        values: NewTokenValues {
            user: filter.user.unwrap_or_default().trim().to_owned(),
            ..NewTokenValues::default()
        },
        errors: FieldErrors::default(),
    };
    ui.render(StatusCode::OK, &page)
}

#[derive(Template)]
#[template(path = "admin/token_created.html")]
struct CreatedPage {
    shell: super::Shell,
    kind: &'static str,
    description: String,
    username: String,
    expires: String,
    secret: String,
    app_password: bool,
}

/// `POST /if/admin/tokens/`: creates the token and shows its secret this once.
pub(crate) async fn create(ui: AdminUi, form: FormData) -> Response {
    if let Err(page) = ui.check_csrf(&form) {
        return *page;
    }
    let values = NewTokenValues {
        user: form.get("user").trim().to_owned(),
        app_password: form.get("kind") == TokenIntent::AppPassword.as_str(),
        description: form.get("description").trim().to_owned(),
        expires_at: form.get("expires_at").trim().to_owned(),
    };
    let kind = if values.app_password {
        TokenIntent::AppPassword
    } else {
        TokenIntent::Api
    };
    let outcome = async {
        ui.caller.require_write(AdminArea::Tokens)?;
        let expires_at = parse_time(&values.expires_at, "expires_at")?;
        if values.user.is_empty() {
            return Err(AdminError::field("user", "enter a username"));
        }
        let owner = ui
            .services
            .store
            .user_by_username(&values.user)
            .await?
            .ok_or_else(|| AdminError::field("user", format!("no user named {:?}", values.user)))?;
        let (token, secret) = service::create(
            &ui.services,
            &ui.caller,
            owner.id,
            kind,
            values.description.clone(),
            expires_at,
        )
        .await?;
        Ok((token, owner.username, secret))
    }
    .await;
    match outcome {
        Ok((token, username, secret)) => {
            let page = CreatedPage {
                shell: ui.shell(Section::Tokens),
                kind: kind_label(token.intent),
                expires: expiry(token.expires_at),
                description: token.description,
                username,
                secret,
                app_password: token.intent == TokenIntent::AppPassword,
            };
            ui.render(StatusCode::CREATED, &page)
        }
        Err(error) => match FieldErrors::from_error(error) {
            Ok(errors) => {
                let page = NewPage {
                    shell: ui.shell(Section::Tokens),
                    values,
                    errors,
                };
                ui.render(StatusCode::BAD_REQUEST, &page)
            }
            Err(other) => ui.error(other),
        },
    }
}

/// `POST /if/admin/tokens/{id}/delete/`: revokes the token once confirmed.
pub(crate) async fn delete(ui: AdminUi, Path(id): Path<String>, form: FormData) -> Response {
    let Ok(id) = id.parse::<TokenId>() else {
        return ui.error(AdminError::not_found("token"));
    };
    if let Err(page) = ui.check_csrf(&form) {
        return *page;
    }
    let token = match service::get(&ui.services, &ui.caller, id, &service::MANAGED).await {
        Ok(token) => token,
        Err(error) => return ui.error(error),
    };
    let (_, username) = username_of(&ui, token.user_id).await;
    let confirm = Confirm {
        section: Section::Tokens,
        heading: "Revoke token",
        message: format!(
            "Revoke the {} \"{}\" of {username}? Whatever uses it stops working at once.",
            kind_label(token.intent),
            token.description
        ),
        action: format!("{LIST}{id}/delete/"),
        button: "Revoke token",
        cancel: LIST.into(),
    };
    ui.confirmed(
        &form,
        confirm,
        service::delete(&ui.services, &ui.caller, id, &service::MANAGED),
        &format!("{LIST}?done=revoked"),
    )
    .await
}
