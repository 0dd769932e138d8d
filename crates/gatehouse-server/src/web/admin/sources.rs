//! Admin pages for upstream login sources: the list, a new/edit form whose fields follow the
//! source type (the type is chosen first, so no script is needed to show the right fields),
//! a source's page with the callback URL to register upstream, deletion, and removing a
//! user's linked account from the user's page. Every change goes through
//! [`crate::admin::sources`]; the client secret is write-only ("set" / "not set").

use super::{AdminUi, Confirm, FieldErrors, FormData, ListParams, Pager, Section, see_other};
use crate::admin::sources::{self as service, ClaimChanges, SourceChanges};
use crate::admin::{AdminError, users as user_service};
use askama::Template;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use gatehouse_core::{
    AdminArea, GroupSyncMode, NewSource, Source, SourceKind, UserId, UserMatching,
};
use serde::Deserialize;

const LIST: &str = "/if/admin/sources/";

/// The types offered, with what the chooser says about each.
const TYPES: [(&str, &str); 5] = [
    ("forgejo", "Forgejo"),
    ("gitea", "Gitea"),
    ("github", "GitHub or GitHub Enterprise"),
    ("oidc", "Any OpenID Connect provider"),
    (
        "oauth2",
        "A plain OAuth2 server (user-info document and claim names)",
    ),
];

/// One row of the sources list.
struct SourceRow {
    slug: String,
    name: String,
    kind: &'static str,
    user_matching: &'static str,
    enabled: bool,
}

#[derive(Template)]
#[template(path = "admin/sources.html")]
struct ListPage {
    shell: super::Shell,
    pager: Pager,
    rows: Vec<SourceRow>,
    can_write: bool,
}

/// `GET /if/admin/sources/`: sources by slug, searchable (slug, name, type, client id).
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
        .map(|source| {
            let s = source.settings;
            SourceRow {
                kind: s.kind.as_str(),
                user_matching: s.user_matching.as_str(),
                enabled: s.enabled,
                slug: s.slug,
                name: s.name,
            }
        })
        .collect();
    let page = ListPage {
        shell: ui.shell(Section::Sources),
        pager,
        rows,
        can_write: ui.can_write(AdminArea::Sources),
    };
    ui.render(StatusCode::OK, &page)
}

/// The form's values as typed (or as stored, for editing).
struct SourceValues {
    slug: String,
    name: String,
    kind: &'static str,
    /// URL and claim inputs by name.
    inputs: Vec<(&'static str, String)>,
    client_id: String,
    scopes: String,
    user_matching: &'static str,
    enrollment_flow: String,
    group_sync_mode: &'static str,
    group_sync_parent: String,
    enabled: bool,
    has_secret: bool,
}

/// The URL inputs: name, label, and the types for which the field is a main one (the others
/// show it under "Other endpoints"), with a note per type when it is required.
const URL_INPUTS: [(&str, &str, &[&str]); 7] = [
    ("base_url", "Base URL", &["forgejo", "gitea", "github"]),
    ("discovery_url", "Discovery URL", &["oidc"]),
    ("issuer", "Issuer", &["oidc"]),
    (
        "authorize_url",
        "Authorization endpoint",
        &["oidc", "oauth2"],
    ),
    ("token_url", "Token endpoint", &["oidc", "oauth2"]),
    ("jwks_url", "JWKS URL", &["oidc"]),
    ("userinfo_url", "User-info endpoint", &["oidc", "oauth2"]),
];

/// The claim-name inputs: name and label.
const CLAIM_INPUTS: [(&str, &str); 6] = [
    ("claims_subject", "Claim with the stable user id"),
    ("claims_username", "Claim with the username"),
    ("claims_email", "Claim with the email"),
    (
        "claims_email_verified",
        "Claim saying the email is verified",
    ),
    ("claims_name", "Claim with the display name"),
    ("claims_groups", "Claim with the list of groups"),
];

/// A note on a main URL field, per type.
fn url_note(kind: &str, name: &str) -> &'static str {
    match (kind, name) {
        ("forgejo" | "gitea", "base_url") => "required, e.g. https://git.example.com",
        ("github", "base_url") => "only for GitHub Enterprise; empty: github.com",
        ("oidc", "discovery_url") => {
            "…/.well-known/openid-configuration; or give issuer, authorization, token and JWKS URLs"
        }
        ("oauth2", "authorize_url" | "token_url" | "userinfo_url") => "required",
        _ => "",
    }
}

