//! Admin pages for enrollment invitations: the list (searchable by flow, email and
//! creator, paginated; never a link), the creation form (enrollment flow, fixed email
//! address, groups to join, expiry, single or multiple use) that ends on the link shown
//! this once, and deletion after a confirmation. Every change goes through
//! [`crate::admin::invitations`].

use super::events::parse_time;
use super::users::{Done, names};
use super::{AdminUi, Confirm, FieldErrors, FormData, ListParams, Pager, Section, expiry, when};
use crate::admin::{AdminError, invitations as service};
use crate::invitations::InvitationRequest;
use askama::Template;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use gatehouse_core::{AdminArea, Invitation, TokenId};

const LIST: &str = "/if/admin/invitations/";

/// One row of the invitations list.
struct InvitationRow {
    id: String,
    flow: String,
    email: String,
    groups: String,
    uses: String,
    expires: String,
    created: String,
    created_by: String,
}

fn email_of(invitation: &Invitation) -> String {
    invitation
        .fixed_data
        .get("email")
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_owned()
}

impl From<Invitation> for InvitationRow {
    fn from(i: Invitation) -> Self {
        Self {
            id: i.id.to_string(),
            email: email_of(&i),
            groups: i.groups.join(", "),
            uses: if i.single_use {
                format!("single use, used {}", i.use_count)
            } else {
                format!("multiple use, used {}", i.use_count)
            },
            expires: expiry(i.expires_at),
            created: when(i.created_at),
            created_by: i.created_by_name,
            flow: i.flow_slug,
        }
    }
}

#[derive(Template)]
#[template(path = "admin/invitations.html")]
struct ListPage {
    shell: super::Shell,
    pager: Pager,
    rows: Vec<InvitationRow>,
    notice: Option<&'static str>,
    can_write: bool,
}

/// `GET /if/admin/invitations/`: invitations, oldest first, searchable.
pub(crate) async fn list(
    ui: AdminUi,
    Query(params): Query<ListParams>,
    Query(done): Query<Done>,
) -> Response {
    let query = params.query("created");
    let page = match service::list(&ui.services, &ui.caller, &query).await {
        Ok(page) => page,
        Err(error) => return ui.error(error),
    };
    let pager = Pager::of(LIST, "created", &query, &page);
    let page = ListPage {
        shell: ui.shell(Section::Invitations),
        pager,
        rows: page.items.into_iter().map(InvitationRow::from).collect(),
        notice: match done.done.as_deref() {
            Some("deleted") => Some("Invitation deleted."),
            _ => None,
        },
        can_write: ui.can_write(AdminArea::Invitations),
    };
    ui.render(StatusCode::OK, &page)
}

/// The creation form's values, kept when it comes back with errors.
#[derive(Default)]
struct NewInvitationValues {
    flow: String,
    email: String,
    groups: String,
    expires_at: String,
    multi_use: bool,
}

#[derive(Template)]
#[template(path = "admin/invitation_new.html")]
struct NewPage {
    shell: super::Shell,
    flows: Vec<String>,
    values: NewInvitationValues,
    errors: FieldErrors,
}

impl NewPage {
    /// The form, with the enrollment flows to choose from.
    async fn of(
        ui: &AdminUi,
        values: NewInvitationValues,
        errors: FieldErrors,
    ) -> Result<Self, AdminError> {
        Ok(Self {
            shell: ui.shell(Section::Invitations),
            flows: service::enrollment_flows(&ui.services, &ui.caller).await?,
            values,
            errors,
        })
    }
}

/// `GET /if/admin/invitations/new/`: the creation form.
pub(crate) async fn new_form(ui: AdminUi) -> Response {
    if let Err(error) = ui.caller.require_write(AdminArea::Invitations) {
        return ui.error(error);
    }
    let values = NewInvitationValues {
        flow: gatehouse_flows::defaults::DEFAULT_ENROLLMENT_FLOW.to_owned(),
        ..NewInvitationValues::default()
    };
    match NewPage::of(&ui, values, FieldErrors::default()).await {
        Ok(page) => ui.render(StatusCode::OK, &page),
        Err(error) => ui.error(error),
    }
}

#[derive(Template)]
#[template(path = "admin/invitation_created.html")]
struct CreatedPage {
    shell: super::Shell,
    row: InvitationRow,
    link: String,
}

/// `POST /if/admin/invitations/`: creates the invitation and shows its link this once.
pub(crate) async fn create(ui: AdminUi, form: FormData) -> Response {
    if let Err(page) = ui.check_csrf(&form) {
        return *page;
    }
    let values = NewInvitationValues {
        flow: form.get("flow").trim().to_owned(),
        email: form.get("email").trim().to_owned(),
        groups: form.get("groups").to_owned(),
        expires_at: form.get("expires_at").trim().to_owned(),
        multi_use: form.checked("multi_use"),
    };
    let outcome = async {
        ui.caller.require_write(AdminArea::Invitations)?;
        let request = InvitationRequest {
            flow: Some(values.flow.clone()).filter(|f| !f.is_empty()),
            email: Some(values.email.clone()).filter(|e| !e.is_empty()),
            groups: names(&values.groups),
            expires_at: parse_time(&values.expires_at, "expires_at")?,
            multi_use: values.multi_use,
            created_by: None,
        };
        service::create(&ui.services, &ui.caller, request).await
    }
    .await;
    match outcome {
        Ok(issued) => {
            let page = CreatedPage {
                shell: ui.shell(Section::Invitations),
                row: issued.invitation.into(),
                link: issued.link,
            };
            ui.render(StatusCode::CREATED, &page)
        }
        Err(error) => match FieldErrors::from_error(error) {
            Ok(errors) => match NewPage::of(&ui, values, errors).await {
                Ok(page) => ui.render(StatusCode::BAD_REQUEST, &page),
                Err(error) => ui.error(error),
            },
            Err(other) => ui.error(other),
        },
    }
}

/// `POST /if/admin/invitations/{id}/delete/`: deletes the invitation once confirmed.
pub(crate) async fn delete(ui: AdminUi, Path(id): Path<String>, form: FormData) -> Response {
    let Ok(id) = id.parse::<TokenId>() else {
        return ui.error(AdminError::not_found("invitation"));
    };
    if let Err(page) = ui.check_csrf(&form) {
        return *page;
    }
    let confirm = Confirm {
        section: Section::Invitations,
        heading: "Delete invitation",
        message:
            "Delete this invitation? Its link stops working; accounts already created with it stay."
                .into(),
        action: format!("{LIST}{id}/delete/"),
        button: "Delete invitation",
        cancel: LIST.into(),
    };
    ui.confirmed(
        &form,
        confirm,
        service::delete(&ui.services, &ui.caller, id),
        &format!("{LIST}?done=deleted"),
    )
    .await
}
