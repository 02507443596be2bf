//! `herald apply -f herald.yaml`: make a running Herald match a file, through its API (so the
//! token's roles apply and every change is audited). Idempotent: it reads the current state,
//! prints the plan, and calls only for what differs.

use std::path::PathBuf;

use serde_json::Value;

use super::manifest::client::{Client, ServerArgs};
use super::manifest::plan::{self, IntegrationRef, Options};
use super::manifest::state::{self, Wanted};

const ABOUT: &str = "\
Reads herald.yaml (top-level sections: scopes, event_types, integrations, supplies,
integration_events, attachments), compares it with the server and prints the plan: what it
creates, updates (naming the fields), replaces or, with --prune, deletes. Then it applies the
plan, unless --dry-run. A second run of the same file changes nothing.

Resources refer to each other by name. A section left out of the file is not touched.

Credentials: config values are ${ENV_VAR} references, whole or inside a string
(webhook_url: https://hooks.slack.com/services/${SLACK_HOOK_PATH}). A literal string is refused
unless its key holds no secret (default_channel, project_key, email, repo, region, from, to,
issue_type, resolve_transition, index, sourcetype, room_id, chat_id, api_key_header, base_url,
hec_url, api_url, command, args, timeout_s). $${ writes a literal ${. A variable that is not set
is an error naming it; values are never printed.

Config values are write-only, so a config counts as changed when its set of keys differs from
the stored one; then the whole config is sent (keys gone from the file are removed). A new value
under the same key (a rotated secret) is sent only with --resend-config.";

#[derive(clap::Args)]
#[command(long_about = ABOUT)]
pub struct ApplyArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// The file to apply.
    #[arg(long, short = 'f', default_value = "herald.yaml")]
    file: PathBuf,
    /// Print the plan and change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Also delete what the server has and the file does not, within the sections the file has.
    #[arg(long)]
    prune: bool,
    /// Send the config of these integrations (comma-separated names; none given: all) even if
    /// its keys are unchanged, e.g. after rotating a secret.
    #[arg(long, num_args = 0.., value_delimiter = ',', value_name = "NAME")]
    resend_config: Option<Vec<String>>,
}

pub async fn run(args: ApplyArgs) -> Result<(), String> {
    let source = args.file.display().to_string();
    let text =
        std::fs::read_to_string(&args.file).map_err(|e| format!("cannot read {source}: {e}"))?;
    let desired = super::manifest::parse(&text).map_err(|e| format!("{source}: {e}"))?;
    let client = Client::new(&args.server);
    let wanted = Wanted {
        scopes: desired.scopes.is_some(),
        supplies: desired.supplies.is_some(),
        integration_events: desired.integration_events.is_some(),
        attachments: desired.attachments.is_some(),
    };
    let remote = state::read(&client, wanted).await?;
    let options = Options {
        prune: args.prune,
        resend_config: args.resend_config,
    };
    let env = |name: &str| std::env::var(name).ok();
    let plan =
        plan::plan(&desired, &remote, &options, &env).map_err(|e| format!("{source}: {e}"))?;
    print!("{}", plan.render(&source));
    for warning in super::manifest::warnings::inert_filter_warnings(&desired, &remote) {
        eprintln!("warning: {source}: {warning}");
    }
    if plan.is_empty() {
        return Ok(());
    }
    if args.dry_run {
        println!("Dry run: nothing was changed.");
        return Ok(());
    }
    let total = plan.steps.len();
    let mut created: std::collections::HashMap<String, String> = Default::default();
    for (done, step) in plan.steps.into_iter().enumerate() {
        for request in step.requests {
            let mut body = request.body;
            if let Some(integration) = &request.integration {
                let id = match integration {
                    IntegrationRef::Existing(id) => id.clone(),
                    IntegrationRef::New(name) => created
                        .get(name)
                        .cloned()
                        .expect("an integration is created before what refers to it"),
                };
                if let Some(Value::Object(map)) = &mut body {
                    map.insert("integration_id".into(), Value::String(id));
                }
            }
            let answer = client
                .call(request.method, &request.path, body.as_ref())
                .await
                .map_err(|e| {
                    format!(
                        "{} failed: {e}\nstopped after {done} of {total} change(s); run apply \
                         again once fixed",
                        step.label
                    )
                })?;
            if let Some(name) = request.creates_integration {
                let id = answer["id"].as_str().unwrap_or_default().to_owned();
                created.insert(name, id);
            }
        }
    }
    println!("Applied {total} change(s).");
    Ok(())
}
