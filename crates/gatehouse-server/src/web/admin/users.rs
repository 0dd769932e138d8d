//! Admin pages for users: the searchable list, the creation form, and a user's page (edit,
//! password, recovery email, group memberships, sessions, MFA devices, deletion). Every
//! change goes through [`crate::admin::users`] or [`crate::admin::groups`].

use super::{AdminUi, Confirm, FieldErrors, FormData, ListParams, Pager, Section, see_other, when};
use crate::admin::users::UserDraft;
use crate::admin::{
    AdminError, groups as group_service, sources as source_service, users as service,
};
use askama::Template;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use gatehouse_core::{
    AdminArea, DeviceId, DeviceKind, GroupId, SessionId, User, UserId, UserPatch, UserType,
};
use serde::Deserialize;

const LIST: &str = "/if/admin/users/";

/// One row of the users list.
struct UserRow {
    id: String,
    username: String,
    name: String,
    email: String,
    active: bool,
    last_login: String,
}

#[derive(Template)]
#[template(path = "admin/users.html")]
struct ListPage {
    shell: super::Shell,
    pager: Pager,
    rows: Vec<UserRow>,
    can_write: bool,
}

/// `GET /if/admin/users/`: users by username, searchable (username, name, email), paged.
pub(crate) async fn list(ui: AdminUi, Query(params): Query<ListParams>) -> Response {
    let query = params.query("username");
    let page = match service::list(&ui.services, &ui.caller, &query).await {
        Ok(page) => page,
        Err(error) => return ui.error(error),
    };
    let pager = Pager::of(LIST, "username", &query, &page);
    let rows = page
        .items
        .into_iter()
        .map(|u| UserRow {
            id: u.id.to_string(),
            email: u.email.unwrap_or_default(),
            active: u.active,
            last_login: u.last_login.map(when).unwrap_or_else(|| "never".into()),
            username: u.username,
            name: u.name,
        })
        .collect();
    let page = ListPage {
        shell: ui.shell(Section::Users),
        pager,
        rows,
        can_write: ui.can_write(AdminArea::Users),
    };
    ui.render(StatusCode::OK, &page)
}

/// The creation form's values, kept when it is shown again with errors.
#[derive(Default)]
struct NewUserValues {
    username: String,
    name: String,
    email: String,
    groups: String,
    active: bool,
}

#[derive(Template)]
#[template(path = "admin/user_new.html")]
struct NewPage {
    shell: super::Shell,
    values: NewUserValues,
    errors: FieldErrors,
}

/// `GET /if/admin/users/new/`: the creation form.
pub(crate) async fn new_form(ui: AdminUi) -> Response {
    if let Err(error) = ui.caller.require_write(AdminArea::Users) {
        return ui.error(error);
    }
    let page = NewPage {
        shell: ui.shell(Section::Users),
        values: NewUserValues {
            active: true,
            ..NewUserValues::default()
        },
        errors: FieldErrors::default(),
    };
    ui.render(StatusCode::OK, &page)
}

/// `POST /if/admin/users/`: creates a user, then shows its page.
pub(crate) async fn create(ui: AdminUi, form: FormData) -> Response {
    if let Err(page) = ui.check_csrf(&form) {
        return *page;
    }
    let values = NewUserValues {
        username: form.get("username").trim().to_owned(),
        name: form.get("name").trim().to_owned(),
        email: form.get("email").trim().to_owned(),
        groups: form.get("groups").to_owned(),
        active: form.checked("active"),
    };
    let draft = UserDraft {
        username: values.username.clone(),
        name: values.name.clone(),
        email: form.optional("email"),
        email_verified: false,
        active: values.active,
        user_type: UserType::Internal,
        attributes: serde_json::Map::new(),
        groups: names(&values.groups),
        password: Some(form.get("password").to_owned()).filter(|p| !p.is_empty()),
    };
    match service::create(&ui.services, &ui.caller, draft).await {
        Ok(user) => see_other(&format!("{LIST}{}/?done=created", user.id)),
        Err(error) => match FieldErrors::from_error(error) {
            Ok(errors) => {
                let page = NewPage {
                    shell: ui.shell(Section::Users),
                    values,
                    errors,
                };
                ui.render(StatusCode::BAD_REQUEST, &page)
            }
            Err(other) => ui.error(other),
        },
    }
}

