//! The admin UI (`/if/admin/`): server-rendered pages over the same [`crate::admin`] services
//! the REST API calls, so the browser is held to exactly the API's rules (roles, privileged
//! objects, audit events). This module holds what every page shares: who is signed in and
//! with which rights, the layout's navigation, CSRF on every form, the server-side
//! confirmation of destructive actions, pagination, and error pages.

mod applications;
mod events;
mod flows;
mod groups;
mod invitations;
mod keys;
mod overview;
mod sources;
mod tokens;
mod users;

use super::client::ClientIp;
use super::flow::LOGIN_PATH;
use super::{cookies, csrf, pages, session};
use crate::admin::{AdminError, Caller};
use crate::services::Services;
use askama::Template;
use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::header::{CACHE_CONTROL, LOCATION, USER_AGENT};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use gatehouse_core::{AdminArea, AuditContext, ListQuery, Page};
use std::collections::BTreeMap;

/// The admin UI's routes.
pub(crate) fn routes() -> Router<Services> {
    Router::new()
        .route("/if/admin/", get(overview::show))
        .route("/if/admin/users/", get(users::list).post(users::create))
        .route("/if/admin/users/new/", get(users::new_form))
        .route(
            "/if/admin/users/{id}/",
            get(users::show).post(users::update),
        )
        .route("/if/admin/users/{id}/password/", post(users::set_password))
        .route("/if/admin/users/{id}/recovery/", post(users::send_recovery))
        .route("/if/admin/users/{id}/delete/", post(users::delete))
        .route("/if/admin/users/{id}/groups/add/", post(users::join_group))
        .route(
            "/if/admin/users/{id}/groups/remove/",
            post(users::leave_group),
        )
        .route(
            "/if/admin/users/{id}/sessions/revoke/",
            post(users::revoke_session),
        )
        .route(
            "/if/admin/users/{id}/devices/remove/",
            post(users::remove_device),
        )
        .route("/if/admin/groups/", get(groups::list).post(groups::create))
        .route("/if/admin/groups/new/", get(groups::new_form))
        .route(
            "/if/admin/groups/{id}/",
            get(groups::show).post(groups::update),
        )
        .route("/if/admin/groups/{id}/delete/", post(groups::delete))
        .route(
            "/if/admin/groups/{id}/attributes/",
            post(groups::set_attributes),
        )
        .route(
            "/if/admin/groups/{id}/members/add/",
            post(groups::add_member),
        )
        .route(
            "/if/admin/groups/{id}/members/remove/",
            post(groups::remove_member),
        )
        .route(
            "/if/admin/applications/",
            get(applications::list).post(applications::create),
        )
        .route("/if/admin/applications/new/", get(applications::new_form))
        .route("/if/admin/applications/{slug}/", get(applications::show))
        .route(
            "/if/admin/applications/{slug}/delete/",
            post(applications::delete),
        )
        .route(
            "/if/admin/applications/{slug}/rotate-secret/",
            post(applications::rotate_secret),
        )
        .route(
            "/if/admin/users/{id}/connections/remove/",
            post(sources::remove_connection),
        )
        .route(
            "/if/admin/sources/",
            get(sources::list).post(sources::create),
        )
        .route("/if/admin/sources/new/", get(sources::new_form))
        .route("/if/admin/sources/{slug}/", get(sources::show))
        .route(
            "/if/admin/sources/{slug}/edit/",
            get(sources::edit_form).post(sources::update),
        )
        .route("/if/admin/sources/{slug}/delete/", post(sources::delete))
        .route("/if/admin/events/", get(events::list))
        .route("/if/admin/keys/", get(keys::list))
        .route("/if/admin/keys/rotate/", post(keys::rotate))
        .route("/if/admin/keys/import/", post(keys::import))
        .route("/if/admin/flows/", get(flows::list))
        .route("/if/admin/flows/{slug}/", get(flows::show))
        .route("/if/admin/tokens/", get(tokens::list).post(tokens::create))
        .route("/if/admin/tokens/new/", get(tokens::new_form))
        .route("/if/admin/tokens/{id}/delete/", post(tokens::delete))
        .route(
            "/if/admin/invitations/",
            get(invitations::list).post(invitations::create),
        )
        .route("/if/admin/invitations/new/", get(invitations::new_form))
        .route(
            "/if/admin/invitations/{id}/delete/",
            post(invitations::delete),
        )
}

