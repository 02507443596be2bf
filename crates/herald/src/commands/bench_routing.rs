//! `herald bench --routing`: the cost of routing one event with many integrations and
//! integration events in the store, through the code ingest uses (`OrgRouting::route`: the
//! catalogue check, then the routing index). Two organisations share one fixed core of 100
//! integrations that the probe events can reach; the large one adds integrations whose
//! integration events never match the probes. Equal figures mean the cost does not grow with
//! what does not match.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use chrono::Utc;
use herald_domain::{
    Event, EventId, EventInput, Filters, Integration, IntegrationEvent, IntegrationEventId,
    IntegrationId, Kind, OrgId, RetrySchedule, Scope, ScopeId, ScopeKind, SupplyId, Trigger,
};
use herald_store::{IntegrationRow, ScopeRow, Store, SupplyRow};

#[derive(clap::Args)]
pub struct RoutingArgs {
    /// Integrations in the large organisation (100 of them can match the probe events).
    #[arg(long, default_value_t = 10_000)]
    integrations: usize,
    /// Integration events per integration.
    #[arg(long, default_value_t = 10)]
    integration_events_per_integration: usize,
    /// Events routed and timed per organisation.
    #[arg(long, default_value_t = 20_000)]
    probes: usize,
}

/// Integrations the probe events can reach, in both organisations.
const CORE: usize = 100;
const TRIGGERS: [&str; 18] = [
    "iac.run.queued",
    "iac.run.planning",
    "iac.run.plan_finished",
    "iac.run.waiting_for_approval",
    "iac.run.applying",
    "iac.run.applied",
    "iac.run.failed",
    "iac.run.cancelled",
    "iac.run.rejected",
    "iac.run.*",
    "health.state_changed",
    "health.incident.created",
    "health.incident.resolved",
    "health.maintenance.started",
    "health.maintenance.ended",
    "health.*",
    "security.scan.*",
    "iac.*",
];

/// A small deterministic generator: the same store every run.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % n
    }
}

pub async fn run(args: &RoutingArgs, database_url: Option<&str>) -> Result<(), String> {
    let data = tempfile::tempdir().map_err(|e| e.to_string())?;
    let config = herald_server::ServeConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        data_dir: data.path().to_path_buf(),
        database_url: database_url.map(str::to_owned),
        retry_schedule: RetrySchedule::default(),
        bootstrap_token: Some("bench-owner-token-0123456789abcdef".into()),
        master_key: Some(herald_crypto::MasterKey::generate().to_base64()),
        outbound_allow_cidrs: String::new(),
        provider_endpoints: String::new(),
        enable_script_provider: false,
        workers: 0,
        delivery_lease: Duration::from_secs(60),
        poll_interval: Duration::from_secs(1),
        request_timeout: Duration::from_secs(30),
        credential_cache_ttl: Duration::from_secs(15 * 60),
        ..herald_server::ServeConfig::default()
    };
    let engine = herald_server::build_engine(&config)
        .await
        .map_err(|e| herald_server::error_chain(&e))?;
    let store = engine.store();
    let stamp = Utc::now().timestamp_millis();
    let large = store
        .ensure_org(&format!("bench-routing-large-{stamp}"))
        .await
        .map_err(|e| e.to_string())?;
    let small = store
        .ensure_org(&format!("bench-routing-small-{stamp}"))
        .await
        .map_err(|e| e.to_string())?;
    let per = args.integration_events_per_integration;
    println!(
        "herald bench --routing: seeding {} integrations with {} integration events, and {CORE} with {} …",
        args.integrations,
        args.integrations * per,
        CORE * per
    );
    let seeded = Instant::now();
    seed(store, &large, args.integrations.max(CORE), per).await?;
    seed(store, &small, CORE, per).await?;
    println!("  seeded in {:.1}s", seeded.elapsed().as_secs_f64());

    let mut results = Vec::new();
    for (org, integrations) in [(&large, args.integrations.max(CORE)), (&small, CORE)] {
        let loading = Instant::now();
        let routing = engine.routing_for(org).await.map_err(|e| e.to_string())?;
        let loaded_in = loading.elapsed();
        let mut rng = Lcg(99);
        let events: Vec<Event> = (0..args.probes).map(|_| probe(&mut rng)).collect();
        // Warm up, then time each event.
        for event in events.iter().take(1000) {
            std::hint::black_box(routing.route(event).map_err(|e| e.to_string())?);
        }
        let mut timings = Vec::with_capacity(events.len());
        let mut deliveries = 0;
        for event in &events {
            let started = Instant::now();
            let routed = routing.route(event).map_err(|e| e.to_string())?;
            timings.push(started.elapsed());
            deliveries += routed.len();
        }
        timings.sort();
        let pct = |p: f64| timings[((timings.len() as f64 * p) as usize).min(timings.len() - 1)];
        let (median, p99) = (pct(0.5), pct(0.99));
        println!(
            "  {integrations:>6} integrations, {:>7} integration events: median {:>7.1} µs, p99 {:>7.1} µs per event, {:.1} deliveries per event; index loaded and built in {:.0} ms",
            integrations * per,
            median.as_secs_f64() * 1e6,
            p99.as_secs_f64() * 1e6,
            deliveries as f64 / events.len() as f64,
            loaded_in.as_secs_f64() * 1e3,
        );
        results.push(median);
    }
    println!(
        "  ratio of medians (large / small): {:.2}",
        results[0].as_secs_f64() / results[1].as_secs_f64()
    );
    Ok(())
}