impl SourceValues {
    fn new(kind: &'static str) -> Self {
        let defaults = gatehouse_core::ClaimPaths::default();
        Self {
            slug: String::new(),
            name: String::new(),
            kind,
            inputs: claim_values(&defaults),
            client_id: String::new(),
            scopes: String::new(),
            user_matching: UserMatching::default().as_str(),
            enrollment_flow: String::new(),
            group_sync_mode: GroupSyncMode::default().as_str(),
            group_sync_parent: String::new(),
            enabled: true,
            has_secret: false,
        }
    }

    fn of(source: &Source) -> Self {
        let s = &source.settings;
        let e = &s.endpoints;
        let mut inputs: Vec<(&'static str, String)> = [
            ("base_url", &s.base_url),
            ("discovery_url", &e.discovery_url),
            ("issuer", &e.issuer),
            ("authorize_url", &e.authorize_url),
            ("token_url", &e.token_url),
            ("jwks_url", &e.jwks_url),
            ("userinfo_url", &e.userinfo_url),
        ]
        .into_iter()
        .map(|(name, value)| (name, value.clone().unwrap_or_default()))
        .collect();
        inputs.extend(claim_values(&s.claims));
        Self {
            slug: s.slug.clone(),
            name: s.name.clone(),
            kind: s.kind.as_str(),
            inputs,
            client_id: s.client_id.clone(),
            scopes: s.scopes.join(" "),
            user_matching: s.user_matching.as_str(),
            enrollment_flow: s.enrollment_flow.clone().unwrap_or_default(),
            group_sync_mode: s.group_sync.mode.as_str(),
            group_sync_parent: s.group_sync.parent.clone().unwrap_or_default(),
            enabled: s.enabled,
            has_secret: s.client_secret_sealed.is_some(),
        }
    }

    /// The values of a submitted form (`kind` checked already).
    fn typed(form: &FormData, kind: &'static str, has_secret: bool) -> Self {
        let text = |name: &str| form.get(name).trim().to_owned();
        let inputs = URL_INPUTS
            .iter()
            .map(|(name, _, _)| *name)
            .chain(CLAIM_INPUTS.iter().map(|(name, _)| *name))
            .map(|name| (name, text(name)))
            .collect();
        let pick = |name: &str, options: &[&'static str]| {
            let value = form.get(name);
            options.iter().copied().find(|o| *o == value).unwrap_or("")
        };
        Self {
            slug: text("slug"),
            name: text("name"),
            kind,
            inputs,
            client_id: text("client_id"),
            scopes: text("scopes"),
            user_matching: pick(
                "user_matching",
                &["identifier", "email_link", "username_link", "deny"],
            ),
            enrollment_flow: text("enrollment_flow"),
            group_sync_mode: pick("group_sync_mode", &["off", "create", "existing"]),
            group_sync_parent: text("group_sync_parent"),
            enabled: form.checked("enabled"),
            has_secret,
        }
    }