/// The signed-in administrator of an admin page: the services' [`Caller`] (rights computed
/// at this request) and this browser's CSRF token. Without a session the browser is sent to
/// sign in and come back (`next`); a user without any administrative role gets a 403 page.
pub(crate) struct AdminUi {
    services: Services,
    caller: Caller,
    headers: HeaderMap,
    csrf: String,
    csrf_cookie: Option<String>,
}

impl FromRequestParts<Services> for AdminUi {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        services: &Services,
    ) -> Result<Self, Self::Rejection> {
        let found = session::current(services, &parts.headers)
            .await
            .map_err(|e| error_page(services, None, e.into()))?;
        let Some((_, user)) = found else {
            // After signing in, come back here; a POST cannot be replayed, so its page is
            // the GET of the same path.
            let next = parts
                .uri
                .path_and_query()
                .map_or("/if/admin/", |p| p.as_str());
            let next = if parts.method == axum::http::Method::GET {
                next
            } else {
                parts.uri.path()
            };
            return Err(see_other(&format!(
                "{LOGIN_PATH}?next={}",
                gatehouse_oidc::authorize::form_encode(next)
            )));
        };
        let audit = AuditContext {
            actor_id: None,
            actor: String::new(),
            client_ip: parts.extensions.get::<ClientIp>().map(ToString::to_string),
            user_agent: parts
                .headers
                .get(USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.chars().take(300).collect()),
        };
        let caller = Caller::resolve(services, user, audit)
            .await
            .map_err(|e| error_page(services, None, e))?;
        let (csrf, csrf_cookie) = csrf::form_token(services, &parts.headers);
        Ok(Self {
            services: services.clone(),
            caller,
            headers: parts.headers.clone(),
            csrf,
            csrf_cookie,
        })
    }
}

impl AdminUi {
    /// The layout's data for a page in `section`.
    fn shell(&self, section: Section) -> Shell {
        let rights = &self.caller.rights;
        let nav = Section::ALL
            .iter()
            .filter(|s| rights.can_read(s.area()))
            .map(|s| NavLink {
                href: s.href(),
                label: s.label(),
                current: *s == section,
            })
            .collect();
        Shell {
            title: self.services.config.branding.title.clone(),
            username: self.caller.user.username.clone(),
            csrf: self.csrf.clone(),
            nav,
            // The overview and the audit log are read-only for everyone: no banner there.
            read_only: !matches!(section, Section::Overview | Section::Events)
                && !rights.can_write(section.area()),
        }
    }

    /// Whether the caller may change objects in `area` (to show or hide write controls; the
    /// services refuse writes on their own either way).
    fn can_write(&self, area: AdminArea) -> bool {
        self.caller.rights.can_write(area)
    }

    /// Renders a page, setting the CSRF cookie if this browser had none yet. Admin pages are
    /// never cached: they show personal data and, once, secrets.
    fn render(&self, status: StatusCode, template: &impl Template) -> Response {
        let mut response = pages::render(status, template);
        if let Some(cookie) = &self.csrf_cookie {
            cookies::append(&mut response, cookie);
        }
        response
            .headers_mut()
            .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }

    /// The page for a failed service call.
    fn error(&self, error: AdminError) -> Response {
        let mut response = error_page(&self.services, Some(self.shell(Section::Overview)), error);
        if let Some(cookie) = &self.csrf_cookie {
            cookies::append(&mut response, cookie);
        }
        response
    }

    /// Checks a submitted form's CSRF token; a mismatch is a 403 page (boxed: the refusal
    /// is the rare path, and a whole `Response` would bloat every `Result` on the way).
    fn check_csrf(&self, form: &FormData) -> Result<(), Box<Response>> {
        if csrf::verify(&self.services, &self.headers, form.get("csrf")) {
            Ok(())
        } else {
            Err(Box::new(self.error(AdminError::Forbidden(
                "This form has expired. Go back, reload the page and try again.".into(),
            ))))
        }
    }

    /// For a destructive action: `None` once the form carries the confirmation, else the
    /// page asking for it, which posts the same fields back with `confirm=yes`. The check is
    /// on the server, so a forged or scripted single click never deletes anything.
    fn confirmation(&self, form: &FormData, request: Confirm<'_>) -> Option<Response> {
        if form.get("confirm") == "yes" {
            return None;
        }
        let fields = form
            .0
            .iter()
            .filter(|(name, _)| name != "csrf" && name != "confirm")
            .cloned()
            .collect();
        let page = ConfirmPage {
            shell: self.shell(request.section),
            heading: request.heading,
            message: request.message,
            action: request.action,
            button: request.button,
            cancel: request.cancel,
            fields,
        };
        Some(self.render(StatusCode::OK, &page))
    }
}

