//! The admin overview (`/if/admin/`): sign-ins and failed sign-ins per day as a
//! server-rendered SVG chart, the health of the database (and Redis) and of the background
//! workers (from their heartbeats), the latest audit events, and the sections the caller may
//! open. Events are read through [`crate::admin::events`].

use super::events::EventLine;
use super::{AdminUi, Section};
use crate::admin::{AdminError, events as service};
use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Duration, Utc};
use gatehouse_core::{EventAction, EventQuery, WorkerHeartbeat};

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
    /// `None` when the heartbeats could not be read.
    workers: Option<Vec<WorkerLine>>,
    events: Vec<EventLine>,
}

/// One worker on the overview: where it runs and how long ago it last beat.
struct WorkerLine {
    description: String,
    seen_ago: String,
    stale: bool,
}

/// Workers listed on the overview at most (the most recently seen).
const WORKERS_SHOWN: usize = 10;

/// The overview's lines for `beats` at `now`.
fn worker_lines(beats: Vec<WorkerHeartbeat>, now: DateTime<Utc>) -> Vec<WorkerLine> {
    beats
        .into_iter()
        .take(WORKERS_SHOWN)
        .map(|beat| WorkerLine {
            stale: beat.is_stale_at(now),
            seen_ago: ago((now - beat.last_seen).num_seconds().max(0)),
            description: beat.description,
        })
        .collect()
}

/// `secs` as "12s", "5m 3s", "2h 10m" or "3d 4h" (ago).
fn ago(secs: i64) -> String {
    match secs {
        0..60 => format!("{secs}s"),
        60..3_600 => format!("{}m {}s", secs / 60, secs % 60),
        3_600..86_400 => format!("{}h {}m", secs / 3_600, secs % 3_600 / 60),
        _ => format!("{}d {}h", secs / 86_400, secs % 86_400 / 3_600),
    }
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
    let workers = match tokio::time::timeout(
        std::time::Duration::from_secs(1),
        ui.services.store.worker_heartbeats(),
    )
    .await
    {
        Ok(Ok(beats)) => Some(worker_lines(beats, Utc::now())),
        _ => None,
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
        workers,
        events: events.into_iter().map(EventLine::from).collect(),
    };
    ui.render(StatusCode::OK, &page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workers_show_how_long_ago_and_go_stale_after_three_beats() {
        let now = Utc::now();
        let beat = |ago: i64| WorkerHeartbeat {
            worker_id: "w".into(),
            description: "host (pid 1, worker)".into(),
            started_at: now - Duration::hours(1),
            last_seen: now - Duration::seconds(ago),
            interval_secs: 5,
        };
        let lines = worker_lines(vec![beat(4), beat(16), beat(3_700)], now);
        assert_eq!(lines[0].seen_ago, "4s");
        assert!(!lines[0].stale);
        assert!(lines[1].stale);
        assert_eq!(lines[2].seen_ago, "1h 1m");
        assert_eq!(ago(125), "2m 5s");
        assert_eq!(ago(90_000), "1d 1h");
    }

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
