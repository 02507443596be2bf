//! The process's metrics in the Prometheus text exposition format (version 0.0.4), written by
//! hand: a few counters and two histograms kept here, and gauges the caller reads from the
//! store at scrape time. Label values are escaped; the organisation label is bounded.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

use herald_domain::OrgId;

/// Organisations with a label of their own; the others are counted under `other`, so a
/// hub with many tenants cannot blow up the series count.
const MAX_ORG_LABELS: usize = 100;
const OTHER_ORGS: &str = "other";

/// Seconds: from a fast local receiver to the 15 s default timeout and beyond.
const ATTEMPT_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 30.0,
];
/// Events per group commit, up to the committer's maximum of 256.
const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];

#[derive(Debug, Clone)]
struct Histogram {
    buckets: &'static [f64],
    /// Per bucket, not cumulative.
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn new(buckets: &'static [f64]) -> Self {
        Self {
            buckets,
            counts: vec![0; buckets.len()],
            sum: 0.0,
            count: 0,
        }
    }

    fn observe(&mut self, value: f64) {
        if let Some(i) = self.buckets.iter().position(|&le| value <= le) {
            self.counts[i] += 1;
        }
        self.sum += value;
        self.count += 1;
    }

    fn write(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        let mut cumulative = 0;
        for (le, count) in self.buckets.iter().zip(&self.counts) {
            cumulative += count;
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels}{sep}le=\"{le}\"}} {cumulative}"
            );
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}",
            self.count
        );
        let braces = |labels: &str| match labels {
            "" => String::new(),
            labels => format!("{{{labels}}}"),
        };
        let _ = writeln!(out, "{name}_sum{} {}", braces(labels), self.sum);
        let _ = writeln!(out, "{name}_count{} {}", braces(labels), self.count);
    }
}

#[derive(Default)]
struct Counters {
    events_by_org: BTreeMap<String, u64>,
    /// (kind, outcome) → finished attempts.
    attempts: BTreeMap<(&'static str, &'static str), u64>,
    attempt_seconds: BTreeMap<&'static str, Histogram>,
    batch_sizes: Option<Histogram>,
}

/// What the engine counts as it goes.
#[derive(Default)]
pub struct Metrics {
    counters: Mutex<Counters>,
}

/// What is read at scrape time.
#[derive(Debug, Clone, Default)]
pub struct Gauges {
    /// Unfinished deliveries by status (pending, retrying).
    pub queue_by_status: Vec<(String, u64)>,
    /// Deliveries a worker holds right now (any instance).
    pub queue_leased: u64,
    /// How long the oldest delivery that is due, and not held by a worker, has waited.
    pub oldest_due_age: Duration,
    pub integrations_paused: u64,
    pub circuits_open: u64,
    pub workers: u64,
    pub workers_busy: u64,
    pub pool_max: u64,
    pub pool_open: u64,
    pub pool_idle: u64,
    /// Connections held outside the pool (see `Store::held_connections`).
    pub held_connections: herald_store::HeldUse,
}

impl Metrics {
    fn lock(&self) -> std::sync::MutexGuard<'_, Counters> {
        self.counters.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn event_accepted(&self, org: &OrgId) {
        let mut counters = self.lock();
        let label = if counters.events_by_org.contains_key(org.as_str())
            || counters.events_by_org.len() < MAX_ORG_LABELS
        {
            org.as_str()
        } else {
            OTHER_ORGS
        };
        *counters.events_by_org.entry(label.to_owned()).or_default() += 1;
    }

    pub(crate) fn attempt(&self, kind: &'static str, outcome: &'static str, took: Duration) {
        let mut counters = self.lock();
        *counters.attempts.entry((kind, outcome)).or_default() += 1;
        counters
            .attempt_seconds
            .entry(kind)
            .or_insert_with(|| Histogram::new(ATTEMPT_BUCKETS))
            .observe(took.as_secs_f64());
    }

    pub(crate) fn ingest_batch(&self, events: usize) {
        self.lock()
            .batch_sizes
            .get_or_insert_with(|| Histogram::new(BATCH_BUCKETS))
            .observe(events as f64);
    }