impl AdminUi {
    /// Runs the destructive `action` once the form carries the confirmation (see
    /// [`AdminUi::confirmation`]; until then nothing runs: futures are lazy), then sends the
    /// browser to `done`.
    async fn confirmed(
        &self,
        form: &FormData,
        confirm: Confirm<'_>,
        action: impl std::future::Future<Output = Result<(), AdminError>>,
        done: &str,
    ) -> Response {
        if let Some(page) = self.confirmation(form, confirm) {
            return page;
        }
        match action.await {
            Ok(()) => see_other(done),
            Err(error) => self.error(error),
        }
    }
}

/// What a confirmation page says and where it posts.
struct Confirm<'a> {
    section: Section,
    heading: &'a str,
    message: String,
    action: String,
    button: &'a str,
    cancel: String,
}

/// The admin sections, in navigation order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Section {
    Overview,
    Users,
    Groups,
    Applications,
    Tokens,
    Invitations,
    Keys,
    Flows,
    Events,
    Sources,
}

impl Section {
    const ALL: [Self; 10] = [
        Self::Overview,
        Self::Users,
        Self::Groups,
        Self::Applications,
        Self::Tokens,
        Self::Invitations,
        Self::Sources,
        Self::Keys,
        Self::Flows,
        Self::Events,
    ];

    fn area(self) -> AdminArea {
        match self {
            Self::Overview => AdminArea::Events,
            Self::Users => AdminArea::Users,
            Self::Groups => AdminArea::Groups,
            Self::Applications => AdminArea::Applications,
            Self::Tokens => AdminArea::Tokens,
            Self::Invitations => AdminArea::Invitations,
            Self::Keys => AdminArea::Keys,
            Self::Flows => AdminArea::Flows,
            Self::Events => AdminArea::Events,
            Self::Sources => AdminArea::Sources,
        }
    }

    fn href(self) -> &'static str {
        match self {
            Self::Overview => "/if/admin/",
            Self::Users => "/if/admin/users/",
            Self::Groups => "/if/admin/groups/",
            Self::Applications => "/if/admin/applications/",
            Self::Tokens => "/if/admin/tokens/",
            Self::Invitations => "/if/admin/invitations/",
            Self::Keys => "/if/admin/keys/",
            Self::Flows => "/if/admin/flows/",
            Self::Events => "/if/admin/events/",
            Self::Sources => "/if/admin/sources/",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::Overview => "Overview",
            Self::Users => "Users",
            Self::Groups => "Groups",
            Self::Applications => "Applications",
            Self::Tokens => "Tokens",
            Self::Invitations => "Invitations",
            Self::Keys => "Signing keys",
            Self::Flows => "Flows",
            Self::Events => "Events",
            Self::Sources => "Sources",
        }
    }
}

/// What the layout (`admin/layout.html`) shows around every page.
pub(crate) struct Shell {
    title: String,
    username: String,
    csrf: String,
    nav: Vec<NavLink>,
    /// The caller may only read this section: a banner says so.
    read_only: bool,
}

/// One entry of the navigation.
pub(crate) struct NavLink {
    href: &'static str,
    label: &'static str,
    current: bool,
}

#[derive(Template)]
#[template(path = "admin/confirm.html")]
struct ConfirmPage<'a> {
    shell: Shell,
    heading: &'a str,
    message: String,
    action: String,
    button: &'a str,
    cancel: String,
    fields: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "admin/error.html")]
struct ErrorPage {
    shell: Shell,
    heading: &'static str,
    message: String,
}