/// Splits a comma-separated list of names.
pub(super) fn names(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The edit form's values.
struct EditValues {
    name: String,
    email: String,
    active: bool,
}

/// A group line on a user's page.
struct GroupLine {
    id: String,
    name: String,
}

/// A session line on a user's page.
struct SessionLine {
    id: String,
    started: String,
    expires: String,
    client: String,
}

/// A device line on a user's page.
struct DeviceLine {
    id: String,
    name: String,
    kind: &'static str,
    added: String,
}

/// A linked upstream account on a user's page.
struct ConnectionLine {
    source: String,
    upstream: String,
    last_login: String,
}

/// Errors of the forms on a user's page, each shown next to its form.
#[derive(Default)]
struct DetailErrors {
    edit: FieldErrors,
    password: FieldErrors,
    group: FieldErrors,
}

#[derive(Template)]
#[template(path = "admin/user.html")]
struct DetailPage {
    shell: super::Shell,
    user: User,
    id: String,
    edit: EditValues,
    errors: DetailErrors,
    notice: Option<&'static str>,
    groups: Vec<GroupLine>,
    sessions: Vec<SessionLine>,
    devices: Vec<DeviceLine>,
    connections: Vec<ConnectionLine>,
    /// Whether the caller may open source pages (to link the source's name).
    can_read_sources: bool,
    can_write: bool,
}

/// `?done=` after a change: which notice the page shows (fixed texts, nothing reflected).
#[derive(Deserialize)]
pub(crate) struct Done {
    #[serde(default)]
    pub(super) done: Option<String>,
}

fn notice(done: Option<&str>) -> Option<&'static str> {
    Some(match done? {
        "created" => "User created.",
        "saved" => "Changes saved.",
        "password" => "Password set.",
        "recovery" => "A recovery link is on its way to the user's email address.",
        "joined" => "Added to the group.",
        "left" => "Removed from the group.",
        "revoked" => "Session ended.",
        "removed" => "Device removed.",
        "unlinked" => "Linked account removed.",
        _ => return None,
    })
}

/// `GET /if/admin/users/{id}/`: a user with its groups, sessions and devices.
pub(crate) async fn show(
    ui: AdminUi,
    Path(id): Path<String>,
    Query(done): Query<Done>,
) -> Response {
    let Ok(id) = id.parse::<UserId>() else {
        return ui.error(AdminError::not_found("user"));
    };
    detail(
        &ui,
        id,
        None,
        DetailErrors::default(),
        notice(done.done.as_deref()),
    )
    .await
}

