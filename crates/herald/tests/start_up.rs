//! Starting and running the real binary: a failed start creates nothing and prints no token,
//! the bootstrap token is never ignored silently, the start-up summary shows no secret and no
//! colour, attempt outcomes are logged in words with their ids, and roles split the API from
//! the workers.

mod support;

use std::time::{Duration, Instant};

use herald_testkit::{Receiver, Reply};
use serde_json::{json, Value};
use support::{spawn, Herald, Launch, TOKEN};

/// Lets the pipe readers catch up with a process that has exited.
fn settle() {
    std::thread::sleep(Duration::from_millis(300));
}

/// The token a first start printed, once it has.
fn printed_token(out: &std::sync::Mutex<Vec<String>>) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        {
            let lines = out.lock().unwrap();
            if let Some(at) = lines
                .iter()
                .position(|l| l.contains("shown only this once"))
            {
                if let Some(token) = lines[at + 1..]
                    .iter()
                    .map(|l| l.trim())
                    .find(|l| !l.is_empty())
                {
                    return token.to_owned();
                }
            }
        }
        assert!(Instant::now() < deadline, "no token was printed");
        std::thread::sleep(Duration::from_millis(50));
    }
}

async fn status_with(base: &str, token: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("{base}/v1/integrations"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_failed_bind_prints_no_token_and_the_next_start_still_shows_one() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = ("HERALD_DATA_DIR", dir.path().display().to_string());
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let no_token = Launch {
        bootstrap: false,
        json_logs: false,
    };
    let mut failed = spawn(
        &[
            data_dir.clone(),
            ("HERALD_LISTEN", format!("127.0.0.1:{port}")),
        ],
        no_token.clone(),
    );
    let status = failed
        .wait_exit(Duration::from_secs(20))
        .expect("herald gives up on a taken port");
    settle();
    assert!(!status.success());
    let log = failed.log.lock().unwrap().join("\n");
    assert!(
        log.contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{log}"
    );
    assert!(
        failed.out.lock().unwrap().is_empty(),
        "printed {:?}",
        failed.out
    );
    assert!(
        !dir.path().join("herald.db").exists() && !dir.path().join("master.key").exists(),
        "nothing is created before the port is bound"
    );
    drop(taken);

    let herald = spawn(&[data_dir], no_token).ready();
    let token = printed_token(&herald.out);
    assert_eq!(status_with(herald.base(), &token).await, 200);
}

#[tokio::test]
async fn the_bootstrap_token_works_on_an_existing_data_directory_until_revoked() {
    let dir = tempfile::tempdir().unwrap();
    let env = [("HERALD_DATA_DIR", dir.path().display().to_string())];
    // The README's first command: no bootstrap token, so one is generated.
    let first = spawn(
        &env,
        Launch {
            bootstrap: false,
            json_logs: true,
        },
    )
    .ready();
    let generated = printed_token(&first.out);
    first.kill_9();

    // The tour's restart with HERALD_BOOTSTRAP_TOKEN: added, said so, and it works.
    let second = Herald::start(&env);
    assert_eq!(status_with(second.base(), TOKEN).await, 200);
    assert_eq!(status_with(second.base(), &generated).await, 200);
    let added = second.log_entries(
        "HERALD_BOOTSTRAP_TOKEN was not a known token: added it as an owner token of organisation `default` (user `admin`). Revoke it with DELETE /v1/tokens/{id} once you have your own",
    );
    assert_eq!(added.len(), 1, "{:?}", second.log.lock().unwrap());
    assert_eq!(added[0]["level"], "WARN");
    let me = second.call(reqwest::Method::GET, "/v1/me", None).await;
    let status = reqwest::Client::new()
        .delete(format!(
            "{}/v1/tokens/{}",
            second.base(),
            me["token_id"].as_str().unwrap()
        ))
        .bearer_auth(&generated)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 204);
    second.kill_9();

    // A restart never undoes a revocation; it says why the token does not work.
    let third = Herald::start(&env);
    assert_eq!(status_with(third.base(), TOKEN).await, 401);
    let warned = third.log_entries("HERALD_BOOTSTRAP_TOKEN names a token that was revoked or has expired; it stays unusable. Unset it, or set a new value to add a new owner token");
    assert_eq!(warned.len(), 1);
}