    /// The exposition: this process's counters and histograms, and `gauges`.
    pub fn render(&self, gauges: &Gauges) -> String {
        let counters = self.lock().clone_for_render();
        let mut out = String::with_capacity(4096);
        family(&mut out, "herald_events_accepted_total", "counter", "Events accepted (stored with their deliveries), by organisation id; past 100 organisations the rest count as \"other\".");
        for (org, count) in &counters.events_by_org {
            let _ = writeln!(
                out,
                "herald_events_accepted_total{{org=\"{}\"}} {count}",
                escape(org)
            );
        }
        family(&mut out, "herald_deliveries_total", "counter", "Finished delivery attempts by destination kind and outcome (delivered, retry, failed, aborted).");
        for ((kind, outcome), count) in &counters.attempts {
            let _ = writeln!(
                out,
                "herald_deliveries_total{{kind=\"{kind}\",outcome=\"{outcome}\"}} {count}"
            );
        }
        family(
            &mut out,
            "herald_attempt_duration_seconds",
            "histogram",
            "How long delivery attempts took, by destination kind.",
        );
        for (kind, histogram) in &counters.attempt_seconds {
            histogram.write(
                &mut out,
                "herald_attempt_duration_seconds",
                &format!("kind=\"{kind}\""),
            );
        }
        family(
            &mut out,
            "herald_ingest_batch_size",
            "histogram",
            "Events written per group commit.",
        );
        counters
            .batch_sizes
            .unwrap_or_else(|| Histogram::new(BATCH_BUCKETS))
            .write(&mut out, "herald_ingest_batch_size", "");
        family(
            &mut out,
            "herald_queue_deliveries",
            "gauge",
            "Unfinished deliveries by status, across every instance.",
        );
        for (status, count) in &gauges.queue_by_status {
            let _ = writeln!(
                out,
                "herald_queue_deliveries{{status=\"{}\"}} {count}",
                escape(status)
            );
        }
        gauge(
            &mut out,
            "herald_queue_leased",
            "Unfinished deliveries a worker holds right now, across every instance.",
            gauges.queue_leased as f64,
        );
        gauge(
            &mut out,
            "herald_queue_oldest_due_age_seconds",
            "How long the oldest due delivery that no worker holds has been waiting (0 when none).",
            gauges.oldest_due_age.as_secs_f64(),
        );
        gauge(
            &mut out,
            "herald_integrations_paused",
            "Integrations paused by an operator.",
            gauges.integrations_paused as f64,
        );
        gauge(
            &mut out,
            "herald_circuits_open",
            "Destinations whose circuit is open or half-open in this process.",
            gauges.circuits_open as f64,
        );
        gauge(
            &mut out,
            "herald_workers",
            "Delivery workers in this process.",
            gauges.workers as f64,
        );
        gauge(
            &mut out,
            "herald_workers_busy",
            "Delivery workers sending right now in this process.",
            gauges.workers_busy as f64,
        );
        gauge(
            &mut out,
            "herald_db_pool_max_connections",
            "The database pool's size limit.",
            gauges.pool_max as f64,
        );
        gauge(
            &mut out,
            "herald_db_pool_connections",
            "Open database connections in the pool.",
            gauges.pool_open as f64,
        );
        gauge(
            &mut out,
            "herald_db_pool_idle_connections",
            "Open database connections not in use.",
            gauges.pool_idle as f64,
        );
        gauge(
            &mut out,
            "herald_db_held_connections",
            "Open database connections held outside the pool: on PostgreSQL the ingest and result committers' and the claims', on SQLite the writer.",
            gauges.held_connections.open as f64,
        );
        gauge(
            &mut out,
            "herald_db_held_idle_connections",
            "Held database connections not in use.",
            gauges.held_connections.idle as f64,
        );
        out
    }
}

impl Counters {
    fn clone_for_render(&self) -> Counters {
        Counters {
            events_by_org: self.events_by_org.clone(),
            attempts: self.attempts.clone(),
            attempt_seconds: self.attempt_seconds.clone(),
            batch_sizes: self.batch_sizes.clone(),
        }
    }
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {}", escape_help(help));
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn gauge(out: &mut String, name: &str, help: &str, value: f64) {
    family(out, name, "gauge", help);
    let _ = writeln!(out, "{name} {value}");
}

/// A label value: backslash, double quote and line feed escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Help text: backslash and line feed escaped.
fn escape_help(value: &str) -> String {
    value.replace('\\', "\\\\").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_are_cumulative_and_end_in_inf() {
        let metrics = Metrics::default();
        metrics.attempt("webhook", "delivered", Duration::from_millis(3));
        metrics.attempt("webhook", "retry", Duration::from_millis(300));
        metrics.attempt("webhook", "retry", Duration::from_secs(60));
        let text = metrics.render(&Gauges::default());
        assert!(text
            .contains("herald_attempt_duration_seconds_bucket{kind=\"webhook\",le=\"0.005\"} 1\n"));
        assert!(text
            .contains("herald_attempt_duration_seconds_bucket{kind=\"webhook\",le=\"0.5\"} 2\n"));
        assert!(text
            .contains("herald_attempt_duration_seconds_bucket{kind=\"webhook\",le=\"+Inf\"} 3\n"));
        assert!(text.contains("herald_attempt_duration_seconds_count{kind=\"webhook\"} 3\n"));
        assert!(text.contains("herald_deliveries_total{kind=\"webhook\",outcome=\"retry\"} 2\n"));
    }

    #[test]
    fn organisations_beyond_the_bound_count_as_other() {
        let metrics = Metrics::default();
        for _ in 0..(MAX_ORG_LABELS + 5) {
            metrics.event_accepted(&OrgId::generate());
        }
        let text = metrics.render(&Gauges::default());
        let series = text
            .lines()
            .filter(|l| l.starts_with("herald_events_accepted_total{"))
            .count();
        assert_eq!(series, MAX_ORG_LABELS + 1);
        assert!(text.contains("herald_events_accepted_total{org=\"other\"} 5\n"));
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
