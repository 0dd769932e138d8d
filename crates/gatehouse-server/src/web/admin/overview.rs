//! The admin overview (`/if/admin/`): sign-ins and failed sign-ins per day as a
//! server-rendered SVG chart, the health of the database (and Redis), the latest audit
//! events, and the sections the caller may open. Everything is read through
//! [`crate::admin::events`].

use super::events::EventLine;
use super::{AdminUi, Section};
use crate::admin::{AdminError, events as service};
use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Duration, Utc};
use gatehouse_core::{EventAction, EventQuery};

/// How many events the overview lists.
const RECENT_EVENTS: u64 = 15;
/// How many days the chart covers.
const CHART_DAYS: i64 = 14;
/// The chart's drawing area, in SVG units.
const CHART_WIDTH: u64 = 700;
const CHART_HEIGHT: u64 = 160;

/// One day of the chart: the counts and the bars' geometry.
struct Day {
    label: String,
    logins: u64,
    failures: u64,
    x: u64,
    login_y: u64,
    login_height: u64,
    failure_x: u64,
    failure_y: u64,
    failure_height: u64,
}

#[derive(Template)]
#[template(path = "admin/overview.html")]
struct OverviewPage {
    shell: super::Shell,
    days: Vec<Day>,
    peak: u64,
    bar_width: u64,
    chart_width: u64,
    chart_height: u64,
    database: &'static str,
    redis: Option<&'static str>,
    events: Vec<EventLine>,
}

/// Lays out the bars: per day a sign-ins bar and a failures bar side by side, scaled to the
/// busiest day.
fn chart(counts: Vec<(String, u64, u64)>) -> (Vec<Day>, u64, u64) {
    let peak = counts
        .iter()
        .map(|(_, l, f)| (*l).max(*f))
        .max()
        .unwrap_or(0)
        .max(1);
    let slot = CHART_WIDTH / (counts.len().max(1) as u64);
    let bar = (slot / 2).saturating_sub(2).max(1);
    let height = |n: u64| n.saturating_mul(CHART_HEIGHT) / peak;
    let days = counts
        .into_iter()
        .enumerate()
        .map(|(i, (label, logins, failures))| {
            let x = i as u64 * slot + 1;
            Day {
                label,
                logins,
                failures,
                x,
                login_y: CHART_HEIGHT - height(logins),
                login_height: height(logins),
                failure_x: x + bar + 1,
                failure_y: CHART_HEIGHT - height(failures),
                failure_height: height(failures),
            }
        })
        .collect();
    (days, peak, bar)
}

/// `GET /if/admin/`: the overview.
pub(crate) async fn show(ui: AdminUi) -> Response {
    let loaded = async {
        let recent = service::list(
            &ui.services,
            &ui.caller,
            &EventQuery {
                limit: RECENT_EVENTS,
                ..EventQuery::default()
            },
        )
        .await?;
        let today = Utc::now()
            .date_naive()
            .and_hms_opt(0, 0, 0)
            .map_or_else(Utc::now, |t| t.and_utc());
        let days: Vec<DateTime<Utc>> = (0..=CHART_DAYS)
            .rev()
            .map(|back| today - Duration::days(back - 1))
            .collect();
        let per_day = service::count_per_period(
            &ui.services,
            &ui.caller,
            &[EventAction::Login, EventAction::LoginFailed],
            &days,
        )
        .await?;
        let counts = days
            .iter()
            .zip(per_day[0].iter().zip(&per_day[1]))
            .map(|(since, (logins, failures))| {
                (since.format("%m-%d").to_string(), *logins, *failures)
            })
            .collect();
        Ok::<_, AdminError>((recent.items, counts))
    }
    .await;
    let (events, counts) = match loaded {
        Ok(loaded) => loaded,
        Err(error) => return ui.error(error),
    };
    let database =
        match tokio::time::timeout(std::time::Duration::from_secs(1), ui.services.store.ping())
            .await
        {
            Ok(Ok(())) => "reachable",
            _ => "unreachable",
        };
    let redis = match &ui.services.redis {
        Some(link) if link.check(std::time::Duration::from_secs(1)).await => Some("reachable"),
        Some(_) => Some("unreachable"),
        None => None,
    };
    let (days, peak, bar_width) = chart(counts);
    let page = OverviewPage {
        shell: ui.shell(Section::Overview),
        days,
        peak,
        bar_width,
        chart_width: CHART_WIDTH,
        chart_height: CHART_HEIGHT,
        database,
        redis,
        events: events.into_iter().map(EventLine::from).collect(),
    };
    ui.render(StatusCode::OK, &page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_busiest_day() {
        let (days, peak, bar) = chart(vec![("11-28".into(), 4, 1), ("11-29".into(), 8, 0)]);
        assert_eq!(peak, 8);
        assert_eq!(bar, CHART_WIDTH / 2 / 2 - 2);
        assert_eq!(days[1].login_height, CHART_HEIGHT);
        assert_eq!(days[0].login_height, CHART_HEIGHT / 2);
        assert_eq!(days[0].login_y, CHART_HEIGHT / 2);
        assert_eq!(days[1].failure_height, 0);
        assert!(days[0].failure_x > days[0].x && days[1].x > days[0].failure_x);
    }
}
