//! The plan: what `herald apply` must call to make the server match the file. Pure: it reads
//! the file and the server's state and returns requests, so it is tested without a server.
//!
//! Config values are write-only, so an integration's config counts as changed only when its
//! set of keys differs from the stored one (or when re-sending is asked for); see the README.

use std::collections::{HashMap, HashSet};
use std::fmt;

use herald_domain::ScopeKind;
use reqwest::Method;
use serde_json::{json, Map, Value};

use super::state::Remote;
use super::Manifest;

/// An integration a request refers to: one the server has, or one this plan creates.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum IntegrationRef {
    Existing(String),
    New(String),
}

/// One API call. Its Debug shows the method and path only: bodies may carry credentials.
pub struct Request {
    pub method: Method,
    pub path: String,
    pub body: Option<Value>,
    /// Set as the body's `integration_id` when the request runs.
    pub integration: Option<IntegrationRef>,
    /// This request creates the integration of that name; its answer's id is remembered.
    pub creates_integration: Option<String>,
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, self.path)
    }
}

impl Request {
    fn new(method: Method, path: impl Into<String>, body: Option<Value>) -> Self {
        Self {
            method,
            path: path.into(),
            body,
            integration: None,
            creates_integration: None,
        }
    }

    fn delete(path: impl Into<String>) -> Self {
        Self::new(Method::DELETE, path, None)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Create,
    /// The names of the fields that change.
    Update(Vec<String>),
    /// Cannot be updated in place: deleted and created again, for these fields.
    Replace(Vec<String>),
    Delete,
}

#[derive(Debug)]
pub struct Step {
    /// What it is, e.g. `integration "ops slack" (slack)`.
    pub label: String,
    pub change: Change,
    pub requests: Vec<Request>,
}

#[derive(Debug, Default)]
pub struct Plan {
    pub steps: Vec<Step>,
    pub unchanged: usize,
}

#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Delete what the server has and the file does not, within the sections the file has.
    pub prune: bool,
    /// Send these integrations' config even if its keys are unchanged; an empty list: all.
    pub resend_config: Option<Vec<String>>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// The plan as people read it: one line per change, then the counts. Never a value.
    pub fn render(&self, source: &str) -> String {
        if self.is_empty() {
            return format!(
                "No changes: {} resource(s) already match {source}.\n",
                self.unchanged
            );
        }
        let mut out = String::new();
        let (mut create, mut update, mut replace, mut delete) = (0, 0, 0, 0);
        for step in &self.steps {
            let line = match &step.change {
                Change::Create => {
                    create += 1;
                    format!("  + create   {}", step.label)
                }
                Change::Update(fields) => {
                    update += 1;
                    format!("  ~ update   {}: {}", step.label, fields.join(", "))
                }
                Change::Replace(fields) => {
                    replace += 1;
                    format!("  ± replace  {}: {}", step.label, fields.join(", "))
                }
                Change::Delete => {
                    delete += 1;
                    format!("  - delete   {}", step.label)
                }
            };
            out.push_str(&line);
            out.push('\n');
        }
        out.push_str(&format!(
            "Plan: {create} to create, {update} to update, {replace} to replace, {delete} to \
             delete; {} unchanged.\n",
            self.unchanged
        ));
        out
    }
}

/// Computes the plan. `env` resolves `${…}` references in configs.
pub fn plan(
    desired: &Manifest,
    remote: &Remote,
    options: &Options,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Plan, String> {
    let mut planner = Planner {
        desired,
        remote,
        options,
        plan: Plan::default(),
        deletions: Vec::new(),
        file_integrations: HashMap::new(),
    };
    planner.event_types()?;
    planner.scopes()?;
    planner.integrations(env)?;
    planner.supplies()?;
    planner.integration_events()?;
    planner.attachments()?;
    // Deletions run last, dependants first.
    let mut deletions = std::mem::take(&mut planner.deletions);
    deletions.sort_by_key(|(order, _)| std::cmp::Reverse(*order));
    planner
        .plan
        .steps
        .extend(deletions.into_iter().map(|(_, step)| step));
    Ok(planner.plan)
}

struct Planner<'a> {
    desired: &'a Manifest,
    remote: &'a Remote,
    options: &'a Options,
    plan: Plan,
    /// Pruned resources with their section's order, so they can be deleted in reverse.
    deletions: Vec<(u8, Step)>,
    /// Integration name in the file → what references to it resolve to.
    file_integrations: HashMap<String, IntegrationRef>,
}

fn field_error(at: &str, e: herald_domain::FieldError) -> String {
    format!("{at}.{}: {}", e.field, e.message)
}

fn to_json<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).expect("manifest values serialise")
}

/// Records `field` as changed, with its new value, when it differs.
fn diff<T: PartialEq + serde::Serialize>(
    fields: &mut Vec<String>,
    patch: &mut Map<String, Value>,
    field: &str,
    want: &T,
    have: &T,
) {
    if want != have {
        fields.push(field.to_owned());
        patch.insert(field.to_owned(), to_json(want));
    }
}

