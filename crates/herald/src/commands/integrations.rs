//! `herald integrations`: list, show and test integrations through the API.

use reqwest::Method;
use serde_json::Value;

use super::manifest::client::{Client, ServerArgs};
use super::table;

#[derive(clap::Subcommand)]
pub enum IntegrationsCommand {
    /// List the integrations, newest first.
    List {
        #[command(flatten)]
        server: ServerArgs,
        /// Only the one with this exact name.
        #[arg(long)]
        name: Option<String>,
        /// Print the API's JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one integration (its config keys, never their values).
    Show {
        #[command(flatten)]
        server: ServerArgs,
        /// Its id (int_…) or its exact name.
        integration: String,
    },
    /// Prove an integration works now, as the console's Test button does. Exits non-zero when
    /// the test fails.
    Test {
        #[command(flatten)]
        server: ServerArgs,
        /// Its id (int_…) or its exact name.
        integration: String,
    },
    /// Pause an integration: its deliveries wait, untried, until it is resumed.
    Pause {
        #[command(flatten)]
        server: ServerArgs,
        /// Its id (int_…) or its exact name.
        integration: String,
    },
    /// Resume a paused integration: what waited is sent now.
    Resume {
        #[command(flatten)]
        server: ServerArgs,
        /// Its id (int_…) or its exact name.
        integration: String,
    },
}

pub async fn run(command: IntegrationsCommand) -> Result<(), String> {
    match command {
        IntegrationsCommand::List { server, name, json } => {
            let client = Client::new(&server);
            let path = match &name {
                Some(name) => format!("/v1/integrations?name={}", encode(name)),
                None => "/v1/integrations".to_owned(),
            };
            let items = client.list_all(&path).await.map_err(|e| e.to_string())?;
            if json {
                table::print_json(&Value::Array(items));
                return Ok(());
            }
            let rows: Vec<Vec<String>> = items
                .iter()
                .map(|i| {
                    vec![
                        table::cell(&i["id"]),
                        table::cell(&i["kind"]),
                        table::cell(&i["name"]),
                        if i["enabled"] == Value::Bool(true) {
                            "yes".into()
                        } else {
                            "no".into()
                        },
                        table::cell(&i["routing_model"]),
                    ]
                })
                .collect();
            table::print(&["ID", "KIND", "NAME", "ENABLED", "ROUTING"], &rows);
            Ok(())
        }
        IntegrationsCommand::Show {
            server,
            integration,
        } => {
            let client = Client::new(&server);
            let id = resolve(&client, &integration).await?;
            let found = client
                .call(Method::GET, &format!("/v1/integrations/{id}"), None)
                .await
                .map_err(|e| e.to_string())?;
            table::print_json(&found);
            Ok(())
        }
        IntegrationsCommand::Test {
            server,
            integration,
        } => {
            let client = Client::new(&server);
            let id = resolve(&client, &integration).await?;
            let result = client
                .call(Method::POST, &format!("/v1/integrations/{id}/test"), None)
                .await
                .map_err(|e| e.to_string())?;
            let status = table::cell(&result["status"]);
            let response = table::short(&table::cell(&result["response"]), 300);
            if result["ok"] == Value::Bool(true) {
                println!("ok: {status} {response}");
                Ok(())
            } else {
                Err(format!("the test failed: {status} {response}"))
            }
        }
        IntegrationsCommand::Pause {
            server,
            integration,
        } => pause_or_resume(&server, &integration, "pause").await,
        IntegrationsCommand::Resume {
            server,
            integration,
        } => pause_or_resume(&server, &integration, "resume").await,
    }
}

async fn pause_or_resume(
    server: &ServerArgs,
    integration: &str,
    action: &str,
) -> Result<(), String> {
    let client = Client::new(server);
    let id = resolve(&client, integration).await?;
    let found = client
        .call(
            Method::POST,
            &format!("/v1/integrations/{id}/{action}"),
            None,
        )
        .await
        .map_err(|e| e.to_string())?;
    match &found["paused_at"] {
        Value::String(at) => println!("{} is paused (since {at})", table::cell(&found["name"])),
        _ => println!("{} is running", table::cell(&found["name"])),
    }
    Ok(())
}

/// An integration id as given, or the id of the one integration with that exact name.
pub async fn resolve(client: &Client, id_or_name: &str) -> Result<String, String> {
    if id_or_name.starts_with("int_") {
        return Ok(id_or_name.to_owned());
    }
    let found = client
        .list_all(&format!("/v1/integrations?name={}", encode(id_or_name)))
        .await
        .map_err(|e| e.to_string())?;
    match found.as_slice() {
        [one] => Ok(table::cell(&one["id"])),
        [] => Err(format!("there is no integration named `{id_or_name}`")),
        several => {
            let ids: Vec<String> = several.iter().map(|i| table::cell(&i["id"])).collect();
            Err(format!(
                "several integrations are named `{id_or_name}` ({}); give an id",
                ids.join(", ")
            ))
        }
    }
}

pub fn encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}
