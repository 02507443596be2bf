//! `herald export`: the server's current state as a `herald.yaml` that `herald apply` accepts,
//! with no secret in it: config values are write-only, so each is written as a `${…}`
//! reference named after the integration and key.

use std::collections::HashSet;
use std::path::PathBuf;

use serde_json::{Map, Value};

use super::manifest::client::{Client, ServerArgs};
use super::manifest::credentials::placeholder;
use super::manifest::state::{self, Remote, Wanted};
use super::manifest::{
    canonical_destinations, AttachmentSpec, EventTypeSpec, IntegrationEventSpec, IntegrationSpec,
    Manifest, ModuleSpec, NamespaceSpec, Scopes, SupplySpec,
};

const ABOUT: &str = "\
Writes the current state (scopes, registered event types, integrations, supplies, integration
events and, where the server has them, attachments) in herald apply's format. Config values are
never readable, so each is written as a ${VAR} reference named after the integration and key,
e.g. ${OPS_SLACK_BOT_TOKEN}: set those variables before applying the file. Keys that hold a list
or a number (to, webhook_urls, args, timeout_s) come out as a reference too; write their value
in the file instead.";

#[derive(clap::Args)]
#[command(long_about = ABOUT)]
pub struct ExportArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// Write to this file instead of standard output.
    #[arg(long, short = 'o')]
    output: Option<PathBuf>,
}

const HEADER: &str = "\
# Exported by `herald export`. Config values are never exported: each is a ${VAR} reference
# named after the integration and key. Set those variables, then `herald apply -f` this file.
";

pub async fn run(args: ExportArgs) -> Result<(), String> {
    let client = Client::new(&args.server);
    let remote = state::read(&client, Wanted::ALL).await?;
    let mut names = HashSet::new();
    for i in &remote.integrations {
        if !names.insert(i.name.as_str()) {
            eprintln!(
                "herald: warning: several integrations are named `{}`; rename one before \
                 applying this file, since references are by name",
                i.name
            );
        }
    }
    let yaml = serde_norway::to_string(&manifest_of(&remote))
        .map_err(|e| format!("cannot write YAML: {e}"))?;
    let text = format!("{HEADER}{yaml}");
    match &args.output {
        Some(path) => {
            std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
        }
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

/// The manifest that describes `remote`; config values are placeholders.
pub fn manifest_of(remote: &Remote) -> Manifest {
    let names = remote.integration_names();
    let name_of = |id: &String| names.get(id).cloned().unwrap_or_else(|| id.clone());
    let integrations = remote
        .integrations
        .iter()
        .map(|i| IntegrationSpec {
            name: i.name.clone(),
            kind: i.kind.clone(),
            enabled: i.enabled,
            severity_filter: i.severity_filter,
            events: i.events.clone(),
            target_ids: i.target_ids.clone(),
            template: i.template.clone(),
            is_supplied_to_all_modules: i.is_supplied_to_all_modules,
            destinations: canonical_destinations(i.destinations.clone()),
            config: i
                .config_keys
                .iter()
                .map(|key| (key.clone(), Value::String(placeholder(&i.name, key))))
                .collect::<Map<_, _>>(),
        })
        .collect();
    let supplies = remote
        .supplies
        .iter()
        .map(|s| SupplySpec {
            integration: name_of(&s.integration_id),
            stack: s.stack.clone(),
            namespace: s.namespace.clone(),
            module: s.module.clone(),
        })
        .collect();
    let integration_events = remote
        .integration_events
        .iter()
        .map(|d| IntegrationEventSpec {
            integration: name_of(&d.integration_id),
            name: d.name.clone(),
            trigger: d.trigger.clone(),
            scope: d.scope.clone(),
            environments: d.environments.clone(),
            min_severity: d.min_severity,
            enabled: d.enabled,
            template: d.template.clone(),
        })
        .collect();
    let attachments = remote.attachments.as_ref().map(|all| {
        all.iter()
            .map(|a| AttachmentSpec {
                integration: name_of(&a.integration_id),
                module: a.module.clone(),
                run_after: a.run_after,
                destinations: canonical_destinations(a.destinations.clone()),
            })
            .collect()
    });
    Manifest {
        scopes: Some(Scopes {
            stacks: remote.stacks.iter().map(|s| s.name.clone()).collect(),
            namespaces: remote
                .namespaces
                .iter()
                .map(|n| NamespaceSpec {
                    name: n.name.clone(),
                    stack: n.stack.clone().unwrap_or_default(),
                })
                .collect(),
            modules: remote
                .modules
                .iter()
                .map(|m| ModuleSpec {
                    name: m.name.clone(),
                    namespace: m.namespace.clone().unwrap_or_default(),
                })
                .collect(),
        }),
        event_types: Some(
            remote
                .event_types
                .iter()
                .filter(|t| !t.preset)
                .map(|t| EventTypeSpec {
                    id: t.id.clone(),
                    description: t.description.clone(),
                    schema: t.schema.clone(),
                })
                .collect(),
        ),
        integrations: Some(integrations),
        supplies: Some(supplies),
        integration_events: Some(integration_events),
        attachments,
    }
}