/// The page for a service error: 403 for missing rights, 404, 409, 503, 500.
fn error_page(services: &Services, shell: Option<Shell>, error: AdminError) -> Response {
    let (status, heading, message) = match error {
        AdminError::Unauthenticated => (
            StatusCode::UNAUTHORIZED,
            "Signed out",
            "Sign in again to continue.".to_owned(),
        ),
        AdminError::Forbidden(why) => (StatusCode::FORBIDDEN, "Not allowed", why),
        AdminError::NotFound(what) => (StatusCode::NOT_FOUND, "Not found", what),
        AdminError::Conflict(why) => (StatusCode::CONFLICT, "Not possible", why),
        AdminError::Invalid(fields) => (
            StatusCode::BAD_REQUEST,
            "Not accepted",
            fields
                .iter()
                .map(|(field, messages)| format!("{field}: {}", messages.join("; ")))
                .collect::<Vec<_>>()
                .join(", "),
        ),
        AdminError::Unavailable => (
            StatusCode::SERVICE_UNAVAILABLE,
            "Temporarily unavailable",
            "Gatehouse cannot reach its database right now. Try again in a moment.".to_owned(),
        ),
        AdminError::Internal => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong",
            "Try again in a moment.".to_owned(),
        ),
    };
    let mut response = match shell {
        Some(shell) => pages::render(
            status,
            &ErrorPage {
                shell,
                heading,
                message,
            },
        ),
        None => pages::message(status, &services.config.branding, heading, &message),
    };
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A 303 to a local path.
fn see_other(target: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(location) = HeaderValue::from_str(target) {
        response.headers_mut().insert(LOCATION, location);
    }
    response
}

/// A submitted form as its name/value pairs, so fields may repeat and unknown ones are
/// ignored rather than rejected.
pub(crate) struct FormData(Vec<(String, String)>);

impl FormData {
    /// The first value of `name`, or "" when absent.
    fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// The first value of `name` trimmed, `None` when absent or blank.
    fn optional(&self, name: &str) -> Option<String> {
        Some(self.get(name).trim())
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    }

    /// Whether a checkbox `name` was ticked.
    fn checked(&self, name: &str) -> bool {
        !self.get(name).is_empty()
    }
}

impl<S: Send + Sync> axum::extract::FromRequest<S> for FormData {
    type Rejection = Response;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, Response> {
        match axum::Form::<Vec<(String, String)>>::from_request(request, state).await {
            // Databases refuse NUL characters in text: refuse them here as bad input.
            Ok(axum::Form(pairs)) if pairs.iter().any(|(_, v)| v.contains('\0')) => Err((
                StatusCode::BAD_REQUEST,
                "form fields must not contain NUL characters\n",
            )
                .into_response()),
            Ok(axum::Form(pairs)) => Ok(Self(pairs)),
            Err(rejection) => Err(rejection.into_response()),
        }
    }
}

/// Field name to messages, for showing each form error next to its field.
#[derive(Default)]
pub(crate) struct FieldErrors(BTreeMap<String, Vec<String>>);

impl FieldErrors {
    /// The messages for `field`, joined ("" when none).
    fn of(&self, field: &str) -> String {
        self.0.get(field).map(|m| m.join("; ")).unwrap_or_default()
    }

    /// Messages for fields other than `shown` (the form's own fields, separated by commas),
    /// so none is lost.
    fn others(&self, shown: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(field, _)| !shown.split(',').any(|s| s == field.as_str()))
            .map(|(field, messages)| format!("{field}: {}", messages.join("; ")))
            .collect()
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl FieldErrors {
    /// The field errors of a service error when it is a validation error (a field name like
    /// `oauth2.client_id` loses its prefix to match the form's input).
    fn from_error(error: AdminError) -> Result<Self, AdminError> {
        match error {
            AdminError::Invalid(fields) => Ok(Self(
                fields
                    .into_iter()
                    .map(|(field, messages)| {
                        let field = field.strip_prefix("oauth2.").unwrap_or(&field).to_owned();
                        (field, messages)
                    })
                    .collect(),
            )),
            other => Err(other),
        }
    }
}

/// `page`, `search` and `ordering` of a list page, read leniently: a page number that is
/// not a number is the first page, an unknown ordering the natural one.
#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct ListParams {
    #[serde(default)]
    page: Option<String>,
    #[serde(default)]
    search: Option<String>,
    #[serde(default)]
    ordering: Option<String>,
}

/// A `page` parameter as a page number from 1; anything else is the first page.
fn page_number(page: Option<&str>) -> u64 {
    page.and_then(|p| p.parse::<u64>().ok())
        .filter(|p| (1..=1_000_000).contains(p))
        .unwrap_or(1)
}

/// Rows per page in the admin lists.
const PAGE_SIZE: u64 = 50;

impl ListParams {
    /// The services' query for this page; `field` is the list's sort field (`-field` for
    /// descending).
    fn query(&self, field: &str) -> ListQuery {
        let page = page_number(self.page.as_deref());
        let search = self
            .search
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty() && !s.contains('\0'))
            .map(|s| s.chars().take(150).collect());
        let descending = self.ordering.as_deref().and_then(|o| o.strip_prefix('-')) == Some(field);
        ListQuery {
            search,
            limit: PAGE_SIZE,
            offset: (page - 1) * PAGE_SIZE,
            descending,
        }
    }
}