impl Planner<'_> {
    fn step(&mut self, label: String, change: Change, requests: Vec<Request>) {
        self.plan.steps.push(Step {
            label,
            change,
            requests,
        });
    }

    fn prune(&mut self, order: u8, label: String, request: Request) {
        if self.options.prune {
            self.deletions.push((
                order,
                Step {
                    label,
                    change: Change::Delete,
                    requests: vec![request],
                },
            ));
        }
    }

    fn event_types(&mut self) -> Result<(), String> {
        let Some(wanted) = &self.desired.event_types else {
            return Ok(());
        };
        let mut seen = HashSet::new();
        for (i, spec) in wanted.iter().enumerate() {
            let at = format!("event_types[{i}]");
            if !seen.insert(spec.id.as_str()) {
                return Err(format!("{at}.id: `{}` is listed twice", spec.id));
            }
            let label = format!("event type {}", spec.id);
            let create = Request::new(Method::POST, "/v1/event-types", Some(to_json(spec)));
            match self.remote.event_types.iter().find(|t| t.id == spec.id) {
                Some(t) if t.preset => {
                    return Err(format!(
                        "{at}.id: `{}` is one of Herald's presets; list only registered types",
                        spec.id
                    ))
                }
                Some(t) => {
                    let mut fields = Vec::new();
                    if t.description != spec.description {
                        fields.push("description".to_owned());
                    }
                    if t.schema != spec.schema {
                        fields.push("schema".to_owned());
                    }
                    if fields.is_empty() {
                        self.plan.unchanged += 1;
                    } else {
                        let delete = Request::delete(format!("/v1/event-types/{}", t.id));
                        self.step(label, Change::Replace(fields), vec![delete, create]);
                    }
                }
                None => self.step(label, Change::Create, vec![create]),
            }
        }
        let stale: Vec<_> = self
            .remote
            .event_types
            .iter()
            .filter(|t| !t.preset && !seen.contains(t.id.as_str()))
            .collect();
        for t in stale {
            let request = Request::delete(format!("/v1/event-types/{}", t.id));
            self.prune(0, format!("event type {}", t.id), request);
        }
        Ok(())
    }

    fn scopes(&mut self) -> Result<(), String> {
        let Some(scopes) = &self.desired.scopes else {
            return Ok(());
        };
        let stacks: Vec<(String, Option<String>)> =
            scopes.stacks.iter().map(|s| (s.clone(), None)).collect();
        let namespaces: Vec<(String, Option<String>)> = scopes
            .namespaces
            .iter()
            .map(|n| (n.name.clone(), Some(n.stack.clone())))
            .collect();
        let modules: Vec<(String, Option<String>)> = scopes
            .modules
            .iter()
            .map(|m| (m.name.clone(), Some(m.namespace.clone())))
            .collect();
        self.scope_level(ScopeKind::Stack, &stacks, 1)?;
        self.scope_level(ScopeKind::Namespace, &namespaces, 2)?;
        self.scope_level(ScopeKind::Module, &modules, 3)
    }

    /// One level of the tree: `wanted` holds (name, parent name).
    fn scope_level(
        &mut self,
        kind: ScopeKind,
        wanted: &[(String, Option<String>)],
        order: u8,
    ) -> Result<(), String> {
        let (section, collection, parent_field, remote) = match kind {
            ScopeKind::Stack => ("stacks", "/v1/stacks", "", &self.remote.stacks),
            ScopeKind::Namespace => (
                "namespaces",
                "/v1/namespaces",
                "stack",
                &self.remote.namespaces,
            ),
            _ => ("modules", "/v1/modules", "namespace", &self.remote.modules),
        };
        let mut seen = HashSet::new();
        for (i, (name, parent)) in wanted.iter().enumerate() {
            if !seen.insert(name.as_str()) {
                return Err(format!(
                    "scopes.{section}[{i}]: the {} `{name}` is listed twice",
                    kind.as_str()
                ));
            }
            let mut body = json!({"name": name});
            let label = match parent {
                Some(parent) => {
                    body[parent_field] = json!(parent);
                    format!("{} \"{name}\" (in {parent_field} {parent})", kind.as_str())
                }
                None => format!("{} \"{name}\"", kind.as_str()),
            };
            let create = Request::new(Method::POST, collection, Some(body));
            match remote.iter().find(|r| &r.name == name) {
                Some(r) => {
                    let have = r.stack.as_ref().or(r.namespace.as_ref());
                    if have == parent.as_ref() {
                        self.plan.unchanged += 1;
                    } else {
                        let delete = Request::delete(format!("{collection}/{}", r.id));
                        let fields = vec![parent_field.to_owned()];
                        self.step(label, Change::Replace(fields), vec![delete, create]);
                    }
                }
                None => self.step(label, Change::Create, vec![create]),
            }
        }
        for r in remote.iter().filter(|r| !seen.contains(r.name.as_str())) {
            let request = Request::delete(format!("{collection}/{}", r.id));
            self.prune(order, format!("{} \"{}\"", kind.as_str(), r.name), request);
        }
        Ok(())
    }
}

mod integrations;
mod links;

#[cfg(test)]
mod tests;
