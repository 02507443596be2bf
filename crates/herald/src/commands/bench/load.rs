//! The load: the bare client against the sink, events into Herald over many connections, and
//! paced open-loop events for latency.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hyper::body::Bytes;
use hyper::StatusCode;

use super::herald_process::TOKEN;
use super::http::{envelope_id, Connection, Sink};
use super::report::LatencyAtRate;
use super::PATIENCE;

/// What every bench event is: one the catalogue knows, routed to every webhook.
const EVENT: &str =
    r#"{"type":"scan_done","target_id":"repo-1","title":"Scan finished","severity":"info"}"#;

/// The bare client's body: about the size of Herald's webhook envelope for `EVENT`.
fn baseline_body() -> Bytes {
    let mut body = String::from(r#"{"id":"evt_baseline","padding":""#);
    body.push_str(&"x".repeat(480));
    body.push_str(r#""}"#);
    Bytes::from(body)
}

/// Requests per second from a bare client over `concurrency` connections straight to the sink,
/// timed until the sink received the last one.
pub async fn baseline(
    sink: &Sink,
    sink_addr: SocketAddr,
    requests: usize,
    concurrency: usize,
) -> Result<f64, String> {
    let connections = open_all(sink_addr, concurrency, None).await?;
    let body = baseline_body();
    sink.reset(requests, false);
    let started = Instant::now();
    run_connections(connections, requests, move |mut connection| {
        let body = body.clone();
        async move {
            let answer = connection.post("/baseline", body).await?;
            expect(answer.status, StatusCode::NO_CONTENT, "the sink")?;
            Ok(connection)
        }
    })
    .await?;
    let done = sink.wait_for_target(PATIENCE).await?;
    Ok(requests as f64 / done.duration_since(started).as_secs_f64())
}

/// Adds a webhook integration that posts to the sink at `/hook/{n}`.
pub async fn create_webhook(herald: SocketAddr, sink: SocketAddr, n: usize) -> Result<(), String> {
    let body = serde_json::json!({
        "kind": "webhook",
        "name": format!("bench sink {n}"),
        "config": {"webhook_url": format!("http://{sink}/hook/{n}")},
    });
    let mut connection = Connection::open(herald, Some(TOKEN)).await?;
    let answer = connection
        .post("/v1/integrations", Bytes::from(body.to_string()))
        .await?;
    if !answer.status.is_success() {
        return Err(format!(
            "creating the bench webhook answered {}: {}",
            answer.status,
            String::from_utf8_lossy(&answer.body)
        ));
    }
    Ok(())
}

pub struct Throughput {
    /// Deliveries received by the sink per second, from the first event sent to the last
    /// delivery received.
    pub deliveries_per_s: f64,
    /// Events Herald acknowledged (202, stored durably) per second.
    pub accepted_per_s: f64,
}

/// Posts `events` events over `concurrency` connections; each becomes `integrations`
/// deliveries at the sink.
pub async fn herald_throughput(
    sink: &Sink,
    herald: SocketAddr,
    events: usize,
    concurrency: usize,
    integrations: usize,
) -> Result<Throughput, String> {
    let connections = open_all(herald, concurrency, Some(TOKEN)).await?;
    let deliveries = events * integrations;
    sink.reset(deliveries, false);
    let event = Bytes::from_static(EVENT.as_bytes());
    let started = Instant::now();
    run_connections(connections, events, move |mut connection| {
        let event = event.clone();
        async move {
            let answer = connection.post("/v1/events", event).await?;
            expect(answer.status, StatusCode::ACCEPTED, "POST /v1/events")?;
            Ok(connection)
        }
    })
    .await?;
    let accepted = started.elapsed();
    let done = sink.wait_for_target(PATIENCE).await?;
    Ok(Throughput {
        deliveries_per_s: deliveries as f64 / done.duration_since(started).as_secs_f64(),
        accepted_per_s: events as f64 / accepted.as_secs_f64(),
    })
}

/// Sends events at `rate` per second for `length`, open loop: each is sent at its time on an
/// idle connection (a new one if none is idle), whatever the earlier ones are waiting for.
/// Latency runs from just before the request is written to the receipt of its delivery.
pub async fn latency(
    sink: &Sink,
    herald: SocketAddr,
    rate: u32,
    length: Duration,
) -> Result<LatencyAtRate, String> {
    let total = ((length.as_secs_f64() * f64::from(rate)).round() as usize).max(1);
    let idle = Arc::new(Mutex::new(open_all(herald, 16, Some(TOKEN)).await?));
    sink.reset(total, true);
    let event = Bytes::from_static(EVENT.as_bytes());
    let period = Duration::from_secs_f64(1.0 / f64::from(rate));
    let start = tokio::time::Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..total {
        tokio::time::sleep_until(start + period.mul_f64(i as f64)).await;
        let (idle, event) = (idle.clone(), event.clone());
        tasks.spawn(async move {
            let reused = idle.lock().unwrap().pop();
            let mut connection = match reused {
                Some(connection) => connection,
                None => Connection::open(herald, Some(TOKEN)).await?,
            };
            let sent = Instant::now();
            let answer = connection.post("/v1/events", event).await?;
            expect(answer.status, StatusCode::ACCEPTED, "POST /v1/events")?;
            let id = envelope_id(&answer.body)
                .map(|id| answer.body.slice_ref(id))
                .ok_or("the 202 answer carries no event id")?;
            idle.lock().unwrap().push(connection);
            Ok::<_, String>((id, sent))
        });
    }
    let mut sent = HashMap::with_capacity(total);
    while let Some(result) = tasks.join_next().await {
        let (id, at) = result.map_err(|e| e.to_string())??;
        sent.insert(id, at);
    }
    sink.wait_for_target(PATIENCE).await?;
    let mut latencies: Vec<Duration> = sink
        .take_arrivals()
        .into_iter()
        .filter_map(|(id, arrived)| Some(arrived.saturating_duration_since(*sent.get(&id)?)))
        .collect();
    if latencies.len() < total {
        return Err(format!(
            "{} of {total} deliveries could be matched to their events",
            latencies.len()
        ));
    }
    latencies.sort();
    Ok(LatencyAtRate {
        rate,
        p50: percentile(&latencies, 0.50),
        p99: percentile(&latencies, 0.99),
        max: *latencies.last().expect("at least one latency"),
    })
}

/// The nearest-rank percentile of sorted samples.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn expect(status: StatusCode, wanted: StatusCode, what: &str) -> Result<(), String> {
    if status == wanted {
        Ok(())
    } else {
        Err(format!("{what} answered {status}, not {wanted}"))
    }
}

async fn open_all(
    addr: SocketAddr,
    count: usize,
    bearer: Option<&str>,
) -> Result<Vec<Connection>, String> {
    let mut connections = Vec::with_capacity(count);
    for _ in 0..count {
        connections.push(Connection::open(addr, bearer).await?);
    }
    Ok(connections)
}

/// Runs `total` calls spread evenly over the connections, each connection making its calls one
/// after another.
async fn run_connections<F, Fut>(
    connections: Vec<Connection>,
    total: usize,
    call: F,
) -> Result<(), String>
where
    F: Fn(Connection) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Result<Connection, String>> + Send,
{
    let count = connections.len();
    let mut tasks = tokio::task::JoinSet::new();
    for (index, mut connection) in connections.into_iter().enumerate() {
        let share = total / count + usize::from(index < total % count);
        let call = call.clone();
        tasks.spawn(async move {
            for _ in 0..share {
                connection = call(connection).await?;
            }
            Ok::<_, String>(())
        });
    }
    while let Some(result) = tasks.join_next().await {
        result.map_err(|e| e.to_string())??;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let samples: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&samples, 0.50), Duration::from_millis(50));
        assert_eq!(percentile(&samples, 0.99), Duration::from_millis(99));
        assert_eq!(percentile(&samples[..1], 0.99), Duration::from_millis(1));
    }
}
