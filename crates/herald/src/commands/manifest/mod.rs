//! Configuration as code: the `herald.yaml` model that `herald apply` reads and `herald
//! export` writes, and the pieces both commands share (credentials, the REST client, the
//! server's current state, the plan).
//!
//! Resources refer to each other by name, never by id. A top-level section that is left out
//! is not managed at all; a section that is present describes that kind of resource whole.

pub mod client;
pub mod credentials;
pub mod plan;
pub mod state;
pub mod warnings;

use herald_domain::attachment::{Destinations, RunAfter};
use herald_domain::{MessageTemplate, ScopeKind, Severity};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A whole `herald.yaml`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Scopes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_types: Option<Vec<EventTypeSpec>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integrations: Option<Vec<IntegrationSpec>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supplies: Option<Vec<SupplySpec>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integration_events: Option<Vec<IntegrationEventSpec>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachments: Option<Vec<AttachmentSpec>>,
}

/// The registered scope tree.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scopes {
    #[serde(default)]
    pub stacks: Vec<String>,
    #[serde(default)]
    pub namespaces: Vec<NamespaceSpec>,
    #[serde(default)]
    pub modules: Vec<ModuleSpec>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamespaceSpec {
    pub name: String,
    pub stack: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModuleSpec {
    pub name: String,
    pub namespace: String,
}

/// A registered event type (presets are Herald's and are never listed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventTypeSpec {
    pub id: String,
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<Value>,
}

fn yes() -> bool {
    true
}

fn is_false(value: &bool) -> bool {
    !*value
}

/// An integration. A field left out means its default: `enabled: true`, no filters, no
/// template, not supplied to all modules, no destinations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntegrationSpec {
    pub name: String,
    pub kind: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity_filter: Option<Severity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_ids: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<MessageTemplate>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub is_supplied_to_all_modules: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destinations: Option<Destinations>,
    /// Values are `${ENV_VAR}` references (see `credentials`).
    #[serde(default)]
    pub config: Map<String, Value>,
}

/// An integration supplied to exactly one stack, namespace or module.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SupplySpec {
    pub integration: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
}

impl SupplySpec {
    /// The supplied scope, or why the entry does not name exactly one.
    pub fn scope(&self) -> Result<(ScopeKind, &str), &'static str> {
        match (&self.stack, &self.namespace, &self.module) {
            (Some(name), None, None) => Ok((ScopeKind::Stack, name)),
            (None, Some(name), None) => Ok((ScopeKind::Namespace, name)),
            (None, None, Some(name)) => Ok((ScopeKind::Module, name)),
            _ => Err("name exactly one of stack, namespace or module"),
        }
    }
}

/// `{kind: organisation}` or `{kind: stack | namespace | module, name: …}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopeSpec {
    pub kind: ScopeKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl Default for ScopeSpec {
    fn default() -> Self {
        Self {
            kind: ScopeKind::Organisation,
            name: None,
        }
    }
}

/// An integration event (demand), unique by its name within its integration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntegrationEventSpec {
    pub integration: String,
    pub name: String,
    pub trigger: String,
    #[serde(default)]
    pub scope: ScopeSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environments: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_severity: Option<Severity>,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<MessageTemplate>,
}

/// An integration attached to a module, unique by (integration, module).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttachmentSpec {
    pub integration: String,
    pub module: String,
    pub run_after: RunAfter,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destinations: Option<Destinations>,
}

/// Destinations compared by meaning: an empty list counts as absent (as routing reads it), and
/// nothing at all is no destinations.
pub fn canonical_destinations(d: Option<Destinations>) -> Option<Destinations> {
    let mut d = d?;
    d.environments.retain(|_, list| !list.is_empty());
    (!d.default.is_empty() || !d.environments.is_empty()).then_some(d)
}

/// A template with neither part is no template (as the server stores it).
pub fn canonical_template(t: Option<MessageTemplate>) -> Option<MessageTemplate> {
    t.filter(|t| !t.is_empty())
}

/// A list with duplicates dropped (first kept); empty means none (as the server stores it).
pub fn canonical_list(list: Option<Vec<String>>) -> Option<Vec<String>> {
    let mut kept: Vec<String> = Vec::new();
    for item in list? {
        if !kept.contains(&item) {
            kept.push(item);
        }
    }
    (!kept.is_empty()).then_some(kept)
}

/// Reads a manifest from YAML text.
pub fn parse(text: &str) -> Result<Manifest, String> {
    serde_norway::from_str(text).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    /// The documented example (docs/configuration-as-code.md) is a file `herald apply` accepts.
    #[test]
    fn the_readme_example_parses() {
        let section = include_str!("../../../../../docs/configuration-as-code.md");
        let start = section.find("```yaml\n").unwrap() + "```yaml\n".len();
        let example = &section[start..start + section[start..].find("```").unwrap()];
        let manifest = super::parse(example).unwrap();
        // Issue 10: the example must not contradict itself.
        let warnings = super::warnings::inert_filter_warnings(&manifest, &Default::default());
        assert_eq!(warnings, Vec::<String>::new());
        assert_eq!(manifest.integrations.unwrap().len(), 2);
        assert_eq!(manifest.attachments.unwrap().len(), 1);
        assert_eq!(manifest.scopes.unwrap().modules.len(), 1);
    }
}