/// A list page's search box, ordering links and page links.
pub(crate) struct Pager {
    /// The search as entered (kept in the box).
    search: String,
    /// Rows matching in all.
    total: u64,
    page: u64,
    total_pages: u64,
    previous: Option<String>,
    next: Option<String>,
    /// The link that flips the ordering, and whether the list is descending now.
    flip_order: String,
    descending: bool,
}

impl Pager {
    /// The pager of `page` for `query` on the list at `base`, sorted by `field`.
    fn of<T>(base: &str, field: &str, query: &ListQuery, page: &Page<T>) -> Self {
        Self::filtered(base, field, query, page, "")
    }

    /// Like [`Pager::of`] for a list with more filters, whose query-string fragment
    /// (`&name=value...`) every link keeps.
    fn filtered<T>(
        base: &str,
        field: &str,
        query: &ListQuery,
        page: &Page<T>,
        filters: &str,
    ) -> Self {
        let search = query.search.clone().unwrap_or_default();
        let number = query.offset / PAGE_SIZE + 1;
        let total_pages = page.total.div_ceil(PAGE_SIZE);
        let ordering = if query.descending {
            format!("-{field}")
        } else {
            field.to_owned()
        };
        let link = |page: u64, ordering: &str| {
            let mut href = format!("{base}?page={page}");
            if !search.is_empty() {
                href.push_str("&search=");
                href.push_str(&gatehouse_oidc::authorize::form_encode(&search));
            }
            href.push_str("&ordering=");
            href.push_str(ordering);
            href.push_str(filters);
            href
        };
        let flipped = if query.descending {
            field.to_owned()
        } else {
            format!("-{field}")
        };
        Self {
            total: page.total,
            page: number,
            total_pages,
            previous: (number > 1).then(|| link(number - 1, &ordering)),
            next: (number < total_pages).then(|| link(number + 1, &ordering)),
            flip_order: link(1, &flipped),
            descending: query.descending,
            search,
        }
    }
}

/// A timestamp as the pages show it.
fn when(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// An expiry as the pages show it: "never", the time, or "expired <time>".
fn expiry(at: Option<chrono::DateTime<chrono::Utc>>) -> String {
    match at {
        None => "never".into(),
        Some(at) if at <= chrono::Utc::now() => format!("expired {}", when(at)),
        Some(at) => when(at),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_params_are_lenient_and_bounded() {
        let params = ListParams {
            page: Some("3".into()),
            search: Some("  al ".into()),
            ordering: Some("-username".into()),
        };
        let query = params.query("username");
        assert_eq!((query.offset, query.descending), (100, true));
        assert_eq!(query.search.as_deref(), Some("al"));
        let odd = ListParams {
            page: Some("zero".into()),
            search: Some(" ".into()),
            ordering: Some("-email".into()),
        };
        let query = odd.query("username");
        assert_eq!((query.offset, query.descending), (0, false));
        assert_eq!(query.search, None);
    }

    #[test]
    fn pager_links_keep_search_and_ordering() {
        let query = ListQuery {
            search: Some("a b".into()),
            limit: PAGE_SIZE,
            offset: PAGE_SIZE,
            descending: true,
        };
        let page = Page::<u8> {
            items: Vec::new(),
            total: 120,
        };
        let pager = Pager::of("/if/admin/users/", "username", &query, &page);
        assert_eq!((pager.page, pager.total_pages), (2, 3));
        assert_eq!(
            pager.next.as_deref(),
            Some("/if/admin/users/?page=3&search=a%20b&ordering=-username")
        );
        assert_eq!(
            pager.previous.as_deref(),
            Some("/if/admin/users/?page=1&search=a%20b&ordering=-username")
        );
        assert_eq!(
            pager.flip_order,
            "/if/admin/users/?page=1&search=a%20b&ordering=username"
        );
    }

    #[test]
    fn field_errors_lose_the_provider_prefix_and_keep_the_rest() {
        let errors = FieldErrors::from_error(AdminError::field("oauth2.client_id", "taken"))
            .expect("a validation error");
        assert_eq!(errors.of("client_id"), "taken");
        assert!(errors.others("client_id").is_empty());
        assert_eq!(errors.others("slug,name"), ["client_id: taken"]);
        assert!(FieldErrors::from_error(AdminError::Internal).is_err());
    }
}
