//! `herald bench`: durable end-to-end webhook throughput as a share of the fastest bare
//! client, fan-out, latency at fixed rates and Herald's own memory.
//!
//! The load generator and the sink run in this process on hyper (keep-alive, no Nagle); Herald
//! runs as a child `herald serve` on a fresh database, so its RSS is its own. Each round runs
//! the bare client against the sink, then Herald; the report gives the median of the rounds
//! and a Markdown row with the date, the machine and the command.

mod herald_process;
mod http;
mod load;
mod report;

use std::time::Duration;

use herald_process::{Backend, HeraldProcess};
use http::Sink;
use report::{HeraldRound, LatencyAtRate, Summary};

#[derive(clap::Args)]
pub struct BenchArgs {
    /// Back-end(s) to measure: `sqlite` (a temporary file) or a postgres:// URL of a server on
    /// which each round creates and drops a database of its own (the role needs CREATEDB).
    /// Repeat to measure both in one run.
    #[arg(long = "database", visible_alias = "database-url", default_value = "sqlite", value_parser = Backend::parse)]
    databases: Vec<Backend>,
    /// Rounds per back-end; each runs the bare client, then Herald. The report gives medians.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..))]
    rounds: u32,
    /// Events (and bare-client requests) in each throughput run.
    #[arg(long, default_value_t = 20_000)]
    events: usize,
    /// Concurrent client connections, each sending its requests one after another.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Integrations (webhooks to the sink) in the fan-out run, counted in deliveries.
    #[arg(long, default_value_t = 10)]
    fanout: usize,
    /// Events in the fan-out run (each becomes `--fanout` deliveries).
    #[arg(long, default_value_t = 5_000)]
    fanout_events: usize,
    /// Rates (events per second, comma-separated) of the open-loop latency runs: from sending
    /// `POST /v1/events` to the receipt of its delivery at the sink.
    #[arg(long, value_delimiter = ',', default_value = "500,2000")]
    rates: Vec<u32>,
    /// Length of each latency run.
    #[arg(long, default_value = "5s", value_parser = herald_domain::duration::parse)]
    latency_for: Duration,
    /// Herald's delivery workers (HERALD_WORKERS); Herald's default if not given. Other
    /// `HERALD_*` variables in the environment reach Herald too.
    #[arg(long)]
    workers: Option<usize>,
    /// Run Herald under this program, e.g. `--herald-wrapper "valgrind --tool=callgrind"` to
    /// profile it under the bench's load (split on spaces).
    #[arg(long, value_delimiter = ' ', num_args = 1)]
    herald_wrapper: Vec<String>,
    /// Measure routing instead: the cost of routing one event with many integrations and
    /// integration events in the store (see `--integrations`).
    #[arg(long)]
    routing: bool,
    #[command(flatten)]
    routing_args: super::bench_routing::RoutingArgs,
}

/// How long a phase may wait for its deliveries before the bench gives up.
const PATIENCE: Duration = Duration::from_secs(300);

pub async fn run(args: BenchArgs) -> Result<(), String> {
    if args.routing {
        let postgres = args.databases.iter().find_map(|backend| match backend {
            Backend::Postgres(url) => Some(url.as_str()),
            Backend::Sqlite => None,
        });
        return super::bench_routing::run(&args.routing_args, postgres).await;
    }
    // A run of zero events would wait its whole patience for deliveries that never come.
    if args.concurrency == 0 || args.events == 0 || args.fanout == 0 || args.fanout_events == 0 {
        return Err(
            "--events, --fanout-events, --concurrency and --fanout must be at least 1".into(),
        );
    }
    let load_before = report::load_average();
    let sink = Sink::default();
    let sink_addr = sink.start().await?;
    println!(
        "herald bench: {} events over {} connections, fan-out {} x {} events, latency at {:?} events/s for {}s each, {} round(s); load average before: {load_before}",
        args.events,
        args.concurrency,
        args.fanout,
        args.fanout_events,
        args.rates,
        args.latency_for.as_secs_f64(),
        args.rounds
    );
    let mut summaries = Vec::new();
    for backend in &args.databases {
        let mut baselines = Vec::new();
        let mut rounds = Vec::new();
        for round in 1..=args.rounds {
            let baseline = load::baseline(&sink, sink_addr, args.events, args.concurrency).await?;
            println!(
                "  {} round {round}: bare client -> sink {baseline:.0} req/s",
                backend.name()
            );
            baselines.push(baseline);
            let herald = herald_round(&args, backend, &sink, sink_addr).await?;
            println!("  {} round {round}: {herald}", backend.name());
            rounds.push(herald);
        }
        summaries.push(Summary::new(backend.name(), &baselines, &rounds));
    }
    let load_after = report::load_average();
    println!();
    report::print_table(&summaries, &args.rates, args.fanout, args.concurrency);
    println!();
    println!("Command: `{}`", report::command_line());
    println!(
        "Medians of {} alternating round(s) per back-end; load average before {load_before}, after {load_after}.",
        args.rounds
    );
    Ok(())
}

/// One Herald process on a fresh database: throughput with one webhook, latency at each rate,
/// then fan-out with `--fanout` webhooks.
async fn herald_round(
    args: &BenchArgs,
    backend: &Backend,
    sink: &Sink,
    sink_addr: std::net::SocketAddr,
) -> Result<HeraldRound, String> {
    let herald = HeraldProcess::start(backend, args.workers, &args.herald_wrapper).await?;
    let result = measure(args, &herald, sink, sink_addr).await;
    let result = result.map_err(|e| format!("{e}\nHerald's log ends with:\n{}", herald.log_tail()));
    herald.stop().await?;
    result
}

async fn measure(
    args: &BenchArgs,
    herald: &HeraldProcess,
    sink: &Sink,
    sink_addr: std::net::SocketAddr,
) -> Result<HeraldRound, String> {
    load::create_webhook(herald.addr, sink_addr, 0).await?;
    let throughput =
        load::herald_throughput(sink, herald.addr, args.events, args.concurrency, 1).await?;
    let rss_after_load = herald.peak_rss_mib()?;
    let mut latencies = Vec::new();
    for &rate in &args.rates {
        let latency = load::latency(sink, herald.addr, rate, args.latency_for).await?;
        latencies.push(LatencyAtRate { rate, ..latency });
    }
    for n in 1..args.fanout {
        load::create_webhook(herald.addr, sink_addr, n).await?;
    }
    let fanout = load::herald_throughput(
        sink,
        herald.addr,
        args.fanout_events,
        args.concurrency,
        args.fanout,
    )
    .await?;
    Ok(HeraldRound {
        deliveries_per_s: throughput.deliveries_per_s,
        accepted_per_s: throughput.accepted_per_s,
        fanout_deliveries_per_s: fanout.deliveries_per_s,
        latencies,
        rss_after_load,
        rss_peak: herald.peak_rss_mib()?,
    })
}
