//! Chaos: the real binary, SIGKILLed at random every few seconds while clients post events and
//! the sink fails a quarter of its requests (500s, reset connections, answers slower than the
//! request timeout). Three instances share one PostgreSQL; one instance runs on SQLite.
//!
//! Afterwards every acknowledged event is delivered, every copy of a webhook-id carries the
//! same body and a valid signature, and the duplicates (at-least-once) are counted and printed.

mod support;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use herald_providers::webhook::signature::SigningSecret;
use herald_testkit::{Chaos, ChaosSink, Fate};
use rand::{Rng, SeedableRng};
use serde_json::json;
use support::{post_event, Herald};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const EMITTERS: usize = 4;

fn chaos() -> Chaos {
    Chaos {
        status_500: 0.12,
        reset: 0.07,
        // Longer than the tests' 1 s request timeout: Herald gives up, the sink answers 200
        // anyway, and the retry is a duplicate.
        slow: 0.06,
        slow_for: Duration::from_millis(1500),
    }
}

/// The running instances; a killed one is replaced at once (on a new port).
struct Fleet {
    env: Vec<(&'static str, String)>,
    instances: Vec<Herald>,
    bases: Arc<Mutex<Vec<String>>>,
}

impl Fleet {
    fn start(env: Vec<(&'static str, String)>, size: usize) -> Self {
        let instances: Vec<Herald> = (0..size).map(|_| Herald::start(&env)).collect();
        let bases = instances.iter().map(|h| h.base().to_owned()).collect();
        Self {
            env,
            instances,
            bases: Arc::new(Mutex::new(bases)),
        }
    }

    /// SIGKILLs one instance and starts its successor (on a new port), as a supervisor would.
    fn kill_and_restart(&mut self, index: usize) {
        self.instances.remove(index).kill_9();
        self.instances.insert(index, Herald::start(&self.env));
        self.bases.lock().unwrap()[index] = self.instances[index].base().to_owned();
    }
}

async fn chaos_run(env: Vec<(&'static str, String)>, size: usize, load_for: Duration) {
    let seed: u64 = rand::random();
    println!("chaos seed {seed}, {size} instance(s), load for {load_for:?}");
    let sink = ChaosSink::start(chaos(), seed).await;
    let fleet = Fleet::start(env, size);
    fleet.instances[0]
        .webhook("chaos sink", &sink.url("/hook"), Some(SECRET))
        .await;

    let accepted = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = tokio_util::sync::CancellationToken::new();
    let mut emitters = Vec::new();
    for emitter in 0..EMITTERS {
        let (bases, accepted, stop) = (fleet.bases.clone(), accepted.clone(), stop.clone());
        emitters.push(tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap();
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ emitter as u64);
            let mut n = 0;
            while !stop.is_cancelled() {
                n += 1;
                let base = {
                    let bases = bases.lock().unwrap();
                    bases[rng.gen_range(0..bases.len())].clone()
                };
                let event =
                    json!({"type": "scan_done", "title": format!("emitter {emitter} event {n}")});
                // A killed instance drops connections: such events were never acknowledged.
                if let Some(answer) = post_event(&client, &base, &event).await {
                    if answer.status == 202 {
                        let id = answer.body["id"].as_str().unwrap().to_owned();
                        accepted.lock().unwrap().push(id);
                    }
                }
                tokio::time::sleep(Duration::from_millis(rng.gen_range(20..80))).await;
            }
        }));
    }

    // SIGKILL a random instance every 2 to 4 seconds while the load runs.
    let mut fleet = fleet;
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let started = Instant::now();
    let mut kills = 0;
    loop {
        let pause = Duration::from_millis(rng.gen_range(2000..4000));
        if started.elapsed() + pause > load_for {
            break;
        }
        tokio::time::sleep(pause).await;
        let index = rng.gen_range(0..size);
        fleet = tokio::task::spawn_blocking(move || {
            fleet.kill_and_restart(index);
            fleet
        })
        .await
        .unwrap();
        kills += 1;
    }
    stop.cancel();
    for emitter in emitters {
        emitter.await.unwrap();
    }
    let accepted: Vec<String> = accepted.lock().unwrap().clone();
    println!(
        "{} events acknowledged during {:?}, {kills} SIGKILLs",
        accepted.len(),
        started.elapsed()
    );
    assert!(accepted.len() > 100, "too little load to prove anything");
    assert!(kills >= 3);

