//! Admin pages for applications and their OAuth2/OIDC providers: the list, a guided "new
//! application" form that ends on the values to paste into the client (issuer, discovery
//! URL, client id, and the secret shown this once), an application's page, secret rotation
//! and deletion. Every change goes through [`crate::admin::applications`].

use super::{AdminUi, Confirm, FieldErrors, FormData, ListParams, Pager, Section};
use crate::admin::{AdminError, applications as service};
use askama::Template;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use gatehouse_core::{
    AdminArea, Application, ClientType, ConsentMode, NewApplication, OAuth2Provider,
};

const LIST: &str = "/if/admin/applications/";

/// One row of the applications list.
struct AppRow {
    slug: String,
    name: String,
    client_id: String,
    client_type: &'static str,
    allowed_groups: String,
}

#[derive(Template)]
#[template(path = "admin/applications.html")]
struct ListPage {
    shell: super::Shell,
    pager: Pager,
    rows: Vec<AppRow>,
    can_write: bool,
}

/// `GET /if/admin/applications/`: applications by slug, searchable (slug, name, client id).
pub(crate) async fn list(ui: AdminUi, Query(params): Query<ListParams>) -> Response {
    let query = params.query("slug");
    let page = match service::list(&ui.services, &ui.caller, &query).await {
        Ok(page) => page,
        Err(error) => return ui.error(error),
    };
    let pager = Pager::of(LIST, "slug", &query, &page);
    let rows = page
        .items
        .into_iter()
        .map(|app| AppRow {
            client_id: app
                .oauth2
                .as_ref()
                .map(|p| p.client_id.clone())
                .unwrap_or_default(),
            client_type: app.oauth2.as_ref().map_or("", |p| p.client_type.as_str()),
            allowed_groups: allowed_groups(&app),
            slug: app.slug,
            name: app.name,
        })
        .collect();
    let page = ListPage {
        shell: ui.shell(Section::Applications),
        pager,
        rows,
        can_write: ui.can_write(AdminArea::Applications),
    };
    ui.render(StatusCode::OK, &page)
}