    fn input(&self, name: &str) -> &str {
        self.inputs
            .iter()
            .find(|(n, _)| *n == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// The changes these values make: every field of the form, so an edit is the whole
    /// source; `secret` is the typed secret (`None`: keep) or `Some(None)` to remove it.
    fn changes(&self, secret: Option<Option<String>>) -> Result<SourceChanges, AdminError> {
        let url = |name: &str| Some(Some(self.input(name).to_owned()).filter(|v| !v.is_empty()));
        let claim = |name: &str| Some(self.input(name).to_owned()).filter(|v| !v.is_empty());
        let user_matching = UserMatching::parse(self.user_matching)?;
        let group_sync_mode = GroupSyncMode::parse(self.group_sync_mode)
            .map_err(|e| AdminError::field("group_sync_mode", e.message))?;
        Ok(SourceChanges {
            name: Some(self.name.clone()),
            kind: Some(SourceKind::parse(self.kind)?),
            base_url: url("base_url"),
            discovery_url: url("discovery_url"),
            issuer: url("issuer"),
            authorize_url: url("authorize_url"),
            token_url: url("token_url"),
            userinfo_url: url("userinfo_url"),
            jwks_url: url("jwks_url"),
            claims: ClaimChanges {
                subject: claim("claims_subject"),
                username: claim("claims_username"),
                email: claim("claims_email"),
                email_verified: claim("claims_email_verified"),
                name: claim("claims_name"),
                groups: claim("claims_groups"),
            },
            client_id: Some(self.client_id.clone()),
            client_secret: secret,
            scopes: Some(self.scopes.split_whitespace().map(str::to_owned).collect()),
            user_matching: Some(user_matching),
            enrollment_flow: Some(Some(self.enrollment_flow.clone()).filter(|v| !v.is_empty())),
            group_sync_mode: Some(group_sync_mode),
            group_sync_parent: Some(Some(self.group_sync_parent.clone()).filter(|v| !v.is_empty())),
            enabled: Some(self.enabled),
        })
    }
}

fn claim_values(claims: &gatehouse_core::ClaimPaths) -> Vec<(&'static str, String)> {
    [
        ("claims_subject", &claims.subject),
        ("claims_username", &claims.username),
        ("claims_email", &claims.email),
        ("claims_email_verified", &claims.email_verified),
        ("claims_name", &claims.name),
        ("claims_groups", &claims.groups),
    ]
    .into_iter()
    .map(|(name, value)| (name, value.clone()))
    .collect()
}

/// Every field of the form that shows its own error, for [`FieldErrors::others`].
const SHOWN: &str = "slug,name,client_id,client_secret,scopes,user_matching,enrollment_flow,\
group_sync_mode,group_sync_parent,base_url,discovery_url,issuer,authorize_url,token_url,\
jwks_url,userinfo_url,claims_subject,claims_username,claims_email,claims_email_verified,\
claims_name,claims_groups";

/// One text input of the form.
struct Input {
    name: &'static str,
    label: &'static str,
    note: &'static str,
    value: String,
    error: String,
    required: bool,
}

#[derive(Template)]
#[template(path = "admin/source_form.html")]
struct FormPage {
    shell: super::Shell,
    heading: String,
    action: String,
    button: &'static str,
    cancel: String,
    change_type: String,
    is_new: bool,
    kind_label: &'static str,
    values: SourceValues,
    primary: Vec<Input>,
    advanced: Vec<Input>,
    advanced_open: bool,
    errors: FieldErrors,
    /// The fields that show their own errors (the others are listed at the top).
    shown: &'static str,
}

impl FormPage {
    fn build(ui: &AdminUi, values: SourceValues, errors: FieldErrors, is_new: bool) -> Self {
        let kind = values.kind;
        let (mut primary, mut advanced) = (Vec::new(), Vec::new());
        for (name, label, main_for) in URL_INPUTS {
            let main = main_for.contains(&kind);
            let input = Input {
                name,
                label,
                note: if main { url_note(kind, name) } else { "" },
                value: values.input(name).to_owned(),
                error: errors.of(name),
                required: main && matches!((kind, name), ("forgejo" | "gitea", "base_url")),
            };
            (if main { &mut primary } else { &mut advanced }).push(input);
        }
        for (name, label) in CLAIM_INPUTS {
            let input = Input {
                name,
                label,
                note: "",
                value: values.input(name).to_owned(),
                error: errors.of(name),
                required: false,
            };
            (if kind == "oauth2" {
                &mut primary
            } else {
                &mut advanced
            })
            .push(input);
        }
        let advanced_open = advanced.iter().any(|i| !i.error.is_empty());
        let (heading, action, button, cancel, change_type) = if is_new {
            (
                "New source".to_owned(),
                LIST.to_owned(),
                "Create source",
                LIST.to_owned(),
                format!("{LIST}new/"),
            )
        } else {
            let page = format!("{LIST}{}/", values.slug);
            (
                format!("Edit {}", values.name),
                format!("{page}edit/"),
                "Save",
                page.clone(),
                format!("{page}edit/?choose=type"),
            )
        };
        Self {
            shell: ui.shell(Section::Sources),
            heading,
            action,
            button,
            cancel,
            change_type,
            is_new,
            kind_label: type_label(kind),
            values,
            primary,
            advanced,
            advanced_open,
            errors,
            shown: SHOWN,
        }
    }
}

fn type_label(kind: &str) -> &'static str {
    TYPES
        .iter()
        .find(|(k, _)| *k == kind)
        .map_or("", |(_, label)| label)
}

/// `?type=` (and `?choose=type` on the edit page): which type's form to show.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct TypeParams {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    choose: Option<String>,
}

impl TypeParams {
    /// The chosen type, if it is one.
    fn kind(&self) -> Option<&'static str> {
        let wanted = self.kind.as_deref()?;
        TYPES.iter().map(|(k, _)| *k).find(|k| *k == wanted)
    }
}

#[derive(Template)]
#[template(path = "admin/source_types.html")]
struct TypesPage {
    shell: super::Shell,
    heading: String,
    action: String,
    choices: [(&'static str, &'static str); 5],
}

