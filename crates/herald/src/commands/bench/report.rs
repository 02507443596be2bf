//! What a bench run found, per round and as the Markdown row the README's table takes.

use std::fmt;
use std::time::Duration;

pub struct LatencyAtRate {
    pub rate: u32,
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
}

/// One Herald process's results.
pub struct HeraldRound {
    pub deliveries_per_s: f64,
    pub accepted_per_s: f64,
    pub fanout_deliveries_per_s: f64,
    pub latencies: Vec<LatencyAtRate>,
    /// VmHWM right after the throughput run at full concurrency.
    pub rss_after_load: f64,
    /// VmHWM at the end of the round (after the fan-out).
    pub rss_peak: f64,
}

impl fmt::Display for HeraldRound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Herald {:.0} deliveries/s (accepted {:.0} events/s), fan-out {:.0} deliveries/s",
            self.deliveries_per_s, self.accepted_per_s, self.fanout_deliveries_per_s
        )?;
        for latency in &self.latencies {
            write!(
                f,
                ", at {}/s p50 {:.2} ms p99 {:.2} ms max {:.1} ms",
                latency.rate,
                ms(latency.p50),
                ms(latency.p99),
                ms(latency.max)
            )?;
        }
        write!(
            f,
            ", RSS {:.1} MiB after the load, {:.1} MiB peak",
            self.rss_after_load, self.rss_peak
        )
    }
}

/// Medians over the rounds of one back-end.
pub struct Summary {
    backend: &'static str,
    baseline: f64,
    deliveries: f64,
    fanout: f64,
    /// (p50, p99) in ms per rate, in the order of the rates.
    latencies: Vec<(f64, f64)>,
    rss_after_load: f64,
    rss_peak: f64,
}

impl Summary {
    pub fn new(backend: &'static str, baselines: &[f64], rounds: &[HeraldRound]) -> Self {
        let of = |value: fn(&HeraldRound) -> f64| median(rounds.iter().map(value).collect());
        let rates = rounds.first().map_or(0, |r| r.latencies.len());
        let latencies = (0..rates)
            .map(|i| {
                (
                    median(rounds.iter().map(|r| ms(r.latencies[i].p50)).collect()),
                    median(rounds.iter().map(|r| ms(r.latencies[i].p99)).collect()),
                )
            })
            .collect();
        Self {
            backend,
            baseline: median(baselines.to_vec()),
            deliveries: of(|r| r.deliveries_per_s),
            fanout: of(|r| r.fanout_deliveries_per_s),
            latencies,
            rss_after_load: of(|r| r.rss_after_load),
            rss_peak: of(|r| r.rss_peak),
        }
    }
}

pub fn print_table(summaries: &[Summary], rates: &[u32], fanout: usize, concurrency: usize) {
    let mut header = format!(
        "| date | machine | back-end | bare client → sink | Herald end to end | ratio | {fanout}-integration fan-out | ratio |"
    );
    let mut rule = String::from("|---|---|---|---|---|---|---|---|");
    for rate in rates {
        header.push_str(&format!(" p50 / p99 at {rate} ev/s |"));
        rule.push_str("---|");
    }
    header.push_str(&format!(" Herald RSS ({concurrency} clients / peak) |"));
    rule.push_str("---|");
    println!("{header}\n{rule}");
    let (date, machine) = (today(), machine());
    for s in summaries {
        let mut row = format!(
            "| {date} | {machine} | {} | {} req/s | {} deliveries/s | {:.1}% | {} deliveries/s | {:.1}% |",
            s.backend,
            thousands(s.baseline),
            thousands(s.deliveries),
            100.0 * s.deliveries / s.baseline,
            thousands(s.fanout),
            100.0 * s.fanout / s.baseline,
        );
        for (p50, p99) in &s.latencies {
            row.push_str(&format!(" {p50:.2} / {p99:.2} ms |"));
        }
        row.push_str(&format!(
            " {:.0} / {:.0} MiB |",
            s.rss_after_load, s.rss_peak
        ));
        println!("{row}");
    }
}

/// The median; the mean of the middle two for an even count.
pub fn median(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// 12345.6 → "12,346".
fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn today() -> String {
    chrono::Utc::now().format("%Y-%m-%d").to_string()
}

/// "2 × AMD EPYC": the CPUs this process may use and their model.
fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            let line = info.lines().find(|l| l.starts_with("model name"))?;
            Some(line.split_once(':')?.1.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!("{cpus} × {model}")
}

/// The 1-minute load average, as the kernel reports it.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "unknown".into())
}

/// This run's command, as typed (with the binary called `herald`).
pub fn command_line() -> String {
    let mut words = vec!["herald".to_owned()];
    words.extend(std::env::args().skip(1));
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_of_odd_and_even_counts() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(vec![]).is_nan());
    }

    #[test]
    fn thousands_are_separated() {
        assert_eq!(thousands(1234567.4), "1,234,567");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(thousands(1000.0), "1,000");
    }
}
