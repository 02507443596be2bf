//! Isolation between destinations, against the real binary with its 15 s request timeout:
//! hanging endpoints hold only their share of the default workers, a burst into a slow endpoint
//! drains at the pace of the whole pool, and SIGTERM with hanging requests ends within the grace
//! period, giving the deliveries back for the next instance at once.

mod support;

use std::time::{Duration, Instant};

use herald_testkit::{Receiver, Reply};
use serde_json::json;
use support::{Herald, TOKEN};

/// The real defaults, not the fast ones the other binary tests use.
fn production_timing(data_dir: &std::path::Path) -> Vec<(&'static str, String)> {
    vec![
        ("HERALD_DATA_DIR", data_dir.display().to_string()),
        ("HERALD_REQUEST_TIMEOUT", "15s".into()),
        ("HERALD_DELIVERY_LEASE", "60s".into()),
        ("HERALD_POLL_INTERVAL", "1s".into()),
        ("HERALD_RETRY_SCHEDULE", "5s,5m".into()),
    ]
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

#[tokio::test]
async fn two_hanging_endpoints_leave_the_pool_to_a_healthy_one() {
    let dir = tempfile::tempdir().unwrap();
    let herald = Herald::start(&production_timing(dir.path()));
    let (hang_a, hang_b, healthy) = (
        Receiver::start().await,
        Receiver::start().await,
        Receiver::start().await,
    );
    hang_a.set_fallback(Reply::hang());
    hang_b.set_fallback(Reply::hang());
    herald.webhook("hangs a", &hang_a.url("/a"), None).await;
    herald.webhook("hangs b", &hang_b.url("/b"), None).await;
    herald.webhook("healthy", &healthy.url("/ok"), None).await;

    // Each event goes to all three, one every 100 ms: 80 deliveries to hanging endpoints.
    let mut sent = std::collections::HashMap::new();
    let first_sent = Instant::now();
    for i in 0..40 {
        let before = Instant::now();
        let id = herald
            .emit(json!({"type": "scan_done", "title": format!("scan {i}")}))
            .await;
        sent.insert(id, before);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let arrived = healthy.wait_for(40, Duration::from_secs(20)).await;
    let latencies: Vec<Duration> = arrived
        .iter()
        .map(|r| r.at - sent[r.json()["id"].as_str().unwrap()])
        .collect();
    let worst = *latencies.iter().max().unwrap();
    let median = median(latencies);
    println!("healthy deliveries beside two hanging endpoints: median {median:?}, worst {worst:?}");
    assert!(median < Duration::from_secs(2), "median {median:?}");
    // Each hanging endpoint holds its share (an eighth of the default workers), no more, until
    // its requests time out after 15 s.
    let share = herald_engine::DEFAULT_WORKERS / 8;
    assert!(share < 40, "the test sends more than a share");
    if first_sent.elapsed() < Duration::from_secs(14) {
        assert_eq!(hang_a.received().len(), share);
        assert_eq!(hang_b.received().len(), share);
    }
}

#[tokio::test]
async fn a_burst_into_a_slow_endpoint_drains_at_the_pace_of_the_pool() {
    const BURST: usize = 128;
    const WORKERS: usize = 32;
    let dir = tempfile::tempdir().unwrap();
    // Fewer workers than the burst, so that it takes several rounds of the pool.
    let mut env = production_timing(dir.path());
    env.push(("HERALD_WORKERS", WORKERS.to_string()));
    let herald = Herald::start(&env);
    let slow = Receiver::start().await;
    slow.set_fallback(Reply::status(204).after(Duration::from_secs(1)));
    herald.webhook("slow", &slow.url("/slow"), None).await;

    let started = Instant::now();
    let client = reqwest::Client::new();
    let posts = (0..BURST).map(|i| {
        let (client, base) = (client.clone(), herald.base().to_owned());
        tokio::spawn(async move {
            let answer = support::post_event(
                &client,
                &base,
                &json!({"type": "scan_done", "title": format!("burst {i}")}),
            )
            .await
            .unwrap();
            assert_eq!(answer.status, 202);
        })
    });
    for post in posts.collect::<Vec<_>>() {
        post.await.unwrap();
    }
    let accepted = started.elapsed();
    slow.wait_for(BURST, Duration::from_secs(30)).await;
    // The last request arrived; its answer takes the endpoint's second.
    let drained = started.elapsed() + Duration::from_secs(1);
    let after_accepting = drained - accepted;
    let ideal = Duration::from_secs((BURST / WORKERS) as u64);
    println!(
        "{BURST} deliveries into a 1 s endpoint with {WORKERS} workers: all accepted after {accepted:?}, \
         drained after {drained:?}, {after_accepting:?} after the last was accepted (ideal {ideal:?})"
    );
    // The endpoint earns the whole pool with its first answers (one round at its share), so
    // one round more than ideal; on a loaded machine allow twice the ideal. (Claims that
    // waited for their lease took 21 s here.)
    assert!(
        after_accepting <= ideal * 2,
        "drained {after_accepting:?} after the last event was accepted"
    );
}

#[tokio::test]
async fn one_organisations_backlog_leaves_the_rest_of_the_pool_to_another() {
    const WORKERS: usize = 16;
    const BACKLOG: usize = 64;
    let dir = tempfile::tempdir().unwrap();
    let mut env = production_timing(dir.path());
    env.push(("HERALD_WORKERS", WORKERS.to_string()));
    // The second organisation's five deliveries fit its new destination's share; what is
    // measured is the organisations' shares.
    env.push(("HERALD_DESTINATION_WORKERS", "8".into()));
    let herald = Herald::start(&env);
    let (slow, quick) = (Receiver::start().await, Receiver::start().await);
    // Answered, so healthy: the busy organisation borrows every idle worker.
    slow.set_fallback(Reply::status(204).after(Duration::from_secs(1)));
    herald.webhook("slow", &slow.url("/slow"), None).await;

    // A second organisation, made by the operator's command, with a quick endpoint.
    let made = std::process::Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(["org", "create", "second"])
        .env("HERALD_DATA_DIR", dir.path())
        .output()
        .unwrap();
    let printed = String::from_utf8(made.stdout).unwrap();
    assert!(made.status.success(), "{printed}");
    let second_token = printed
        .split_whitespace()
        .find(|word| word.starts_with("hld_"))
        .expect("a token is printed")
        .to_owned();
    let client = reqwest::Client::new();
    let created = client
        .post(format!("{}/v1/integrations", herald.base()))
        .bearer_auth(&second_token)
        .json(&json!({"kind": "webhook", "name": "quick", "config": {"webhook_url": quick.url("/quick")}}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);

    for i in 0..BACKLOG {
        herald
            .emit(json!({"type": "scan_done", "title": format!("backlog {i}")}))
            .await;
    }
    // The pool is full of the first organisation's deliveries, and more of them wait.
    slow.wait_for(WORKERS, Duration::from_secs(5)).await;
    let mut sent = std::collections::HashMap::new();
    for i in 0..5 {
        let before = Instant::now();
        let event = json!({"type": "scan_done", "title": format!("second {i}")});
        let accepted = support::post_event_as(&client, herald.base(), &second_token, &event)
            .await
            .unwrap();
        assert_eq!(accepted.status, 202);
        sent.insert(accepted.body["id"].as_str().unwrap().to_owned(), before);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let arrived = quick.wait_for(5, Duration::from_secs(10)).await;
    let worst = arrived
        .iter()
        .map(|r| r.at - sent[r.json()["id"].as_str().unwrap()])
        .max()
        .unwrap();
    // Behind the backlog they would wait for its three more rounds of the pool (48 deliveries,
    // 16 workers, 1 s each). They take workers as those come free instead: within two rounds,
    // and before the backlog ends.
    println!("beside another organisation's backlog: worst latency {worst:?}");
    assert!(worst < Duration::from_millis(2500), "worst {worst:?}");
    let last_of_backlog = slow.wait_for(BACKLOG, Duration::from_secs(10)).await;
    let backlog_done = last_of_backlog.iter().map(|r| r.at).max().unwrap();
    let second_done = arrived.iter().map(|r| r.at).max().unwrap();
    assert!(
        second_done < backlog_done,
        "the second organisation waited for the whole backlog"
    );
}

async fn sigterm_releases_hanging_deliveries(env: Vec<(&'static str, String)>) {
    const GRACE: Duration = Duration::from_secs(3);
    let receiver = Receiver::start().await;
    receiver.set_fallback(Reply::hang());
    let mut env = env;
    env.push(("HERALD_SHUTDOWN_GRACE", "3s".into()));
    // 32 workers: the endpoint's share is 4, so four of the eight hang and four wait.
    env.push(("HERALD_WORKERS", "32".into()));
    let mut first = Herald::start(&env);
    first.webhook("hangs", &receiver.url("/hook"), None).await;
    let mut accepted = Vec::new();
    for i in 0..8 {
        accepted.push(
            first
                .emit(json!({"type": "scan_done", "title": format!("event {i}")}))
                .await,
        );
    }
    // Four in flight (the endpoint's share), four waiting unleased.
    receiver.wait_for(4, Duration::from_secs(10)).await;

    let signalled = Instant::now();
    first.sigterm();
    let status = first
        .wait_exit(GRACE + Duration::from_secs(5))
        .expect("herald exits after SIGTERM");
    let took = signalled.elapsed();
    println!("SIGTERM with 4 hanging requests: exited in {took:?} (grace {GRACE:?})");
    assert!(status.success(), "{status:?}");
    assert!(took <= GRACE + Duration::from_secs(2), "took {took:?}");
    let log = first.log.lock().unwrap().join("\n");
    assert!(
        log.contains("cancelling the attempts still running"),
        "{log}"
    );

    // The endpoint recovers; the next instance takes all eight at once, not after the 60 s
    // lease.
    receiver.set_fallback(Reply::status(204));
    let restarted = Instant::now();
    let second = Herald::start(&env);
    let arrived = receiver.wait_for(4 + 8, Duration::from_secs(10)).await;
    let took = restarted.elapsed();
    println!("the next instance delivered the released deliveries {took:?} after its start");
    let delivered: std::collections::HashSet<String> = arrived[4..]
        .iter()
        .map(|r| r.json()["id"].as_str().unwrap().to_owned())
        .collect();
    for id in &accepted {
        assert!(delivered.contains(id), "{id} was not delivered");
    }
    // A cancelled attempt was given back untouched: no attempt is on its record.
    let page = second
        .call(reqwest::Method::GET, "/v1/deliveries", None)
        .await;
    for delivery in page["data"].as_array().unwrap() {
        let id = delivery["id"].as_str().unwrap();
        let mut detail = second
            .call(reqwest::Method::GET, &format!("/v1/deliveries/{id}"), None)
            .await;
        for _ in 0..100 {
            if detail["status"] == "success" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            detail = second
                .call(reqwest::Method::GET, &format!("/v1/deliveries/{id}"), None)
                .await;
        }
        assert_eq!(detail["status"], "success", "{detail}");
        assert_eq!(detail["attempts"].as_array().unwrap().len(), 1, "{detail}");
    }
    let _ = TOKEN;
}

#[tokio::test]
async fn sqlite_sigterm_with_hanging_requests_exits_within_the_grace_and_releases() {
    let dir = tempfile::tempdir().unwrap();
    sigterm_releases_hanging_deliveries(production_timing(dir.path())).await;
}

#[tokio::test]
async fn postgres_sigterm_with_hanging_requests_exits_within_the_grace_and_releases() {
    let dir = tempfile::tempdir().unwrap();
    let mut env = production_timing(dir.path());
    env.push((
        "HERALD_DATABASE_URL",
        herald_store::testing::fresh_postgres_url().await,
    ));
    env.push((
        "HERALD_MASTER_KEY",
        herald_crypto::MasterKey::generate().to_base64(),
    ));
    sigterm_releases_hanging_deliveries(env).await;
}