fn types_page(ui: &AdminUi, heading: String, action: String) -> Response {
    let page = TypesPage {
        shell: ui.shell(Section::Sources),
        heading,
        action,
        choices: TYPES,
    };
    ui.render(StatusCode::OK, &page)
}

/// `GET /if/admin/sources/new/`: first the type, then (`?type=`) the form for that type.
pub(crate) async fn new_form(ui: AdminUi, Query(params): Query<TypeParams>) -> Response {
    if let Err(error) = ui.caller.require_write(AdminArea::Sources) {
        return ui.error(error);
    }
    let Some(kind) = params.kind() else {
        return types_page(&ui, "New source".into(), format!("{LIST}new/"));
    };
    let page = FormPage::build(&ui, SourceValues::new(kind), FieldErrors::default(), true);
    ui.render(StatusCode::OK, &page)
}

/// The submitted type, or the 400 page.
fn submitted_kind(ui: &AdminUi, form: &FormData) -> Result<&'static str, Box<Response>> {
    let params = TypeParams {
        kind: Some(form.get("type").to_owned()),
        choose: None,
    };
    params
        .kind()
        .ok_or_else(|| Box::new(ui.error(AdminError::field("type", "choose a source type"))))
}

/// The form again with the messages of a refused change next to their fields.
fn refused(ui: &AdminUi, values: SourceValues, error: AdminError, is_new: bool) -> Response {
    let error = match error {
        AdminError::Invalid(fields) => AdminError::Invalid(
            fields
                .into_iter()
                .map(|(field, messages)| (field.replace('.', "_"), messages))
                .collect(),
        ),
        other => other,
    };
    match FieldErrors::from_error(error) {
        Ok(errors) => {
            let page = FormPage::build(ui, values, errors, is_new);
            ui.render(StatusCode::BAD_REQUEST, &page)
        }
        Err(other) => ui.error(other),
    }
}

/// The typed secret: `None` when left empty.
fn typed_secret(form: &FormData) -> Option<String> {
    Some(form.get("client_secret").to_owned()).filter(|s| !s.is_empty())
}

/// `POST /if/admin/sources/`: creates the source and shows its page with the callback URL.
pub(crate) async fn create(ui: AdminUi, form: FormData) -> Response {
    if let Err(page) = ui.check_csrf(&form) {
        return *page;
    }
    let kind = match submitted_kind(&ui, &form) {
        Ok(kind) => kind,
        Err(page) => return *page,
    };
    let values = SourceValues::typed(&form, kind, false);
    let outcome = async {
        ui.caller.require_write(AdminArea::Sources)?;
        let changes = values.changes(None)?;
        let mut settings = NewSource::new(
            values.slug.clone(),
            values.name.clone(),
            SourceKind::parse(kind)?,
            values.client_id.clone(),
        );
        changes.apply_to(&mut settings);
        service::create(&ui.services, &ui.caller, settings, typed_secret(&form)).await
    }
    .await;
    match outcome {
        Ok(source) => see_other(&format!("{LIST}{}/?done=created", source.slug())),
        Err(error) => refused(&ui, values, error, true),
    }
}

#[derive(Template)]
#[template(path = "admin/source.html")]
struct DetailPage {
    shell: super::Shell,
    source: Source,
    callback_url: String,
    endpoints: Vec<(&'static str, String)>,
    notice: Option<&'static str>,
    can_write: bool,
}

fn notice(done: Option<&str>) -> Option<&'static str> {
    Some(match done? {
        "created" => "Source created. Register the callback URL below at the upstream.",
        "saved" => "Changes saved.",
        _ => return None,
    })
}

/// `GET /if/admin/sources/{slug}/`: a source's settings and the callback URL to register.
pub(crate) async fn show(
    ui: AdminUi,
    Path(slug): Path<String>,
    Query(done): Query<super::users::Done>,
) -> Response {
    let source = match find(&ui, &slug).await {
        Ok(source) => source,
        Err(error) => return ui.error(error),
    };
    let values = SourceValues::of(&source);
    let endpoints = URL_INPUTS
        .iter()
        .map(|(name, label, _)| (*label, values.input(name).to_owned()))
        .filter(|(_, value)| !value.is_empty())
        .collect();
    let page = DetailPage {
        shell: ui.shell(Section::Sources),
        callback_url: service::callback_url(&ui.services, &source),
        endpoints,
        source,
        notice: notice(done.done.as_deref()),
        can_write: ui.can_write(AdminArea::Sources),
    };
    ui.render(StatusCode::OK, &page)
}