/// A probe: an IaC or health event about one of the core modules, naming only its module.
fn probe(rng: &mut Lcg) -> Event {
    let exact: Vec<&str> = TRIGGERS
        .iter()
        .copied()
        .filter(|t| !t.ends_with('*'))
        .collect();
    let event_type = exact[rng.next(exact.len())];
    let module = format!("m{}", rng.next(CORE));
    let severity = ["info", "high", "critical"][rng.next(3)];
    let body = serde_json::json!({"type": event_type, "target_id": module, "severity": severity});
    let input: EventInput = serde_json::from_value(body).expect("a probe is well-formed");
    let new = input.parse().expect("a probe is valid");
    Event::from_new(&EventId::generate(), &new, Utc::now())
}

/// The core's tree (10 stacks > 50 namespaces > 100 modules) and `count` integrations: the
/// first 100 demand and are supplied on the core's tree, the rest only on scopes no probe
/// event is in.
async fn seed(store: &Store, org: &OrgId, count: usize, per: usize) -> Result<(), String> {
    let now = Utc::now();
    let scope = |kind, name: String, parent: Option<String>| ScopeRow {
        id: ScopeId::generate(),
        org_id: org.clone(),
        kind,
        name,
        parent,
        created_at: now,
    };
    let mut tree = Vec::new();
    tree.extend((0..10).map(|s| scope(ScopeKind::Stack, format!("s{s}"), None)));
    tree.extend((0..50).map(|n| {
        scope(
            ScopeKind::Namespace,
            format!("n{n}"),
            Some(format!("s{}", n % 10)),
        )
    }));
    tree.extend((0..CORE).map(|m| {
        scope(
            ScopeKind::Module,
            format!("m{m}"),
            Some(format!("n{}", m % 50)),
        )
    }));
    for row in &tree {
        store.insert_scope(row).await.map_err(|e| e.to_string())?;
    }
    let mut rng = Lcg(7);
    let mut integrations = Vec::with_capacity(count);
    let mut supplies = Vec::with_capacity(count);
    let mut demands = Vec::with_capacity(count * per);
    for i in 0..count {
        let core = i < CORE;
        let integration = Integration {
            id: IntegrationId::generate(),
            org_id: org.clone(),
            kind: Kind::Webhook,
            name: format!("bench-{i}"),
            enabled: true,
            filters: Filters::default(),
            supplied_to_all_modules: core && i % 10 == 0,
            disabled_reason: None,
            paused_at: None,
            destinations: None,
            config_keys: vec!["webhook_url".into()],
            template: None,
            created_at: now,
            updated_at: now,
        };
        let (kind, name) = if core {
            (ScopeKind::Stack, format!("s{}", i % 10))
        } else {
            (ScopeKind::Stack, format!("xs{}", rng.next(100)))
        };
        supplies.push(SupplyRow {
            id: SupplyId::generate(),
            org_id: org.clone(),
            integration_id: integration.id.clone(),
            kind,
            scope_name: name,
            created_at: now,
        });
        for d in 0..per {
            let scope = if core {
                match rng.next(20) {
                    0 => Scope::Organisation,
                    1..=3 => Scope::Named(ScopeKind::Stack, format!("s{}", rng.next(10))),
                    4..=8 => Scope::Named(ScopeKind::Namespace, format!("n{}", rng.next(50))),
                    _ => Scope::Named(ScopeKind::Module, format!("m{}", rng.next(CORE))),
                }
            } else {
                match rng.next(20) {
                    0 => Scope::Named(ScopeKind::Stack, format!("xs{}", rng.next(100))),
                    1..=4 => Scope::Named(ScopeKind::Namespace, format!("xn{}", rng.next(1000))),
                    _ => Scope::Named(ScopeKind::Module, format!("x{}", rng.next(10_000))),
                }
            };
            demands.push(IntegrationEvent {
                id: IntegrationEventId::generate(),
                org_id: org.clone(),
                integration_id: integration.id.clone(),
                name: format!("d{d}"),
                trigger: Trigger::parse(TRIGGERS[rng.next(TRIGGERS.len())])
                    .expect("bench triggers parse"),
                scope,
                environments: None,
                min_severity: None,
                enabled: true,
                template: None,
                destinations: None,
                created_at: now,
                updated_at: now,
            });
        }
        integrations.push(IntegrationRow {
            integration,
            config_sealed: String::from("not-opened-by-routing"),
        });
    }
    store
        .insert_routing_bulk(&integrations, &supplies, &demands)
        .await
        .map_err(|e| e.to_string())
}
