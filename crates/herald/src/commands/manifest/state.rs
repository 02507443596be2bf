//! What the server holds now, read through the API, with the ids `herald apply` needs to
//! change it. Config values are write-only, so an integration's config is known only by its
//! keys.

use std::collections::HashMap;

use herald_domain::attachment::{Destinations, RunAfter};
use herald_domain::{MessageTemplate, ScopeKind, Severity};
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::Value;

use super::client::{CallError, Client};
use super::ScopeSpec;

#[derive(Debug, Clone, Deserialize)]
pub struct RemoteIntegration {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub enabled: bool,
    pub severity_filter: Option<Severity>,
    pub events: Option<Vec<String>>,
    pub target_ids: Option<Vec<String>>,
    pub config_keys: Vec<String>,
    pub template: Option<MessageTemplate>,
    #[serde(default)]
    pub is_supplied_to_all_modules: bool,
    /// Absent on a server without workspace attachments.
    #[serde(default)]
    pub destinations: Option<Destinations>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RemoteScope {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub stack: Option<String>,
    #[serde(default)]
    pub namespace: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RemoteEventType {
    pub id: String,
    pub description: String,
    pub schema: Option<Value>,
    #[serde(default)]
    pub aliases: Vec<String>,
    pub preset: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RemoteSupply {
    pub id: String,
    pub integration_id: String,
    pub kind: ScopeKind,
    #[serde(default)]
    pub stack: Option<String>,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub module: Option<String>,
}

impl RemoteSupply {
    pub fn scope_name(&self) -> &str {
        self.stack
            .as_deref()
            .or(self.namespace.as_deref())
            .or(self.module.as_deref())
            .unwrap_or_default()
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct RemoteIntegrationEvent {
    pub id: String,
    pub integration_id: String,
    pub name: String,
    pub trigger: String,
    pub scope: ScopeSpec,
    pub environments: Option<Vec<String>>,
    pub min_severity: Option<Severity>,
    pub enabled: bool,
    pub template: Option<MessageTemplate>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RemoteAttachment {
    pub id: String,
    pub integration_id: String,
    pub module: String,
    pub run_after: RunAfter,
    #[serde(default)]
    pub destinations: Option<Destinations>,
}

/// The server's current state, as far as the caller may read it.
#[derive(Debug, Clone, Default)]
pub struct Remote {
    pub stacks: Vec<RemoteScope>,
    pub namespaces: Vec<RemoteScope>,
    pub modules: Vec<RemoteScope>,
    /// The whole catalogue, presets included (their aliases normalise triggers).
    pub event_types: Vec<RemoteEventType>,
    pub integrations: Vec<RemoteIntegration>,
    pub supplies: Vec<RemoteSupply>,
    pub integration_events: Vec<RemoteIntegrationEvent>,
    /// None when the server has no attachments API (or they were not asked for).
    pub attachments: Option<Vec<RemoteAttachment>>,
}

/// Which parts to read: a section the file leaves out is not read.
#[derive(Debug, Clone, Copy)]
pub struct Wanted {
    pub scopes: bool,
    pub supplies: bool,
    pub integration_events: bool,
    pub attachments: bool,
}

impl Wanted {
    pub const ALL: Wanted = Wanted {
        scopes: true,
        supplies: true,
        integration_events: true,
        attachments: true,
    };
}

fn decode<T: serde::de::DeserializeOwned>(what: &str, items: Vec<Value>) -> Result<Vec<T>, String> {
    items
        .into_iter()
        .map(|item| {
            serde_json::from_value(item)
                .map_err(|e| format!("the server answered an unexpected {what}: {e}"))
        })
        .collect()
}

async fn list<T: serde::de::DeserializeOwned>(
    client: &Client,
    path: &str,
) -> Result<Vec<T>, String> {
    let items = client.list_all(path).await.map_err(|e| e.to_string())?;
    decode(path, items)
}

/// Reads the current state. Integrations and the catalogue are always read (references and
/// triggers need them).
pub async fn read(client: &Client, wanted: Wanted) -> Result<Remote, String> {
    let mut remote = Remote {
        integrations: list(client, "/v1/integrations").await?,
        ..Remote::default()
    };
    let catalogue = client
        .call(Method::GET, "/v1/event-types", None)
        .await
        .map_err(|e| e.to_string())?;
    remote.event_types = decode(
        "event type",
        catalogue["data"].as_array().cloned().unwrap_or_default(),
    )?;
    if wanted.scopes {
        remote.stacks = list(client, "/v1/stacks").await?;
        remote.namespaces = list(client, "/v1/namespaces").await?;
        remote.modules = list(client, "/v1/modules").await?;
    }
    if wanted.supplies {
        for path in [
            "/v1/stack-supplies",
            "/v1/namespace-supplies",
            "/v1/module-supplies",
        ] {
            remote
                .supplies
                .extend(list::<RemoteSupply>(client, path).await?);
        }
    }
    if wanted.integration_events {
        remote.integration_events = list(client, "/v1/integration-events").await?;
    }
    if wanted.attachments {
        remote.attachments = match client.list_all("/v1/attachments").await {
            Ok(items) => Some(decode("attachment", items)?),
            Err(CallError {
                status: Some(StatusCode::NOT_FOUND),
                ..
            }) => None,
            Err(e) => return Err(e.to_string()),
        };
    }
    Ok(remote)
}

impl Remote {
    /// Registered types' ids and presets' aliases → the id the server stores a trigger as.
    pub fn trigger_ids(&self) -> HashMap<String, String> {
        let mut ids = HashMap::new();
        for t in &self.event_types {
            for alias in &t.aliases {
                ids.insert(alias.clone(), t.id.clone());
            }
        }
        ids
    }

    /// Integration id → name, for writing references.
    pub fn integration_names(&self) -> HashMap<String, String> {
        self.integrations
            .iter()
            .map(|i| (i.id.clone(), i.name.clone()))
            .collect()
    }
}
