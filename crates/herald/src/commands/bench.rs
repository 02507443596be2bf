//! `herald bench`: end-to-end durable webhook throughput, as a ratio against a bare HTTP client
//! posting to the same local sink in the same run, and accept-to-receipt latency at a fixed rate.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::StatusCode;
use herald_domain::RetrySchedule;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

const TOKEN: &str = "bench-owner-token-0123456789abcdef";

#[derive(clap::Args)]
pub struct BenchArgs {
    /// Events (and baseline requests) in the throughput run.
    #[arg(long, default_value_t = 20_000)]
    events: usize,
    /// Concurrent clients posting events (and baseline requests).
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Events per second in the latency run.
    #[arg(long, default_value_t = 500)]
    rate: u32,
    /// Length of the latency run.
    #[arg(long, default_value = "10s", value_parser = herald_domain::duration::parse)]
    latency_for: Duration,
    /// Herald's database; a temporary SQLite file by default.
    #[arg(long)]
    database_url: Option<String>,
    /// Deliveries in flight at once.
    #[arg(long, default_value_t = 64)]
    workers: usize,
    /// Measure routing instead: the cost of routing one event with many integrations and
    /// integration events in the store (see `--integrations`).
    #[arg(long)]
    routing: bool,
    #[command(flatten)]
    routing_args: super::bench_routing::RoutingArgs,
}

/// A webhook receiver that answers 204 and notes when each event id arrived.
#[derive(Clone, Default)]
struct Sink {
    count: Arc<AtomicUsize>,
    arrivals: Arc<Mutex<HashMap<String, Instant>>>,
    arrived: Arc<Notify>,
}