#[tokio::test]
async fn the_start_up_summary_shows_no_credentials_and_plain_text_has_no_colour() {
    let url = herald_store::testing::fresh_postgres_url().await;
    let with_password = url.replacen("postgres@", "postgres:db-password-not-for-logs@", 1);
    let herald = spawn(
        &[
            ("HERALD_DATABASE_URL", with_password),
            (
                "HERALD_MASTER_KEY",
                herald_crypto::MasterKey::generate().to_base64(),
            ),
            (
                "HERALD_PROVIDER_ENDPOINTS",
                "slack=http://proxy:endpoint-password@127.0.0.1:9/api".into(),
            ),
            ("HERALD_WORKERS", "12".into()),
        ],
        Launch {
            bootstrap: true,
            json_logs: false,
        },
    )
    .ready();
    let log = herald.log.lock().unwrap().join("\n");
    let summary = log
        .lines()
        .find(|l| l.contains(concat!("herald ", env!("CARGO_PKG_VERSION"), " starting")))
        .unwrap_or_else(|| panic!("no start-up summary in\n{log}"));
    let database = url.split('?').next().unwrap();
    for expected in [
        format!("database={database}"),
        "role=all".into(),
        "workers=12".into(),
        "outbound_allow_cidrs=127.0.0.0/8".into(),
        "provider_endpoints=slack=http://proxy@127.0.0.1:9/api".into(),
    ] {
        assert!(summary.contains(&expected), "{expected} in {summary}");
    }
    assert!(!log.contains("db-password-not-for-logs") && !log.contains("endpoint-password"));
    assert!(
        !log.contains('\u{1b}'),
        "ANSI codes in a log that is not a terminal:\n{log}"
    );
}

#[tokio::test]
async fn attempt_outcomes_are_logged_in_words_with_their_ids() {
    let dir = tempfile::tempdir().unwrap();
    let herald = Herald::start(&[("HERALD_DATA_DIR", dir.path().display().to_string())]);
    let receiver = Receiver::start().await;
    receiver.script([Reply::status(503), Reply::status(410)]);
    herald.webhook("sink", &receiver.url("/gone"), None).await;
    let response = reqwest::Client::new()
        .post(format!("{}/v1/events", herald.base()))
        .bearer_auth(TOKEN)
        .header("x-request-id", "tour-request-1")
        .json(&json!({"type": "scan_done"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "tour-request-1");
    let event_id = response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    receiver.wait_for(2, Duration::from_secs(10)).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while herald.log_entries("failed").is_empty() {
        assert!(Instant::now() < deadline, "no failure logged");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let accepted = herald.log_entries("event accepted");
    assert_eq!(accepted[0]["fields"]["event_id"], event_id.as_str());
    assert_eq!(accepted[0]["span"]["request_id"], "tour-request-1");
    let log = herald.log.lock().unwrap().clone();
    let entries: Vec<Value> = log
        .iter()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let retrying = entries
        .iter()
        .find(|e| {
            e["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("retrying at 20"))
        })
        .expect("a retry is logged with its time");
    assert_eq!(retrying["level"], "INFO");
    assert_eq!(retrying["fields"]["event_id"], event_id.as_str());
    assert_eq!(retrying["fields"]["status_code"], 503);
    let failed = &herald.log_entries("failed")[0];
    assert_eq!(failed["level"], "WARN");
    assert_eq!(failed["fields"]["event_id"], event_id.as_str());
    assert_eq!(failed["fields"]["status_code"], 410);
    assert!(failed["fields"]["delivery_id"].is_string());
    let text = log.join("\n");
    assert!(
        !text.contains("RetryAt(") && !text.contains("Failed {"),
        "{text}"
    );
}

#[tokio::test]
async fn roles_split_the_api_and_the_workers() {
    let url = herald_store::testing::fresh_postgres_url().await;
    let key = herald_crypto::MasterKey::generate().to_base64();
    let shared = |role: &str| {
        vec![
            ("HERALD_DATABASE_URL", url.clone()),
            ("HERALD_MASTER_KEY", key.clone()),
            ("HERALD_ROLE", role.to_owned()),
        ]
    };
    let api = Herald::start(&shared("api"));
    let worker = Herald::start(&shared("worker"));
    let receiver = Receiver::start().await;
    api.webhook("sink", &receiver.url("/sink"), None).await;
    let id = api.emit(json!({"type": "scan_done"})).await;
    let arrived = receiver.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(arrived[0].json()["id"], id.as_str());

    let client = reqwest::Client::new();
    let ready = |base: String| {
        let client = client.clone();
        async move {
            let response = client.get(format!("{base}/readyz")).send().await.unwrap();
            (
                response.status().as_u16(),
                response.json::<Value>().await.unwrap(),
            )
        }
    };
    let (status, body) = ready(api.base().to_owned()).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["checks"].get("workers").is_none(), "{body}");
    let (status, body) = ready(worker.base().to_owned()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["checks"]["workers"]["running"], true);
    // A worker serves no API.
    let answer = support::post_event(&client, worker.base(), &json!({"type": "scan_done"}))
        .await
        .unwrap();
    assert_eq!(answer.status, 404);
    let worker_summary = worker.log_entries("herald is listening");
    assert_eq!(worker_summary[0]["fields"]["role"], "worker");
}
