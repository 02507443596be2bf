//! The dashboard: deliveries per hour by outcome (a server-drawn SVG chart), the failing
//! integrations, the queue's depth and the age of its oldest delivery.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use chrono::{DateTime, Duration, DurationRound, Utc};
use herald_domain::Permission;
use herald_server::app::ApiError;
use herald_store::HourlyDeliveries;
use serde::Serialize;

use super::{base, error_page, page};
use crate::session::SignedIn;
use crate::Console;

const HOURS: i64 = 24;
/// Stacked bottom to top, each with its CSS class (colours in the stylesheet).
const OUTCOMES: [&str; 4] = ["success", "retrying", "pending", "failed"];
const CHART_WIDTH: f64 = 720.0;
const CHART_HEIGHT: f64 = 160.0;

/// One bar segment of the chart, in SVG user units.
#[derive(Serialize)]
struct Segment {
    x: f64,
    y: f64,
    width: f64,
    height: f64,
    outcome: &'static str,
    label: String,
}

#[derive(Serialize)]
struct Chart {
    width: f64,
    height: f64,
    segments: Vec<Segment>,
    max: i64,
    total: i64,
    /// Every sixth hour's label, with its x position.
    ticks: Vec<(f64, String)>,
    summary: Vec<(&'static str, i64)>,
}

fn chart(rows: &[HourlyDeliveries], now: DateTime<Utc>) -> Chart {
    let current = now.duration_trunc(Duration::hours(1)).unwrap_or(now);
    let first = current - Duration::hours(HOURS - 1);
    let mut counts: BTreeMap<(i64, &str), i64> = BTreeMap::new();
    for row in rows {
        let slot = (row.hour - first).num_hours();
        if (0..HOURS).contains(&slot) {
            if let Some(outcome) = OUTCOMES.iter().find(|o| **o == row.status) {
                *counts.entry((slot, outcome)).or_default() += row.count;
            }
        }
    }
    let per_hour = |slot: i64| {
        OUTCOMES
            .iter()
            .map(|o| counts.get(&(slot, *o)).copied().unwrap_or(0))
            .sum::<i64>()
    };
    let max = (0..HOURS).map(per_hour).max().unwrap_or(0).max(1);
    let slot_width = CHART_WIDTH / HOURS as f64;
    let mut segments = Vec::new();
    for slot in 0..HOURS {
        let mut y = CHART_HEIGHT;
        for outcome in OUTCOMES {
            let count = counts.get(&(slot, outcome)).copied().unwrap_or(0);
            if count == 0 {
                continue;
            }
            let height = CHART_HEIGHT * count as f64 / max as f64;
            y -= height;
            let hour = first + Duration::hours(slot);
            segments.push(Segment {
                x: slot as f64 * slot_width + 2.0,
                y,
                width: slot_width - 4.0,
                height,
                outcome,
                label: format!("{} {outcome} at {} UTC", count, hour.format("%H:00")),
            });
        }
    }
    let ticks = (0..HOURS)
        .step_by(6)
        .map(|slot| {
            (
                slot as f64 * slot_width,
                (first + Duration::hours(slot)).format("%H:00").to_string(),
            )
        })
        .collect();
    let summary = OUTCOMES
        .iter()
        .map(|o| {
            (
                *o,
                (0..HOURS)
                    .map(|s| counts.get(&(s, *o)).copied().unwrap_or(0))
                    .sum(),
            )
        })
        .collect::<Vec<_>>();
    Chart {
        width: CHART_WIDTH,
        height: CHART_HEIGHT,
        total: summary.iter().map(|(_, n)| n).sum(),
        segments,
        max,
        ticks,
        summary,
    }
}

pub async fn page_handler(
    console: &Console,
    session: &crate::Session,
) -> Result<Response, ApiError> {
    let org = &session.caller.org_id;
    let store = console.state.engine.store();
    let now = Utc::now();
    if !session.caller.grants.allows(Permission::DeliveryRead) {
        let ctx =
            minijinja::context! { restricted => true, ..base(session, "Dashboard", "dashboard") };
        return Ok(page(console, "dashboard.html", ctx));
    }
    // Three independent reads, at once: the page waits for the slowest, not for their sum.
    let (hourly, queue, last) = tokio::try_join!(
        store.deliveries_per_hour(org, now - Duration::hours(HOURS)),
        store.queue_depth(org),
        store.last_deliveries(org),
    )?;
    let failing_ids: std::collections::HashSet<String> = last
        .into_iter()
        .filter(|d| matches!(d.status.as_str(), "failed" | "retrying"))
        .map(|d| d.integration_id)
        .collect();
    let failing: Vec<_> = if failing_ids.is_empty() {
        Vec::new()
    } else {
        super::integrations::all_integrations(console, session)
            .await?
            .into_iter()
            .filter(|i| i["id"].as_str().is_some_and(|id| failing_ids.contains(id)))
            .collect()
    };
    let oldest_age = queue.oldest_created_at.map(|at| human_age(now - at));
    let ctx = minijinja::context! {
        chart => chart(&hourly, now),
        queue_depth => queue.waiting,
        oldest_age => oldest_age,
        failing => failing,
        ..base(session, "Dashboard", "dashboard")
    };
    Ok(page(console, "dashboard.html", ctx))
}

pub async fn page_route(
    State(console): State<Arc<Console>>,
    SignedIn(session): SignedIn,
) -> Response {
    match page_handler(&console, &session).await {
        Ok(response) => response,
        Err(error) => error_page(&console, Some(&session), error),
    }
}

fn human_age(age: Duration) -> String {
    let seconds = age.num_seconds().max(0);
    match seconds {
        0..60 => format!("{seconds} s"),
        60..3600 => format!("{} min", seconds / 60),
        3600..86400 => format!("{} h {} min", seconds / 3600, (seconds % 3600) / 60),
        _ => format!("{} d {} h", seconds / 86400, (seconds % 86400) / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chart_stacks_outcomes_per_hour_scaled_to_the_busiest_hour() {
        let now = Utc::now();
        let hour = now.duration_trunc(Duration::hours(1)).unwrap();
        let rows = vec![
            HourlyDeliveries {
                hour,
                status: "success".into(),
                count: 6,
            },
            HourlyDeliveries {
                hour,
                status: "failed".into(),
                count: 2,
            },
            HourlyDeliveries {
                hour: hour - Duration::hours(3),
                status: "success".into(),
                count: 4,
            },
            HourlyDeliveries {
                hour: hour - Duration::hours(30),
                status: "success".into(),
                count: 99,
            },
        ];
        let chart = chart(&rows, now);
        assert_eq!(chart.max, 8);
        assert_eq!(chart.total, 12, "the hour outside the window is left out");
        assert_eq!(chart.segments.len(), 3);
        let tallest: f64 = chart
            .segments
            .iter()
            .filter(|s| s.x > 680.0)
            .map(|s| s.height)
            .sum();
        assert!((tallest - CHART_HEIGHT).abs() < 1e-9);
        assert_eq!(chart.summary[0], ("success", 10));
    }

    #[test]
    fn ages_read_like_people_say_them() {
        assert_eq!(human_age(Duration::seconds(42)), "42 s");
        assert_eq!(human_age(Duration::seconds(3720)), "1 h 2 min");
    }
}