impl Sink {
    async fn start(&self) -> SocketAddr {
        let sink = self.clone();
        let app = axum::Router::new().fallback(move |body: Bytes| {
            let sink = sink.clone();
            async move {
                let now = Instant::now();
                if let Some(id) = event_id(&body) {
                    sink.arrivals.lock().unwrap().insert(id, now);
                }
                sink.count.fetch_add(1, Ordering::Relaxed);
                sink.arrived.notify_waiters();
                StatusCode::NO_CONTENT
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the sink");
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        addr
    }

    async fn wait_for(&self, count: usize) {
        loop {
            let notified = self.arrived.notified();
            if self.count.load(Ordering::Relaxed) >= count {
                return;
            }
            let _ = tokio::time::timeout(Duration::from_millis(50), notified).await;
        }
    }

    fn reset(&self) {
        self.count.store(0, Ordering::Relaxed);
        self.arrivals.lock().unwrap().clear();
    }
}

/// The envelope starts with its id: `{"id":"evt_…"`.
fn event_id(body: &[u8]) -> Option<String> {
    let rest = body.strip_prefix(br#"{"id":""#)?;
    let end = rest.iter().position(|&b| b == b'"')?;
    String::from_utf8(rest[..end].to_vec()).ok()
}

pub async fn run(args: BenchArgs) -> Result<(), String> {
    if args.routing {
        return super::bench_routing::run(&args.routing_args, args.database_url.as_deref()).await;
    }
    let sink = Sink::default();
    let sink_addr = sink.start().await;
    let sink_url = format!("http://{sink_addr}/hook");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .build()
        .unwrap();

    // Baseline: a bare client posting an envelope-sized body straight to the sink.
    let body = vec![b'x'; 420];
    let started = Instant::now();
    run_clients(args.events, args.concurrency, |_| {
        let (client, url, body) = (client.clone(), sink_url.clone(), body.clone());
        async move {
            client
                .post(&url)
                .body(body)
                .send()
                .await
                .map_err(|e| e.to_string())?;
            Ok(())
        }
    })
    .await?;
    sink.wait_for(args.events).await;
    let baseline = args.events as f64 / started.elapsed().as_secs_f64();
    sink.reset();

    // Herald: accept over the API, store durably, deliver to the same sink.
    let data = tempfile::tempdir().map_err(|e| e.to_string())?;
    let herald = start_herald(&args, data.path()).await?;
    let api = format!("http://{}", herald.addr);
    let create = serde_json::json!({"kind": "webhook", "name": "bench sink", "config": {"webhook_url": sink_url}});
    let response = client
        .post(format!("{api}/v1/integrations"))
        .bearer_auth(TOKEN)
        .json(&create)
        .send()
        .await;
    if !response.map_err(|e| e.to_string())?.status().is_success() {
        return Err("could not create the bench integration".into());
    }
    let event =
        serde_json::json!({"type": "scan_done", "target_id": "repo-1", "title": "Scan finished"});
    let started = Instant::now();
    run_clients(args.events, args.concurrency, |_| {
        emit(client.clone(), api.clone(), event.clone())
    })
    .await?;
    let accepted_in = started.elapsed();
    sink.wait_for(args.events).await;
    let delivered_in = started.elapsed();
    let throughput = args.events as f64 / delivered_in.as_secs_f64();
    sink.reset();

    // Latency at a fixed rate: from sending the event to its arrival at the sink.
    let total = (args.latency_for.as_secs_f64() * f64::from(args.rate)) as usize;
    let sent = Arc::new(Mutex::new(HashMap::with_capacity(total)));
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(args.rate)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..total {
        ticker.tick().await;
        let (client, api, event, sent) = (client.clone(), api.clone(), event.clone(), sent.clone());
        tasks.spawn(async move {
            let at = Instant::now();
            let id = emit_id(&client, &api, &event).await?;
            sent.lock().unwrap().insert(id, at);
            Ok::<_, String>(())
        });
    }
    while let Some(result) = tasks.join_next().await {
        result.map_err(|e| e.to_string())??;
    }
    sink.wait_for(total).await;
    let arrivals = sink.arrivals.lock().unwrap().clone();
    let mut latencies: Vec<Duration> = sent
        .lock()
        .unwrap()
        .iter()
        .filter_map(|(id, at)| {
            arrivals
                .get(id)
                .map(|arrived| arrived.saturating_duration_since(*at))
        })
        .collect();
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    let peak_rss = peak_rss_mib();

    herald.shutdown.cancel();
    let _ = herald.task.await;

    println!(
        "herald bench: {} events, {} clients, {} workers, {}",
        args.events, args.concurrency, args.workers, herald.database
    );
    println!("  baseline (bare HTTP client -> sink)   {baseline:>10.0} req/s");
    println!(
        "  herald (API -> durable -> sink)       {throughput:>10.0} events/s   ratio {:.1}%   (all accepted in {:.2}s)",
        100.0 * throughput / baseline,
        accepted_in.as_secs_f64()
    );
    println!(
        "  latency at {} events/s over {} events: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        args.rate,
        latencies.len(),
        ms(pct(0.50)),
        ms(pct(0.99)),
        ms(*latencies.last().unwrap())
    );
    println!("  peak RSS of this process (Herald + load generator + sink): {peak_rss:.1} MiB");
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

struct RunningHerald {
    addr: SocketAddr,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<()>,
    database: String,
}

async fn start_herald(
    args: &BenchArgs,
    data_dir: &std::path::Path,
) -> Result<RunningHerald, String> {
    let database_url = args.database_url.clone();
    let database = match &database_url {
        Some(url) if url.starts_with("postgres") => "PostgreSQL".to_owned(),
        _ => "SQLite".to_owned(),
    };
    let config = herald_server::ServeConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        data_dir: data_dir.to_path_buf(),
        database_url,
        retry_schedule: RetrySchedule::default(),
        bootstrap_token: Some(TOKEN.into()),
        master_key: Some(herald_crypto::MasterKey::generate().to_base64()),
        outbound_allow_cidrs: "127.0.0.0/8".into(),
        provider_endpoints: String::new(),
        enable_script_provider: false,
        workers: args.workers,
        delivery_lease: Duration::from_secs(60),
        poll_interval: Duration::from_secs(1),
        request_timeout: Duration::from_secs(30),
        credential_cache_ttl: Duration::from_secs(15 * 60),
        ..herald_server::ServeConfig::default()
    };
    let server = herald_server::Server::bind(&config)
        .await
        .map_err(|e| herald_server::error_chain(&e))?;
    let addr = server.local_addr();
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    let task = tokio::spawn(async move {
        let _ = server.run(stop).await;
    });
    Ok(RunningHerald {
        addr,
        shutdown,
        task,
        database,
    })
}

async fn emit(
    client: reqwest::Client,
    api: String,
    event: serde_json::Value,
) -> Result<(), String> {
    emit_id(&client, &api, &event).await.map(|_| ())
}

async fn emit_id(
    client: &reqwest::Client,
    api: &str,
    event: &serde_json::Value,
) -> Result<String, String> {
    let response = client
        .post(format!("{api}/v1/events"))
        .bearer_auth(TOKEN)
        .json(event)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if response.status() != StatusCode::ACCEPTED {
        return Err(format!("emit answered {}", response.status()));
    }
    let body: serde_json::Value = response.json().await.map_err(|e| e.to_string())?;
    Ok(body["id"].as_str().unwrap_or_default().to_owned())
}

/// Runs `total` calls of `call` over `concurrency` tasks, each awaiting its share in turn.
async fn run_clients<F, Fut>(total: usize, concurrency: usize, call: F) -> Result<(), String>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = Result<(), String>> + Send + 'static,
{
    let mut tasks = tokio::task::JoinSet::new();
    let per_task = total.div_ceil(concurrency);
    for worker in 0..concurrency {
        let share: Vec<Fut> = (worker * per_task..((worker + 1) * per_task).min(total))
            .map(&call)
            .collect();
        tasks.spawn(async move {
            for call in share {
                call.await?;
            }
            Ok::<_, String>(())
        });
    }
    while let Some(result) = tasks.join_next().await {
        result.map_err(|e| e.to_string())??;
    }
    Ok(())
}

/// Peak resident set size (VmHWM) of this process.
fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
            line.split_whitespace().nth(1)?.parse::<f64>().ok()
        })
        .map_or(0.0, |kib| kib / 1024.0)
}