    // Every acknowledged event is delivered: the sink answered 200 to a copy of it, and Herald
    // recorded its delivery as a success.
    let deadline = Instant::now() + Duration::from_secs(90);
    let herald = &fleet.instances[0];
    loop {
        let delivered: HashSet<String> = sink
            .requests()
            .iter()
            .filter(|r| matches!(r.fate, Fate::Answered(200)))
            .filter_map(|r| {
                serde_json::from_slice::<serde_json::Value>(&r.body)
                    .ok()
                    .and_then(|body| body["id"].as_str().map(str::to_owned))
            })
            .collect();
        let missing = accepted
            .iter()
            .filter(|id| !delivered.contains(*id))
            .count();
        let mut unfinished = 0;
        for status in ["pending", "retrying", "failed"] {
            let page = herald
                .call(
                    reqwest::Method::GET,
                    &format!("/v1/deliveries?status={status}&limit=250"),
                    None,
                )
                .await;
            unfinished += page["data"].as_array().unwrap().len();
        }
        if missing == 0 && unfinished == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{missing} acknowledged events not delivered, {unfinished} deliveries unfinished"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    // Every copy of a webhook-id carries the same body and a valid signature.
    let secret = SigningSecret::parse(SECRET).unwrap();
    let now = chrono::Utc::now().timestamp();
    let mut copies: HashMap<String, Vec<&herald_testkit::ChaosRequest>> = HashMap::new();
    let requests = sink.requests();
    for request in &requests {
        let id = request
            .header("webhook-id")
            .expect("a webhook-id")
            .to_owned();
        let timestamp: i64 = request
            .header("webhook-timestamp")
            .and_then(|t| t.parse().ok())
            .expect("a webhook-timestamp");
        let signature = request.header("webhook-signature").expect("a signature");
        assert!(
            secret.verify(&id, timestamp, &request.body, signature, now),
            "a copy of {id} carries an invalid signature"
        );
        copies.entry(id).or_default().push(request);
    }
    for (id, copies) in &copies {
        assert!(
            copies.iter().all(|c| c.body == copies[0].body),
            "the copies of {id} differ"
        );
    }
    // An instance killed between its commit and its answer delivers an event the client never
    // saw acknowledged: there may be more webhook-ids than acknowledged events, never fewer.
    assert!(copies.len() >= accepted.len());
    // Duplicates: deliveries the sink accepted (200, in time or late) more than once.
    let received =
        |r: &&&herald_testkit::ChaosRequest| matches!(r.fate, Fate::Answered(200) | Fate::Slow);
    let duplicated: Vec<usize> = copies
        .values()
        .map(|c| c.iter().filter(received).count())
        .filter(|n| *n > 1)
        .collect();
    let fates = |fate: fn(&Fate) -> bool| requests.iter().filter(|r| fate(&r.fate)).count();
    println!(
        "{} requests: {} answered 200, {} 500, {} reset, {} slow; {} of {} events received more than once ({} extra copies); {} delivered without an acknowledgement",
        requests.len(),
        fates(|f| *f == Fate::Answered(200)),
        fates(|f| *f == Fate::Answered(500)),
        fates(|f| *f == Fate::Reset),
        fates(|f| *f == Fate::Slow),
        duplicated.len(),
        accepted.len(),
        duplicated.iter().map(|n| n - 1).sum::<usize>(),
        copies.len() - accepted.len(),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_instances_on_postgres_survive_sigkills_and_a_failing_sink() {
    let url = herald_store::testing::fresh_postgres_url().await;
    let key = herald_crypto::MasterKey::generate().to_base64();
    let dir = tempfile::tempdir().unwrap();
    let env = vec![
        ("HERALD_DATABASE_URL", url),
        ("HERALD_MASTER_KEY", key),
        ("HERALD_DATA_DIR", dir.path().display().to_string()),
    ];
    chaos_run(env, 3, Duration::from_secs(30)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_instance_on_sqlite_survives_sigkills_and_a_failing_sink() {
    let dir = tempfile::tempdir().unwrap();
    let env = vec![("HERALD_DATA_DIR", dir.path().display().to_string())];
    chaos_run(env, 1, Duration::from_secs(20)).await;
}
