//! The signing keys page (`/if/admin/keys/`): every key with its algorithm and state (never
//! the private part), rotation of one algorithm's active key, and import of a key made
//! elsewhere (PEM), through [`crate::admin::keys`].

use super::{AdminUi, Confirm, FieldErrors, FormData, ListParams, Pager, Section, see_other, when};
use crate::admin::keys as service;
use askama::Template;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::Response;
use gatehouse_core::AdminArea;

const LIST: &str = "/if/admin/keys/";

/// One row of the keys list.
struct KeyRow {
    id: String,
    name: String,
    algorithm: &'static str,
    created: String,
    state: String,
}

#[derive(Template)]
#[template(path = "admin/keys.html")]
struct KeysPage {
    shell: super::Shell,
    pager: Pager,
    rows: Vec<KeyRow>,
    can_write: bool,
    notice: Option<&'static str>,
    /// What the import form shows again after a refusal (never the key itself: a refused
    /// key is not echoed into the page).
    import_name: String,
    errors: FieldErrors,
}

/// `?rotated=1` after a rotation, `?imported=1` after an import.
#[derive(serde::Deserialize)]
pub(crate) struct Done {
    #[serde(default)]
    rotated: Option<String>,
    #[serde(default)]
    imported: Option<String>,
}

/// `GET /if/admin/keys/`: keys, newest first, searchable by name and algorithm.
pub(crate) async fn list(
    ui: AdminUi,
    Query(params): Query<ListParams>,
    Query(done): Query<Done>,
) -> Response {
    let notice = match (done.rotated, done.imported) {
        (Some(_), _) => Some("Key rotated."),
        (None, Some(_)) => Some("Key imported: it signs new tokens now."),
        (None, None) => None,
    };
    page(&ui, params, notice, String::new(), FieldErrors::default()).await
}

async fn page(
    ui: &AdminUi,
    params: ListParams,
    notice: Option<&'static str>,
    import_name: String,
    errors: FieldErrors,
) -> Response {
    let query = params.query("created");
    let page = match service::list(&ui.services, &ui.caller, &query).await {
        Ok(page) => page,
        Err(error) => return ui.error(error),
    };
    let pager = Pager::of(LIST, "created", &query, &page);
    let now = chrono::Utc::now();
    let rows = page
        .items
        .into_iter()
        .map(|k| KeyRow {
            id: k.id.to_string(),
            algorithm: k.algorithm.as_str(),
            created: when(k.created_at),
            state: match (k.retired_at, k.verify_until) {
                (None, _) => "active: signs new tokens".into(),
                (Some(_), Some(until)) if until > now => {
                    format!("retired: published until {}", when(until))
                }
                (Some(_), _) => "retired".into(),
            },
            name: k.name,
        })
        .collect();
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    let page = KeysPage {
        shell: ui.shell(Section::Keys),
        pager,
        rows,
        can_write: ui.can_write(AdminArea::Keys),
        notice,
        import_name,
        errors,
    };
    ui.render(status, &page)
}

/// `POST /if/admin/keys/rotate/`: once confirmed, makes a new active key for `alg`; the old
/// one stays published until the tokens it signed have expired.
pub(crate) async fn rotate(ui: AdminUi, form: FormData) -> Response {
    if let Err(page) = ui.check_csrf(&form) {
        return *page;
    }
    if let Err(error) = ui.caller.require_write(AdminArea::Keys) {
        return ui.error(error);
    }
    let alg = form.get("alg").to_owned();
    let confirm = Confirm {
        section: Section::Keys,
        heading: "Rotate signing key",
        message: format!(
            "Make a new {alg} signing key? New tokens are signed with it; the current key stays published until the tokens it signed expire."
        ),
        action: format!("{LIST}rotate/"),
        button: "Rotate key",
        cancel: LIST.into(),
    };
    if let Some(page) = ui.confirmation(&form, confirm) {
        return page;
    }
    match service::rotate(&ui.services, &ui.caller, &alg).await {
        Ok(_) => see_other(&format!("{LIST}?rotated=1")),
        Err(error) => ui.error(error),
    }
}

/// `POST /if/admin/keys/import/`: makes the pasted PEM key the active key of its algorithm
/// (the current one retires, as on rotation). A refused key shows the reason next to the
/// field; the key is not put back into the form.
pub(crate) async fn import(ui: AdminUi, form: FormData) -> Response {
    if let Err(page) = ui.check_csrf(&form) {
        return *page;
    }
    let name = form.get("name").trim().to_owned();
    let outcome = service::import(
        &ui.services,
        &ui.caller,
        form.get("pem"),
        Some(name.as_str()).filter(|n| !n.is_empty()),
    )
    .await;
    match outcome {
        Ok(_) => see_other(&format!("{LIST}?imported=1")),
        Err(error) => match FieldErrors::from_error(error) {
            Ok(errors) => page(&ui, ListParams::default(), None, name, errors).await,
            Err(other) => ui.error(other),
        },
    }
}
