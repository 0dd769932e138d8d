//! The audit log page (`/if/admin/events/`): newest first, filtered by action, user, time
//! range and client address, read through [`crate::admin::events`].

use super::{AdminUi, FieldErrors, PAGE_SIZE, Pager, Section, when};
use crate::admin::{AdminError, events as service};
use askama::Template;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, NaiveDateTime, Utc};
use gatehouse_core::{AdminArea, Event, EventAction, EventQuery, ListQuery, Page};
use serde::Deserialize;

const LIST: &str = "/if/admin/events/";

/// The filters as entered (kept in the form and in the page links).
#[derive(Default, Deserialize)]
pub(crate) struct Filters {
    #[serde(default)]
    action: String,
    #[serde(default)]
    user: String,
    #[serde(default)]
    client_ip: String,
    #[serde(default)]
    since: String,
    #[serde(default)]
    until: String,
    #[serde(default)]
    page: Option<String>,
}

impl Filters {
    /// The filters as a query string fragment (`&action=...`) for page links.
    fn link_fragment(&self) -> String {
        [
            ("action", &self.action),
            ("user", &self.user),
            ("client_ip", &self.client_ip),
            ("since", &self.since),
            ("until", &self.until),
        ]
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("&{k}={}", gatehouse_oidc::authorize::form_encode(v)))
        .collect()
    }
}

/// One line of the log (also on the overview).
pub(super) struct EventLine {
    pub(super) at: String,
    pub(super) action: &'static str,
    pub(super) actor: String,
    pub(super) client_ip: String,
    pub(super) context: String,
}

impl From<Event> for EventLine {
    fn from(e: Event) -> Self {
        Self {
            at: when(e.created_at),
            action: e.action.as_str(),
            actor: e.actor,
            client_ip: e.client_ip.unwrap_or_default(),
            context: serde_json::Value::Object(e.context).to_string(),
        }
    }
}

#[derive(Template)]
#[template(path = "admin/events.html")]
struct EventsPage {
    shell: super::Shell,
    filters: Filters,
    /// Each action with whether it is the chosen filter.
    actions: Vec<(&'static str, bool)>,
    errors: FieldErrors,
    rows: Vec<EventLine>,
    pager: Pager,
}

/// A `datetime-local` value (`2026-11-29T16:30`, read as UTC) or an RFC 3339 time.
pub(super) fn parse_time(value: &str, field: &str) -> Result<Option<DateTime<Utc>>, AdminError> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    let parsed = DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&Utc))
        .or_else(|_| NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M").map(|t| t.and_utc()))
        .map_err(|_| AdminError::field(field, "enter a time as YYYY-MM-DDTHH:MM (UTC)"))?;
    crate::web::api::plausible_time(Some(parsed), field)
}

/// `GET /if/admin/events/`: the filtered log, a page at a time.
pub(crate) async fn list(ui: AdminUi, Query(filters): Query<Filters>) -> Response {
    let page_number = super::page_number(filters.page.as_deref());
    let outcome = async {
        ui.caller.require_read(AdminArea::Events)?;
        let action = match filters.action.as_str() {
            "" => None,
            name => Some(
                EventAction::parse(name)
                    .ok_or_else(|| AdminError::field("action", "choose an action from the list"))?,
            ),
        };
        let actor_id = match filters.user.trim() {
            "" => None,
            name => Some(
                ui.services
                    .store
                    .user_by_username(name)
                    .await?
                    .ok_or_else(|| AdminError::field("user", format!("no user named {name:?}")))?
                    .id,
            ),
        };
        let query = EventQuery {
            action,
            actor_id,
            client_ip: Some(filters.client_ip.trim().to_owned()).filter(|ip| !ip.is_empty()),
            since: parse_time(&filters.since, "since")?,
            until: parse_time(&filters.until, "until")?,
            limit: PAGE_SIZE,
            offset: (page_number - 1) * PAGE_SIZE,
            oldest_first: false,
        };
        service::list(&ui.services, &ui.caller, &query).await
    }
    .await;
    let (page, errors) = match outcome {
        Ok(page) => (page, FieldErrors::default()),
        Err(error) => match FieldErrors::from_error(error) {
            Ok(errors) => (
                Page {
                    items: Vec::new(),
                    total: 0,
                },
                errors,
            ),
            Err(other) => return ui.error(other),
        },
    };
    let list_query = ListQuery {
        limit: PAGE_SIZE,
        offset: (page_number - 1) * PAGE_SIZE,
        ..ListQuery::default()
    };
    let pager = Pager::filtered(
        LIST,
        "created",
        &list_query,
        &page,
        &filters.link_fragment(),
    );
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    let page = EventsPage {
        shell: ui.shell(Section::Events),
        actions: EventAction::ALL
            .iter()
            .map(|a| (a.as_str(), a.as_str() == filters.action))
            .collect(),
        filters,
        errors,
        rows: page.items.into_iter().map(EventLine::from).collect(),
        pager,
    };
    ui.render(status, &page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_read_as_utc_and_bad_ones_name_the_field() {
        let at = parse_time("2026-11-29T16:30", "since").expect("valid");
        assert_eq!(
            at.map(|t| t.to_rfc3339()),
            Some("2026-11-29T16:30:00+00:00".into())
        );
        assert_eq!(parse_time(" ", "since"), Ok(None));
        assert_eq!(
            parse_time("yesterday", "until"),
            Err(AdminError::field(
                "until",
                "enter a time as YYYY-MM-DDTHH:MM (UTC)"
            ))
        );
    }

    #[test]
    fn page_links_keep_the_filters() {
        let filters = Filters {
            action: "login_failed".into(),
            client_ip: "10.0.0.1".into(),
            ..Filters::default()
        };
        assert_eq!(
            filters.link_fragment(),
            "&action=login_failed&client_ip=10.0.0.1"
        );
    }
}