/// Renders a user's page, with `edit` values and `errors` when a form came back invalid.
async fn detail(
    ui: &AdminUi,
    id: UserId,
    edit: Option<EditValues>,
    errors: DetailErrors,
    notice: Option<&'static str>,
) -> Response {
    let loaded = async {
        let user = service::get(&ui.services, &ui.caller, id).await?;
        let groups = service::groups(&ui.services, &ui.caller, id).await?;
        let sessions = service::sessions(&ui.services, &ui.caller, id).await?;
        let devices = service::devices(&ui.services, &ui.caller, id).await?;
        let connections = source_service::connections(&ui.services, &ui.caller, id).await?;
        Ok::<_, AdminError>((user, groups, sessions, devices, connections))
    }
    .await;
    let (user, groups, sessions, devices, connections) = match loaded {
        Ok(loaded) => loaded,
        Err(error) => return ui.error(error),
    };
    let status = if errors.edit.is_empty() && errors.password.is_empty() && errors.group.is_empty()
    {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    let page = DetailPage {
        shell: ui.shell(Section::Users),
        id: user.id.to_string(),
        edit: edit.unwrap_or_else(|| EditValues {
            name: user.name.clone(),
            email: user.email.clone().unwrap_or_default(),
            active: user.active,
        }),
        user,
        errors,
        notice,
        groups: groups
            .into_iter()
            .map(|g| GroupLine {
                id: g.id.to_string(),
                name: g.name,
            })
            .collect(),
        sessions: sessions
            .into_iter()
            .map(|s| SessionLine {
                id: s.id.to_string(),
                started: when(s.created_at),
                expires: when(s.expires_at),
                client: s.client_ip.unwrap_or_else(|| "unknown address".into()),
            })
            .collect(),
        devices: devices
            .into_iter()
            .map(|d| DeviceLine {
                id: d.id.to_string(),
                name: d.name,
                kind: match d.kind {
                    DeviceKind::Totp => "authenticator app",
                    DeviceKind::Webauthn => "passkey",
                    DeviceKind::Static => "recovery codes",
                },
                added: when(d.created_at),
            })
            .collect(),
        connections: connections
            .into_iter()
            .map(|c| ConnectionLine {
                upstream: c.upstream_username.unwrap_or(c.upstream_id),
                source: c.source_slug,
                last_login: c.last_login.map(when).unwrap_or_else(|| "never".into()),
            })
            .collect(),
        can_read_sources: ui.caller.rights.can_read(AdminArea::Sources),
        can_write: ui.can_write(AdminArea::Users),
    };
    ui.render(status, &page)
}

/// For a form posted to a user's page: the path id (else the 404 page), once the form's CSRF
/// token checks out (else the 403 page).
pub(super) fn user_id(ui: &AdminUi, id: &str, form: &FormData) -> Result<UserId, Box<Response>> {
    let id = id
        .parse()
        .map_err(|_| Box::new(ui.error(AdminError::not_found("user"))))?;
    ui.check_csrf(form)?;
    Ok(id)
}

/// `POST /if/admin/users/{id}/`: saves name, email and whether the user is active.
pub(crate) async fn update(ui: AdminUi, Path(id): Path<String>, form: FormData) -> Response {
    let id = match user_id(&ui, &id, &form) {
        Ok(id) => id,
        Err(page) => return *page,
    };
    let edit = EditValues {
        name: form.get("name").trim().to_owned(),
        email: form.get("email").trim().to_owned(),
        active: form.checked("active"),
    };
    let patch = UserPatch {
        name: Some(edit.name.clone()),
        email: Some(form.optional("email")),
        active: Some(edit.active),
        ..UserPatch::default()
    };
    match service::update(&ui.services, &ui.caller, id, patch).await {
        Ok(_) => see_other(&format!("{LIST}{id}/?done=saved")),
        Err(error) => match FieldErrors::from_error(error) {
            Ok(edit_errors) => {
                let errors = DetailErrors {
                    edit: edit_errors,
                    ..DetailErrors::default()
                };
                detail(&ui, id, Some(edit), errors, None).await
            }
            Err(other) => ui.error(other),
        },
    }
}

/// `POST /if/admin/users/{id}/password/`: sets a password (checked against the policy).
pub(crate) async fn set_password(ui: AdminUi, Path(id): Path<String>, form: FormData) -> Response {
    let id = match user_id(&ui, &id, &form) {
        Ok(id) => id,
        Err(page) => return *page,
    };
    let password = form.get("password").to_owned();
    let outcome = if password.is_empty() {
        Err(AdminError::field("password", "enter the new password"))
    } else {
        service::set_password(&ui.services, &ui.caller, id, password).await
    };
    match outcome {
        Ok(()) => see_other(&format!("{LIST}{id}/?done=password")),
        Err(error) => match FieldErrors::from_error(error) {
            Ok(password) => {
                let errors = DetailErrors {
                    password,
                    ..DetailErrors::default()
                };
                detail(&ui, id, None, errors, None).await
            }
            Err(other) => ui.error(other),
        },
    }
}

/// `POST /if/admin/users/{id}/recovery/`: emails the user a recovery link.
pub(crate) async fn send_recovery(ui: AdminUi, Path(id): Path<String>, form: FormData) -> Response {
    let id = match user_id(&ui, &id, &form) {
        Ok(id) => id,
        Err(page) => return *page,
    };
    match service::send_recovery(&ui.services, &ui.caller, id).await {
        Ok(()) => see_other(&format!("{LIST}{id}/?done=recovery")),
        Err(error) => ui.error(error),
    }
}

/// `POST /if/admin/users/{id}/delete/`: deletes the user once confirmed.
pub(crate) async fn delete(ui: AdminUi, Path(id): Path<String>, form: FormData) -> Response {
    let id = match user_id(&ui, &id, &form) {
        Ok(id) => id,
        Err(page) => return *page,
    };
    let user = match service::get(&ui.services, &ui.caller, id).await {
        Ok(user) => user,
        Err(error) => return ui.error(error),
    };
    let confirm = Confirm {
        section: Section::Users,
        heading: "Delete user",
        message: format!(
            "Delete {} with its group memberships, sessions, tokens and devices? This cannot be undone.",
            user.username
        ),
        action: format!("{LIST}{id}/delete/"),
        button: "Delete user",
        cancel: format!("{LIST}{id}/"),
    };
    ui.confirmed(
        &form,
        confirm,
        service::delete(&ui.services, &ui.caller, id),
        LIST,
    )
    .await
}

/// `POST /if/admin/users/{id}/groups/add/`: adds the user to the group named `group`.
pub(crate) async fn join_group(ui: AdminUi, Path(id): Path<String>, form: FormData) -> Response {
    let id = match user_id(&ui, &id, &form) {
        Ok(id) => id,
        Err(page) => return *page,
    };
    let outcome = async {
        let name = form.get("group").trim();
        if name.is_empty() {
            return Err(AdminError::field("group", "enter a group name"));
        }
        ui.caller.require_read(AdminArea::Groups)?;
        let group = ui
            .services
            .store
            .group_by_name(name)
            .await?
            .ok_or_else(|| AdminError::field("group", format!("no group named {name:?}")))?;
        group_service::add_member(&ui.services, &ui.caller, group.id, id).await
    }
    .await;
    match outcome {
        Ok(()) => see_other(&format!("{LIST}{id}/?done=joined")),
        Err(error) => match FieldErrors::from_error(error) {
            Ok(group) => {
                let errors = DetailErrors {
                    group,
                    ..DetailErrors::default()
                };
                detail(&ui, id, None, errors, None).await
            }
            Err(other) => ui.error(other),
        },
    }
}

/// `POST /if/admin/users/{id}/groups/remove/`: takes the user out of group `group` (an id)
/// once confirmed.
pub(crate) async fn leave_group(ui: AdminUi, Path(id): Path<String>, form: FormData) -> Response {
    let id = match user_id(&ui, &id, &form) {
        Ok(id) => id,
        Err(page) => return *page,
    };
    let Ok(group_id) = form.get("group").parse::<GroupId>() else {
        return ui.error(AdminError::not_found("group"));
    };
    let names = async {
        let user = service::get(&ui.services, &ui.caller, id).await?;
        let group = group_service::get(&ui.services, &ui.caller, group_id).await?;
        Ok::<_, AdminError>((user.username, group.name))
    }
    .await;
    let (username, group) = match names {
        Ok(names) => names,
        Err(error) => return ui.error(error),
    };
    let confirm = Confirm {
        section: Section::Users,
        heading: "Remove from group",
        message: format!("Remove {username} from {group}?"),
        action: format!("{LIST}{id}/groups/remove/"),
        button: "Remove from group",
        cancel: format!("{LIST}{id}/"),
    };
    ui.confirmed(
        &form,
        confirm,
        group_service::remove_member(&ui.services, &ui.caller, group_id, id),
        &format!("{LIST}{id}/?done=left"),
    )
    .await
}

/// `POST /if/admin/users/{id}/sessions/revoke/`: ends session `session` once confirmed.
pub(crate) async fn revoke_session(
    ui: AdminUi,
    Path(id): Path<String>,
    form: FormData,
) -> Response {
    let id = match user_id(&ui, &id, &form) {
        Ok(id) => id,
        Err(page) => return *page,
    };
    let Ok(session) = form.get("session").parse::<SessionId>() else {
        return ui.error(AdminError::not_found("session"));
    };
    let confirm = Confirm {
        section: Section::Users,
        heading: "End session",
        message: "End this session? The browser using it is signed out at its next request.".into(),
        action: format!("{LIST}{id}/sessions/revoke/"),
        button: "End session",
        cancel: format!("{LIST}{id}/"),
    };
    ui.confirmed(
        &form,
        confirm,
        service::revoke_session(&ui.services, &ui.caller, id, session),
        &format!("{LIST}{id}/?done=revoked"),
    )
    .await
}

/// `POST /if/admin/users/{id}/devices/remove/`: removes MFA device `device` once confirmed.
pub(crate) async fn remove_device(ui: AdminUi, Path(id): Path<String>, form: FormData) -> Response {
    let id = match user_id(&ui, &id, &form) {
        Ok(id) => id,
        Err(page) => return *page,
    };
    let Ok(device) = form.get("device").parse::<DeviceId>() else {
        return ui.error(AdminError::not_found("device"));
    };
    let confirm = Confirm {
        section: Section::Users,
        heading: "Remove device",
        message: "Remove this second factor? The user can no longer sign in with it.".into(),
        action: format!("{LIST}{id}/devices/remove/"),
        button: "Remove device",
        cancel: format!("{LIST}{id}/"),
    };
    ui.confirmed(
        &form,
        confirm,
        service::remove_device(&ui.services, &ui.caller, id, device),
        &format!("{LIST}{id}/?done=removed"),
    )
    .await
}
