//! Storage faults, against the real binary: SQLite on a small filesystem filled to the brim,
//! then given space again; a private PostgreSQL stopped for 10 s, then started. While the
//! database cannot serve, `POST /v1/events` answers 503 with Retry-After within about a second
//! (never a hang, never a 500) and `/readyz` is red; afterwards Herald recovers by itself,
//! without a restart, and every acknowledged event is delivered.

mod support;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use herald_testkit::Receiver;
use serde_json::{json, Value};
use support::postgres::PrivatePostgres;
use support::{post_event, readyz, Herald};

/// A 503 may take the pool's 1 s wait for a connection; allow for a loaded machine.
const FAST_ENOUGH: Duration = Duration::from_secs(3);

/// What the clients saw while the database was away.
#[derive(Default)]
struct Tally {
    accepted: Vec<String>,
    unavailable: usize,
    slowest: Duration,
}

impl Tally {
    /// Records an answer, asserting it is a 202 or a quick 503 with Retry-After.
    fn record(&mut self, answer: support::Answer) {
        self.slowest = self.slowest.max(answer.took);
        match answer.status {
            202 => self
                .accepted
                .push(answer.body["id"].as_str().unwrap().to_owned()),
            503 => {
                assert_eq!(answer.retry_after.as_deref(), Some("1"), "{}", answer.body);
                assert_eq!(answer.body["error"]["code"], "unavailable");
                assert!(answer.took < FAST_ENOUGH, "a 503 took {:?}", answer.took);
                self.unavailable += 1;
            }
            other => panic!("answered {other}: {}", answer.body),
        }
    }
}

fn event(i: usize) -> Value {
    json!({"type": "scan_done", "title": format!("event {i}"), "summary": "x".repeat(2000)})
}

/// Waits until every accepted event has reached the receiver.
async fn all_delivered(receiver: &Receiver, accepted: &[String], limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        let seen: HashSet<String> = receiver
            .received()
            .iter()
            .filter_map(|r| r.json()["id"].as_str().map(str::to_owned))
            .collect();
        let missing: Vec<&String> = accepted.iter().filter(|id| !seen.contains(*id)).collect();
        if missing.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {} acknowledged events were not delivered: {missing:?}",
            missing.len(),
            accepted.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Posts events until one is accepted; returns how long that took.
async fn until_accepted(herald: &Herald, tally: &mut Tally, limit: Duration) -> Duration {
    let client = reqwest::Client::new();
    let started = Instant::now();
    let mut i = 10_000;
    loop {
        i += 1;
        let answer = post_event(&client, herald.base(), &event(i))
            .await
            .expect("herald answers");
        let accepted = answer.status == 202;
        tally.record(answer);
        if accepted {
            return started.elapsed();
        }
        assert!(started.elapsed() < limit, "not accepting events again");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A tmpfs of `size`, unmounted (lazily, so a straggling process cannot block it) on drop.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(size: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .expect("mount");
        assert!(
            status.success(),
            "this test mounts a small tmpfs, which needs root"
        );
        Self { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a file until the filesystem is full to the last byte.
    fn fill(&self) -> PathBuf {
        use std::io::Write;
        let path = self.path().join("filler");
        let mut file = std::fs::File::create(&path).unwrap();
        let block = vec![0u8; 4096];
        while file.write_all(&block).is_ok() {}
        let _ = file.write_all(&[0]);
        let _ = file.sync_all();
        path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

#[tokio::test]
async fn sqlite_on_a_full_disk_answers_503_and_recovers_when_space_returns() {
    let disk = SmallDisk::mount("3m");
    let receiver = Receiver::start().await;
    let herald = Herald::start(&[("HERALD_DATA_DIR", disk.path().display().to_string())]);
    herald.webhook("sink", &receiver.url("/sink"), None).await;
    let client = reqwest::Client::new();
    let mut tally = Tally::default();
    for i in 0..5 {
        tally.record(post_event(&client, herald.base(), &event(i)).await.unwrap());
    }
    assert_eq!(tally.accepted.len(), 5);

    // Full: writes fail as soon as the database needs a new page.
    let filler = disk.fill();
    let full_since = Instant::now();
    let mut i = 100;
    while tally.unavailable < 20 {
        i += 1;
        let answer = post_event(&client, herald.base(), &event(i))
            .await
            .expect("herald answers");
        tally.record(answer);
        assert!(
            full_since.elapsed() < Duration::from_secs(60),
            "still accepting on a full disk: {} accepted",
            tally.accepted.len()
        );
    }
    assert_eq!(readyz(&client, herald.base()).await, 503, "/readyz is red");
    let health = client
        .get(format!("{}/healthz", herald.base()))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200, "/healthz stays a liveness check");

    // Space again: Herald recovers by itself, without a restart.
    std::fs::remove_file(filler).unwrap();
    let recovered = until_accepted(&herald, &mut tally, Duration::from_secs(15)).await;
    assert_eq!(
        readyz(&client, herald.base()).await,
        200,
        "/readyz is green"
    );
    for i in 200..210 {
        tally.record(post_event(&client, herald.base(), &event(i)).await.unwrap());
    }
    println!(
        "SQLite full disk: {} answered 503 (slowest answer {:?}); accepting again {recovered:?} after space returned; {} acknowledged",
        tally.unavailable,
        tally.slowest,
        tally.accepted.len()
    );
    all_delivered(&receiver, &tally.accepted, Duration::from_secs(30)).await;
    let log = herald.log.lock().unwrap().join("\n");
    assert!(!log.contains("non-zero transaction depth"), "{log}");
    drop(herald);
}

#[tokio::test]
async fn postgres_stopped_for_10_s_answers_503_and_recovers_when_it_is_back() {
    let postgres = PrivatePostgres::start();
    let receiver = Receiver::start().await;
    let herald = Herald::start(&[
        ("HERALD_DATABASE_URL", postgres.url()),
        (
            "HERALD_MASTER_KEY",
            herald_crypto::MasterKey::generate().to_base64(),
        ),
    ]);
    herald.webhook("sink", &receiver.url("/sink"), None).await;
    let client = reqwest::Client::new();
    let mut tally = Tally::default();
    for i in 0..5 {
        tally.record(post_event(&client, herald.base(), &event(i)).await.unwrap());
    }

    postgres.down();
    let down_since = Instant::now();
    let mut i = 100;
    let mut red = false;
    while down_since.elapsed() < Duration::from_secs(10) {
        i += 1;
        let answer = post_event(&client, herald.base(), &event(i))
            .await
            .expect("herald answers");
        assert_eq!(answer.status, 503, "{}", answer.body);
        tally.record(answer);
        red |= readyz(&client, herald.base()).await == 503;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(red, "/readyz turned red");
    assert!(tally.unavailable >= 5);

    postgres.up();
    let recovered = until_accepted(&herald, &mut tally, Duration::from_secs(15)).await;
    assert_eq!(
        readyz(&client, herald.base()).await,
        200,
        "/readyz is green"
    );
    for i in 200..210 {
        tally.record(post_event(&client, herald.base(), &event(i)).await.unwrap());
    }
    println!(
        "PostgreSQL down for 10 s: {} answered 503 (slowest answer {:?}); accepting again {recovered:?} after it was back; {} acknowledged",
        tally.unavailable,
        tally.slowest,
        tally.accepted.len()
    );
    all_delivered(&receiver, &tally.accepted, Duration::from_secs(30)).await;
}
