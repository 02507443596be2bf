//! `herald deliveries`: the delivery log from the command line: list, show with attempts,
//! retry, retry now, re-send failed deliveries, replay an event.

use reqwest::Method;
use serde_json::Value;

use super::integrations::{encode, resolve};
use super::manifest::client::{Client, ServerArgs};
use super::table;

#[derive(clap::Subcommand)]
pub enum DeliveriesCommand {
    /// List deliveries, newest first.
    List {
        #[command(flatten)]
        server: ServerArgs,
        /// Only this integration's (id or exact name).
        #[arg(long)]
        integration: Option<String>,
        /// Only this event's.
        #[arg(long)]
        event: Option<String>,
        /// Only those in this state: pending, retrying, success or failed.
        #[arg(long)]
        status: Option<String>,
        /// Only this run's (or incident's): the events' correlation key.
        #[arg(long)]
        correlation_key: Option<String>,
        /// At most this many (1 to 250).
        #[arg(long, default_value_t = 20)]
        limit: u32,
        /// Print the API's JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one delivery with every attempt: when, how long, the answer or the error.
    Show {
        #[command(flatten)]
        server: ServerArgs,
        /// The delivery's id (dlv_…).
        delivery: String,
        /// Print the API's JSON.
        #[arg(long)]
        json: bool,
    },
    /// Queue a failed delivery again, due now, with a fresh retry budget.
    Retry {
        #[command(flatten)]
        server: ServerArgs,
        /// The delivery's id (dlv_…).
        delivery: String,
    },
    /// Send a delivery that waits between retries at once (its retry schedule stays where it
    /// is). Fails if it is not waiting: it has ended, or is being sent right now.
    RetryNow {
        #[command(flatten)]
        server: ServerArgs,
        /// The delivery's id (dlv_…).
        delivery: String,
    },
    /// Queue every failed delivery of an integration within a time window again.
    ResendFailed {
        #[command(flatten)]
        server: ServerArgs,
        /// The integration (id or exact name).
        integration: String,
        /// Deliveries created within this long before now (e.g. 30m, 6h, 2d).
        #[arg(long, value_parser = herald_domain::duration::parse)]
        since: std::time::Duration,
    },
    /// Send an event again as new deliveries, recorded as replays: to every integration that
    /// got it, or to those named.
    Replay {
        #[command(flatten)]
        server: ServerArgs,
        /// The event's id (evt_…).
        event: String,
        /// Only to this integration (id or exact name); repeat for several.
        #[arg(long)]
        integration: Vec<String>,
    },
}

pub async fn run(command: DeliveriesCommand) -> Result<(), String> {
    match command {
        DeliveriesCommand::List {
            server,
            integration,
            event,
            status,
            correlation_key,
            limit,
            json,
        } => {
            let client = Client::new(&server);
            let integration_id = match integration {
                Some(integration) => Some(resolve(&client, &integration).await?),
                None => None,
            };
            let items = client
                .first_page(
                    "/v1/deliveries",
                    vec![
                        ("limit", Some(limit.to_string())),
                        ("integration_id", integration_id),
                        ("event_id", event),
                        ("status", status),
                        ("correlation_key", correlation_key),
                    ],
                )
                .await
                .map_err(|e| e.to_string())?;
            table::print_items(
                items,
                json,
                &[
                    "ID",
                    "STATUS",
                    "ATTEMPTS",
                    "INTEGRATION",
                    "EVENT",
                    "UPDATED",
                    "LAST ERROR",
                ],
                row,
            );
            Ok(())
        }
        DeliveriesCommand::Show {
            server,
            delivery,
            json,
        } => {
            let client = Client::new(&server);
            let found = client
                .call(
                    Method::GET,
                    &format!("/v1/deliveries/{}", encode(&delivery)),
                    None,
                )
                .await
                .map_err(|e| e.to_string())?;
            if json {
                table::print_json(&found);
            } else {
                print_detail(&found);
            }
            Ok(())
        }
        DeliveriesCommand::Retry { server, delivery } => requeue(&server, &delivery, "retry").await,
        DeliveriesCommand::RetryNow { server, delivery } => {
            requeue(&server, &delivery, "retry-now").await
        }
        DeliveriesCommand::ResendFailed {
            server,
            integration,
            since,
        } => {
            let client = Client::new(&server);
            let id = resolve(&client, &integration).await?;
            let since = chrono::Duration::from_std(since)
                .ok()
                .and_then(|since| chrono::Utc::now().checked_sub_signed(since))
                .ok_or("--since is too far back")?;
            let body = serde_json::json!({"since": since});
            let resent = client
                .call(
                    Method::POST,
                    &format!("/v1/integrations/{}/resend-failed", encode(&id)),
                    Some(&body),
                )
                .await
                .map_err(|e| e.to_string())?;
            println!(
                "{} failed deliveries queued again",
                table::cell(&resent["requeued"])
            );
            Ok(())
        }
        DeliveriesCommand::Replay {
            server,
            event,
            integration,
        } => {
            let client = Client::new(&server);
            let mut body = serde_json::json!({});
            if !integration.is_empty() {
                let mut ids = Vec::with_capacity(integration.len());
                for name in &integration {
                    ids.push(resolve(&client, name).await?);
                }
                body["integration_ids"] = serde_json::json!(ids);
            }
            let replayed = client
                .call(
                    Method::POST,
                    &format!("/v1/events/{}/replay", encode(&event)),
                    Some(&body),
                )
                .await
                .map_err(|e| e.to_string())?;
            let items = replayed["data"].as_array().cloned().unwrap_or_default();
            for delivery in &items {
                println!(
                    "{} to {} ({})",
                    table::cell(&delivery["id"]),
                    table::cell(&delivery["integration_name"]),
                    table::cell(&delivery["status"])
                );
            }
            Ok(())
        }
    }
}

fn row(delivery: &Value) -> Vec<String> {
    vec![
        table::cell(&delivery["id"]),
        table::cell(&delivery["status"]),
        table::cell(&delivery["attempt_count"]),
        table::cell(&delivery["integration_name"]),
        table::cell(&delivery["event_type"]),
        table::cell(&delivery["updated_at"]),
        table::short(&table::cell(&delivery["last_error"]), 60),
    ]
}

fn print_detail(delivery: &Value) {
    for field in [
        "id",
        "status",
        "integration_name",
        "integration_id",
        "event_id",
        "kind",
        "attempt_count",
        "next_attempt_at",
        "external_id",
        "created_at",
        "updated_at",
    ] {
        println!("{field:<17} {}", table::cell(&delivery[field]));
    }
    let attempts = delivery["attempts"].as_array().cloned().unwrap_or_default();
    if attempts.is_empty() {
        println!("\nno attempts yet");
        return;
    }
    println!();
    let rows: Vec<Vec<String>> = attempts
        .iter()
        .map(|a| {
            let answer = match (&a["error"], &a["response_excerpt"]) {
                (Value::String(error), _) => error.clone(),
                (_, excerpt) => table::cell(excerpt),
            };
            vec![
                table::cell(&a["number"]),
                table::cell(&a["started_at"]),
                format!("{} ms", table::cell(&a["duration_ms"])),
                table::cell(&a["outcome"]),
                table::cell(&a["status_code"]),
                table::short(&answer, 80),
            ]
        })
        .collect();
    table::print(
        &[
            "#",
            "STARTED",
            "TOOK",
            "OUTCOME",
            "STATUS",
            "ANSWER OR ERROR",
        ],
        &rows,
    );
}

/// `POST /v1/deliveries/{id}/{action}` (retry, retry-now), then says where the delivery stands.
async fn requeue(server: &ServerArgs, delivery: &str, action: &str) -> Result<(), String> {
    let found = Client::new(server)
        .call(
            Method::POST,
            &format!("/v1/deliveries/{}/{action}", encode(delivery)),
            None,
        )
        .await
        .map_err(|e| e.to_string())?;
    println!(
        "{} is {} (due {})",
        table::cell(&found["id"]),
        table::cell(&found["status"]),
        table::cell(&found["next_attempt_at"])
    );
    Ok(())
}