/// `GET /if/admin/sources/{slug}/edit/`: the form with the stored values; `?type=` shows it
/// for another type, `?choose=type` offers the types.
pub(crate) async fn edit_form(
    ui: AdminUi,
    Path(slug): Path<String>,
    Query(params): Query<TypeParams>,
) -> Response {
    if let Err(error) = ui.caller.require_write(AdminArea::Sources) {
        return ui.error(error);
    }
    let source = match find(&ui, &slug).await {
        Ok(source) => source,
        Err(error) => return ui.error(error),
    };
    if params.choose.is_some() {
        return types_page(
            &ui,
            format!("Type of {}", source.settings.name),
            format!("{LIST}{}/edit/", source.slug()),
        );
    }
    let mut values = SourceValues::of(&source);
    if let Some(kind) = params.kind() {
        values.kind = kind;
    }
    let page = FormPage::build(&ui, values, FieldErrors::default(), false);
    ui.render(StatusCode::OK, &page)
}

/// `POST /if/admin/sources/{slug}/edit/`: saves the whole form (the secret only when typed,
/// or removed when asked).
pub(crate) async fn update(ui: AdminUi, Path(slug): Path<String>, form: FormData) -> Response {
    if let Err(page) = ui.check_csrf(&form) {
        return *page;
    }
    let kind = match submitted_kind(&ui, &form) {
        Ok(kind) => kind,
        Err(page) => return *page,
    };
    let source = match find(&ui, &slug).await {
        Ok(source) => source,
        Err(error) => return ui.error(error),
    };
    let mut values =
        SourceValues::typed(&form, kind, source.settings.client_secret_sealed.is_some());
    values.slug = source.slug().to_owned();
    let secret = match typed_secret(&form) {
        Some(secret) => Some(Some(secret)),
        None if form.checked("clear_secret") => Some(None),
        None => None,
    };
    let outcome = async {
        let changes = values.changes(secret)?;
        service::update(&ui.services, &ui.caller, source.slug(), changes).await
    }
    .await;
    match outcome {
        Ok(saved) => see_other(&format!("{LIST}{}/?done=saved", saved.slug())),
        Err(error) => refused(&ui, values, error, false),
    }
}

/// `POST /if/admin/sources/{slug}/delete/`: deletes the source and its links once confirmed.
pub(crate) async fn delete(ui: AdminUi, Path(slug): Path<String>, form: FormData) -> Response {
    if let Err(page) = ui.check_csrf(&form) {
        return *page;
    }
    let source = match find(&ui, &slug).await {
        Ok(source) => source,
        Err(error) => return ui.error(error),
    };
    let confirm = Confirm {
        section: Section::Sources,
        heading: "Delete source",
        message: format!(
            "Delete {} and every account linked through it? People who signed in only with it can no longer sign in.",
            source.settings.name
        ),
        action: format!("{LIST}{}/delete/", source.slug()),
        button: "Delete source",
        cancel: format!("{LIST}{}/", source.slug()),
    };
    ui.confirmed(
        &form,
        confirm,
        service::delete(&ui.services, &ui.caller, source.slug()),
        LIST,
    )
    .await
}

/// `POST /if/admin/users/{id}/connections/remove/`: removes the user's link at source
/// `source` once confirmed (refused when it is the user's last way to sign in).
pub(crate) async fn remove_connection(
    ui: AdminUi,
    Path(id): Path<String>,
    form: FormData,
) -> Response {
    let id: UserId = match super::users::user_id(&ui, &id, &form) {
        Ok(id) => id,
        Err(page) => return *page,
    };
    let user = match user_service::get(&ui.services, &ui.caller, id).await {
        Ok(user) => user,
        Err(error) => return ui.error(error),
    };
    let slug = form.get("source").to_owned();
    let page = format!("/if/admin/users/{id}/");
    let confirm = Confirm {
        section: Section::Users,
        heading: "Remove linked account",
        message: format!(
            "Remove {}'s linked account at {slug}? They can no longer sign in with it until they link it again.",
            user.username
        ),
        action: format!("{page}connections/remove/"),
        button: "Remove linked account",
        cancel: page.clone(),
    };
    ui.confirmed(
        &form,
        confirm,
        service::remove_connection(&ui.services, &ui.caller, id, &slug),
        &format!("{page}?done=unlinked"),
    )
    .await
}

/// The source with `slug`; a slug no source could have is unknown without a database round
/// trip.
async fn find(ui: &AdminUi, slug: &str) -> Result<Source, AdminError> {
    crate::web::api::path_slug(slug, "source").map_err(|_| AdminError::not_found("source"))?;
    service::get(&ui.services, &ui.caller, slug).await
}