fn allowed_groups(app: &Application) -> String {
    if app.allowed_groups.is_empty() {
        "everyone".into()
    } else {
        app.allowed_groups
            .iter()
            .map(|g| g.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The guided form's values, kept when it is shown again with errors.
struct NewAppValues {
    name: String,
    slug: String,
    client_id: String,
    public: bool,
    redirect_uris: String,
    allowed_groups: String,
    launch_url: String,
    consent_mode: String,
}

impl Default for NewAppValues {
    fn default() -> Self {
        Self {
            name: String::new(),
            slug: String::new(),
            client_id: String::new(),
            public: false,
            redirect_uris: String::new(),
            allowed_groups: String::new(),
            launch_url: String::new(),
            consent_mode: ConsentMode::Implicit.as_str().into(),
        }
    }
}

#[derive(Template)]
#[template(path = "admin/application_new.html")]
struct NewPage {
    shell: super::Shell,
    values: NewAppValues,
    errors: FieldErrors,
}

/// `GET /if/admin/applications/new/`: the guided form.
pub(crate) async fn new_form(ui: AdminUi) -> Response {
    if let Err(error) = ui.caller.require_write(AdminArea::Applications) {
        return ui.error(error);
    }
    let page = NewPage {
        shell: ui.shell(Section::Applications),
        values: NewAppValues::default(),
        errors: FieldErrors::default(),
    };
    ui.render(StatusCode::OK, &page)
}

/// The values a client is configured with.
struct ClientValues {
    issuer: String,
    discovery: String,
    client_id: String,
    /// Shown once, after creation or rotation.
    client_secret: Option<String>,
    redirect_uris: Vec<String>,
}

impl ClientValues {
    fn of(ui: &AdminUi, app: &Application, client_secret: Option<String>) -> Self {
        let issuer = crate::oidc::grants::issuer(&ui.services, app);
        Self {
            discovery: format!("{issuer}.well-known/openid-configuration"),
            issuer,
            client_id: app
                .oauth2
                .as_ref()
                .map(|p| p.client_id.clone())
                .unwrap_or_default(),
            client_secret,
            redirect_uris: app
                .oauth2
                .as_ref()
                .map(|p| p.redirect_uris.clone())
                .unwrap_or_default(),
        }
    }
}

/// The page with the values to paste into the client, after creation or rotation.
#[derive(Template)]
#[template(path = "admin/application_values.html")]
struct ValuesPage {
    shell: super::Shell,
    heading: &'static str,
    slug: String,
    name: String,
    values: ClientValues,
}

impl ValuesPage {
    fn of(
        ui: &AdminUi,
        heading: &'static str,
        app: &Application,
        client_secret: Option<String>,
    ) -> Self {
        Self {
            shell: ui.shell(Section::Applications),
            heading,
            slug: app.slug.clone(),
            name: app.name.clone(),
            values: ClientValues::of(ui, app, client_secret),
        }
    }
}

/// `POST /if/admin/applications/`: creates the application with its OIDC provider and
/// shows the values to paste into the client, the secret included this once.
pub(crate) async fn create(ui: AdminUi, form: FormData) -> Response {
    if let Err(page) = ui.check_csrf(&form) {
        return *page;
    }
    let values = NewAppValues {
        name: form.get("name").trim().to_owned(),
        slug: form.get("slug").trim().to_owned(),
        client_id: form.get("client_id").trim().to_owned(),
        public: form.get("client_type") == ClientType::Public.as_str(),
        redirect_uris: form.get("redirect_uris").to_owned(),
        allowed_groups: form.get("allowed_groups").to_owned(),
        launch_url: form.get("launch_url").trim().to_owned(),
        consent_mode: form.get("consent_mode").to_owned(),
    };
    let outcome = async {
        ui.caller.require_write(AdminArea::Applications)?;
        let consent = ConsentMode::parse(&values.consent_mode).ok_or_else(|| {
            AdminError::field("consent_mode", "choose implicit, explicit or remembered")
        })?;
        let groups = super::users::names(&values.allowed_groups);
        // The store would refuse an unknown group too, without saying which: name it here.
        for name in &groups {
            if ui.services.store.group_by_name(name).await?.is_none() {
                return Err(AdminError::field(
                    "allowed_groups",
                    format!("no group named {name:?}"),
                ));
            }
        }
        let client_type = if values.public {
            ClientType::Public
        } else {
            ClientType::Confidential
        };
        let client_id = if values.client_id.is_empty() {
            values.slug.clone()
        } else {
            values.client_id.clone()
        };
        let mut provider = OAuth2Provider::new(client_type, client_id);
        provider.redirect_uris = values
            .redirect_uris
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect();
        provider.consent_mode = consent;
        let app = NewApplication {
            slug: values.slug.clone(),
            name: values.name.clone(),
            launch_url: Some(values.launch_url.clone()).filter(|u| !u.is_empty()),
            allowed_groups: groups,
            oauth2: Some(provider),
        };
        service::create(&ui.services, &ui.caller, app).await
    }
    .await;
    match outcome {
        Ok((app, secret)) => {
            let page = ValuesPage::of(&ui, "Application created", &app, secret);
            ui.render(StatusCode::CREATED, &page)
        }
        Err(error) => match FieldErrors::from_error(error) {
            Ok(errors) => {
                let page = NewPage {
                    shell: ui.shell(Section::Applications),
                    values,
                    errors,
                };
                ui.render(StatusCode::BAD_REQUEST, &page)
            }
            Err(other) => ui.error(other),
        },
    }
}

#[derive(Template)]
#[template(path = "admin/application.html")]
struct DetailPage {
    shell: super::Shell,
    app: Application,
    values: ClientValues,
    allowed_groups: String,
    can_write: bool,
}

/// `GET /if/admin/applications/{slug}/`: an application with its provider settings.
pub(crate) async fn show(ui: AdminUi, Path(slug): Path<String>) -> Response {
    let app = match find(&ui, &slug).await {
        Ok(app) => app,
        Err(error) => return ui.error(error),
    };
    let page = DetailPage {
        shell: ui.shell(Section::Applications),
        values: ClientValues::of(&ui, &app, None),
        allowed_groups: allowed_groups(&app),
        app,
        can_write: ui.can_write(AdminArea::Applications),
    };
    ui.render(StatusCode::OK, &page)
}

/// `POST /if/admin/applications/{slug}/rotate-secret/`: once confirmed, replaces the
/// client secret and shows the new one this once.
pub(crate) async fn rotate_secret(
    ui: AdminUi,
    Path(slug): Path<String>,
    form: FormData,
) -> Response {
    if let Err(page) = ui.check_csrf(&form) {
        return *page;
    }
    let app = match find(&ui, &slug).await {
        Ok(app) => app,
        Err(error) => return ui.error(error),
    };
    let confirm = Confirm {
        section: Section::Applications,
        heading: "Rotate client secret",
        message: format!(
            "Replace the client secret of {}? The current secret stops working at once; the client needs the new one.",
            app.name
        ),
        action: format!("{LIST}{}/rotate-secret/", app.slug),
        button: "Rotate secret",
        cancel: format!("{LIST}{}/", app.slug),
    };
    if let Some(page) = ui.confirmation(&form, confirm) {
        return page;
    }
    match service::rotate_secret(&ui.services, &ui.caller, &app.slug).await {
        Ok(secret) => {
            let page = ValuesPage::of(&ui, "New client secret", &app, Some(secret));
            ui.render(StatusCode::OK, &page)
        }
        Err(error) => ui.error(error),
    }
}

/// `POST /if/admin/applications/{slug}/delete/`: deletes the application once confirmed.
pub(crate) async fn delete(ui: AdminUi, Path(slug): Path<String>, form: FormData) -> Response {
    if let Err(page) = ui.check_csrf(&form) {
        return *page;
    }
    let app = match find(&ui, &slug).await {
        Ok(app) => app,
        Err(error) => return ui.error(error),
    };
    let confirm = Confirm {
        section: Section::Applications,
        heading: "Delete application",
        message: format!(
            "Delete {} with its provider and every token issued to it? Its users can no longer sign in to it.",
            app.name
        ),
        action: format!("{LIST}{}/delete/", app.slug),
        button: "Delete application",
        cancel: format!("{LIST}{}/", app.slug),
    };
    ui.confirmed(
        &form,
        confirm,
        service::delete(&ui.services, &ui.caller, &app.slug),
        LIST,
    )
    .await
}

/// The application with `slug`; a slug no application could have is unknown without a
/// database round trip.
async fn find(ui: &AdminUi, slug: &str) -> Result<Application, AdminError> {
    let plausible = !slug.is_empty()
        && slug.len() <= 150
        && slug
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !plausible {
        return Err(AdminError::not_found("application"));
    }
    service::get(&ui.services, &ui.caller, slug).await
}
