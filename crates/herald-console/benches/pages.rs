//! How long the console's pages take to serve with 1,000 integrations and 100,000 deliveries
//! (issue 11: under 100 ms each). A bench, not a timed test: it prints each page's median and
//! 95th percentile and flags any page over budget. Run with `cargo bench -p herald-console`;
//! `--postgres` measures PostgreSQL instead of SQLite. Times are whole HTTP round trips over
//! loopback, an upper bound on the server's own time.

#[path = "../../herald-server/tests/support/mod.rs"]
#[allow(unused_imports)]
mod support;

use std::time::{Duration, Instant};

use chrono::Utc;
use herald_domain::{DeliveryId, Event, EventId, EventInput, IntegrationId, Kind};
use herald_store::{EventInsert, NewDelivery};
use serde_json::json;
use support::{Db, TOKEN};

const INTEGRATIONS: usize = 1_000;
const DELIVERIES: usize = 100_000;
const EVENTS_PER_BATCH: usize = 1_000;
const RUNS: usize = 30;
const BUDGET: Duration = Duration::from_millis(100);

#[tokio::main]
async fn main() {
    let db = match std::env::args().any(|a| a == "--postgres") {
        true => Db::Postgres,
        false => Db::Sqlite,
    };
    let mount: herald_server::Mount =
        Box::new(|state| herald_console::Console::new(state, None).surface());
    let app = support::spawn_app_mounted(db, |_| {}, vec![mount]).await;
    let store = app.engine.store().clone();
    let org = store.ensure_org("default").await.unwrap();

    let started = Instant::now();
    let mut integrations = Vec::with_capacity(INTEGRATIONS);
    for n in 0..INTEGRATIONS {
        let id = app
            .create_webhook(
                &format!("receiver {n:04}"),
                "http://127.0.0.1:9/hook",
                json!({}),
            )
            .await;
        integrations.push((
            IntegrationId::parse(&id).unwrap(),
            format!("receiver {n:04}"),
        ));
    }
    let input: EventInput =
        serde_json::from_value(json!({"type": "scan_done", "title": "Scan finished"})).unwrap();
    let new = input.parse().unwrap();
    for batch_start in (0..DELIVERIES).step_by(EVENTS_PER_BATCH) {
        let batch: Vec<_> = (batch_start..batch_start + EVENTS_PER_BATCH)
            .map(|n| {
                let id = EventId::generate();
                let now = Utc::now();
                let (integration, name) = &integrations[n % INTEGRATIONS];
                let insert = EventInsert {
                    id: id.clone(),
                    org_id: org.clone(),
                    event: Event::from_new(&id, &new, now),
                    idempotency_key: None,
                    received_at: now,
                };
                let delivery = NewDelivery {
                    id: DeliveryId::generate(),
                    integration_id: integration.clone(),
                    integration_name: name.clone(),
                    kind: Kind::Webhook,
                    destination: String::new(),
                    lease: None,
                    carried_by: None,
                };
                (insert, vec![delivery])
            })
            .collect();
        store.insert_events(&batch).await.unwrap();
    }
    println!(
        "{db:?}: {INTEGRATIONS} integrations and {DELIVERIES} deliveries stored in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let cookie = sign_in(&client, &app.base).await;
    let (first, _) = &integrations[0];
    let pages = [
        "/".to_owned(),
        "/integrations".to_owned(),
        "/integrations?failing=1".to_owned(),
        format!("/integrations/{first}"),
        format!("/integrations/{first}/edit"),
        "/deliveries".to_owned(),
        format!("/deliveries?integration_id={first}"),
        "/events".to_owned(),
        "/routing?type=scan_done".to_owned(),
    ];
    let mut over = 0;
    for page in &pages {
        let mut times = Vec::with_capacity(RUNS);
        for _ in 0..RUNS {
            let t0 = Instant::now();
            let response = client
                .get(format!("{}{page}", app.base))
                .header("cookie", &cookie)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200, "{page}");
            response.bytes().await.unwrap();
            times.push(t0.elapsed());
        }
        times.sort();
        let (median, p95) = (times[RUNS / 2], times[RUNS * 95 / 100]);
        let flag = if p95 > BUDGET {
            over += 1;
            "  OVER BUDGET"
        } else {
            ""
        };
        println!(
            "{page:<60} median {:>7.1} ms   p95 {:>7.1} ms{flag}",
            ms(median),
            ms(p95)
        );
    }
    println!(
        "{} of {} pages within {} ms at p95",
        pages.len() - over,
        pages.len(),
        BUDGET.as_millis()
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn sign_in(client: &reqwest::Client, base: &str) -> String {
    let form = client.get(format!("{base}/sign-in")).send().await.unwrap();
    let pre = form
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let body = form.text().await.unwrap();
    let start = body.find(r#"name="csrf" value=""#).unwrap() + 19;
    let csrf = body[start..].split('"').next().unwrap().to_owned();
    let signed = client
        .post(format!("{base}/sign-in"))
        .header("cookie", pre)
        .form(&[("csrf", csrf.as_str()), ("token", TOKEN)])
        .send()
        .await
        .unwrap();
    signed
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|v| v.starts_with("herald_session="))
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}
