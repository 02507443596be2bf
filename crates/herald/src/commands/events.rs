//! `herald events list`: find accepted events again, by type, module, run or time.

use super::manifest::client::{Client, ServerArgs};
use super::table;

#[derive(clap::Subcommand)]
pub enum EventsCommand {
    /// List accepted events, newest first.
    List {
        #[command(flatten)]
        server: ServerArgs,
        /// Only this exact type, e.g. iac.run.applied.
        #[arg(long = "type")]
        event_type: Option<String>,
        /// Only events about this module or workspace (their target id).
        #[arg(long)]
        target_id: Option<String>,
        /// Only this run's (or incident's) events.
        #[arg(long)]
        correlation_key: Option<String>,
        /// Only events received at or after this time (RFC 3339).
        #[arg(long)]
        since: Option<String>,
        /// Only events received before this time (RFC 3339).
        #[arg(long)]
        until: Option<String>,
        /// At most this many (1 to 250).
        #[arg(long, default_value_t = 20)]
        limit: u32,
        /// Print the API's JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(command: EventsCommand) -> Result<(), String> {
    let EventsCommand::List {
        server,
        event_type,
        target_id,
        correlation_key,
        since,
        until,
        limit,
        json,
    } = command;
    let items = Client::new(&server)
        .first_page(
            "/v1/events",
            vec![
                ("limit", Some(limit.to_string())),
                ("type", event_type),
                ("target_id", target_id),
                ("correlation_key", correlation_key),
                ("since", since),
                ("until", until),
            ],
        )
        .await
        .map_err(|e| e.to_string())?;
    table::print_items(
        items,
        json,
        &[
            "ID",
            "TYPE",
            "TARGET",
            "CORRELATION KEY",
            "RECEIVED",
            "TITLE",
        ],
        |event| {
            vec![
                table::cell(&event["id"]),
                table::cell(&event["type"]),
                table::cell(&event["target_id"]),
                table::cell(&event["correlation_key"]),
                table::cell(&event["received_at"]),
                table::short(&table::cell(&event["title"]), 60),
            ]
        },
    );
    Ok(())
}
