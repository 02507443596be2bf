//! The plan: what `herald apply` must call to make the server match the file. Pure: it reads
//! the file and the server's state and returns requests, so it is tested without a server.
//!
//! Config values are write-only, so an integration's config counts as changed only when its
//! set of keys differs from the stored one (or when re-sending is asked for); see the README.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt;

use herald_domain::{Filters, Kind, ScopeKind};
use reqwest::Method;
use serde_json::{json, Map, Value};

use super::credentials::{resolve_config, ResolvedConfig};
use super::state::Remote;
use super::{
    canonical_destinations, canonical_list, canonical_template, IntegrationSpec, Manifest,
};

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

    fn integrations(&mut self, env: &dyn Fn(&str) -> Option<String>) -> Result<(), String> {
        let Some(wanted) = &self.desired.integrations else {
            return Ok(());
        };
        let mut matched = HashSet::new();
        for (i, spec) in wanted.iter().enumerate() {
            let at = format!("integrations[{i}]");
            if self.file_integrations.contains_key(&spec.name) {
                return Err(format!(
                    "{at}.name: `{}` is listed twice; references are by name, so names must be \
                     unique in the file",
                    spec.name
                ));
            }
            if Kind::parse(&spec.kind).is_none() {
                return Err(format!("{at}.kind: `{}` is not a kind", spec.kind));
            }
            let config = resolve_config(&format!("{at}.config"), &spec.config, env)?;
            let label = format!("integration \"{}\" ({})", spec.name, spec.kind);
            let existing = self
                .remote
                .integrations
                .iter()
                .find(|r| r.name == spec.name && r.kind == spec.kind);
            match existing {
                None => {
                    let mut request = Request::new(
                        Method::POST,
                        "/v1/integrations",
                        Some(create_integration_body(&at, spec, &config)?),
                    );
                    request.creates_integration = Some(spec.name.clone());
                    self.file_integrations
                        .insert(spec.name.clone(), IntegrationRef::New(spec.name.clone()));
                    self.step(label, Change::Create, vec![request]);
                }
                Some(r) => {
                    matched.insert(r.id.clone());
                    self.file_integrations
                        .insert(spec.name.clone(), IntegrationRef::Existing(r.id.clone()));
                    let (fields, patch) = self.integration_patch(&at, spec, r, config)?;
                    if fields.is_empty() {
                        self.plan.unchanged += 1;
                    } else {
                        let path = format!("/v1/integrations/{}", r.id);
                        let request = Request::new(Method::PATCH, path, Some(Value::Object(patch)));
                        self.step(label, Change::Update(fields), vec![request]);
                    }
                }
            }
        }
        let stale: Vec<_> = self
            .remote
            .integrations
            .iter()
            .filter(|r| !matched.contains(&r.id))
            .collect();
        for r in stale {
            let label = format!("integration \"{}\" ({})", r.name, r.kind);
            let request = Request::delete(format!("/v1/integrations/{}", r.id));
            self.prune(4, label, request);
        }
        Ok(())
    }

    fn integration_patch(
        &self,
        at: &str,
        spec: &IntegrationSpec,
        have: &super::state::RemoteIntegration,
        config: ResolvedConfig,
    ) -> Result<(Vec<String>, Map<String, Value>), String> {
        let mut fields = Vec::new();
        let mut patch = Map::new();
        let events = Filters::parse_events(spec.events.clone()).map_err(|e| field_error(at, e))?;
        let target_ids =
            Filters::parse_target_ids(spec.target_ids.clone()).map_err(|e| field_error(at, e))?;
        diff(
            &mut fields,
            &mut patch,
            "enabled",
            &spec.enabled,
            &have.enabled,
        );
        diff(
            &mut fields,
            &mut patch,
            "severity_filter",
            &spec.severity_filter,
            &have.severity_filter,
        );
        diff(&mut fields, &mut patch, "events", &events, &have.events);
        diff(
            &mut fields,
            &mut patch,
            "target_ids",
            &target_ids,
            &have.target_ids,
        );
        diff(
            &mut fields,
            &mut patch,
            "template",
            &canonical_template(spec.template.clone()),
            &canonical_template(have.template.clone()),
        );
        diff(
            &mut fields,
            &mut patch,
            "is_supplied_to_all_modules",
            &spec.is_supplied_to_all_modules,
            &have.is_supplied_to_all_modules,
        );
        let want = canonical_destinations(spec.destinations.clone());
        if want != canonical_destinations(have.destinations.clone()) {
            fields.push("destinations".to_owned());
            // An empty object clears them: an empty list counts as absent.
            patch.insert(
                "destinations".into(),
                want.map_or(json!({}), |d| to_json(&d)),
            );
        }
        // Config values cannot be read back: compare the keys, send values when they differ
        // or when asked to.
        let want_keys: BTreeSet<&String> = config.0.keys().collect();
        let have_keys: BTreeSet<&String> = have.config_keys.iter().collect();
        let resend = self
            .options
            .resend_config
            .as_ref()
            .is_some_and(|names| names.is_empty() || names.contains(&spec.name));
        if want_keys != have_keys || resend {
            let added: Vec<String> = want_keys
                .difference(&have_keys)
                .map(|k| format!("+{k}"))
                .collect();
            let removed: Vec<String> = have_keys
                .difference(&want_keys)
                .map(|k| format!("-{k}"))
                .collect();
            let mut merge = config.0.clone();
            for key in have_keys.difference(&want_keys) {
                merge.insert((*key).clone(), Value::Null);
            }
            let mut what = added;
            what.extend(removed);
            fields.push(if what.is_empty() {
                "config (re-sent)".to_owned()
            } else {
                format!("config ({})", what.join(" "))
            });
            patch.insert("config".into(), Value::Object(merge));
        }
        Ok((fields, patch))
    }

    /// What a reference to an integration by name resolves to: the file's integration of that
    /// name, else the server's only one.
    fn integration_ref(&self, at: &str, name: &str) -> Result<IntegrationRef, String> {
        if let Some(found) = self.file_integrations.get(name) {
            return Ok(found.clone());
        }
        let on_server: Vec<_> = self
            .remote
            .integrations
            .iter()
            .filter(|r| r.name == name)
            .collect();
        match on_server.as_slice() {
            [one] => Ok(IntegrationRef::Existing(one.id.clone())),
            [] => Err(format!(
                "{at}.integration: there is no integration named `{name}` in the file or on the \
                 server"
            )),
            _ => Err(format!(
                "{at}.integration: the server has several integrations named `{name}` (of \
                 different kinds); list the one you mean under integrations"
            )),
        }
    }

    fn integration_label(&self, r: &IntegrationRef) -> String {
        match r {
            IntegrationRef::New(name) => name.clone(),
            IntegrationRef::Existing(id) => self
                .remote
                .integrations
                .iter()
                .find(|i| &i.id == id)
                .map_or_else(|| id.clone(), |i| i.name.clone()),
        }
    }

    fn supplies(&mut self) -> Result<(), String> {
        let Some(wanted) = &self.desired.supplies else {
            return Ok(());
        };
        let mut seen = HashSet::new();
        for (i, spec) in wanted.iter().enumerate() {
            let at = format!("supplies[{i}]");
            let (kind, scope) = spec.scope().map_err(|e| format!("{at}: {e}"))?;
            let integration = self.integration_ref(&at, &spec.integration)?;
            let key = (integration.clone(), kind, scope.to_owned());
            if !seen.insert(key) {
                return Err(format!("{at}: this supply is listed twice"));
            }
            let exists = self.remote.supplies.iter().any(|r| {
                IntegrationRef::Existing(r.integration_id.clone()) == integration
                    && r.kind == kind
                    && r.scope_name() == scope
            });
            if exists {
                self.plan.unchanged += 1;
                continue;
            }
            let mut request = Request::new(
                Method::POST,
                format!("/v1/{}-supplies", kind.as_str()),
                Some(json!({ kind.as_str(): scope })),
            );
            request.integration = Some(integration);
            let label = format!(
                "{} supply \"{}\" → {scope}",
                kind.as_str(),
                spec.integration
            );
            self.step(label, Change::Create, vec![request]);
        }
        let stale: Vec<_> = self
            .remote
            .supplies
            .iter()
            .filter(|r| {
                let key = (
                    IntegrationRef::Existing(r.integration_id.clone()),
                    r.kind,
                    r.scope_name().to_owned(),
                );
                !seen.contains(&key)
            })
            .collect();
        for r in stale {
            let name = self.integration_label(&IntegrationRef::Existing(r.integration_id.clone()));
            let label = format!("{} supply \"{name}\" → {}", r.kind.as_str(), r.scope_name());
            let request = Request::delete(format!("/v1/{}-supplies/{}", r.kind.as_str(), r.id));
            self.prune(5, label, request);
        }
        Ok(())
    }

    fn integration_events(&mut self) -> Result<(), String> {
        let Some(wanted) = &self.desired.integration_events else {
            return Ok(());
        };
        let trigger_ids = self.remote.trigger_ids();
        let mut seen = HashSet::new();
        for (i, spec) in wanted.iter().enumerate() {
            let at = format!("integration_events[{i}]");
            let integration = self.integration_ref(&at, &spec.integration)?;
            if !seen.insert((integration.clone(), spec.name.clone())) {
                return Err(format!(
                    "{at}.name: `{}` is listed twice for integration `{}`",
                    spec.name, spec.integration
                ));
            }
            let trigger = trigger_ids
                .get(&spec.trigger)
                .cloned()
                .unwrap_or_else(|| spec.trigger.clone());
            let environments = canonical_list(spec.environments.clone());
            let template = canonical_template(spec.template.clone());
            let label = format!(
                "integration event \"{}\" of \"{}\"",
                spec.name, spec.integration
            );
            let existing = self.remote.integration_events.iter().find(|r| {
                IntegrationRef::Existing(r.integration_id.clone()) == integration
                    && r.name == spec.name
            });
            let Some(have) = existing else {
                let mut body = json!({
                    "name": spec.name, "trigger": trigger, "scope": spec.scope,
                    "enabled": spec.enabled,
                });
                if environments.is_some() {
                    body["environments"] = to_json(&environments);
                }
                if spec.min_severity.is_some() {
                    body["min_severity"] = to_json(&spec.min_severity);
                }
                if template.is_some() {
                    body["template"] = to_json(&template);
                }
                let mut request = Request::new(Method::POST, "/v1/integration-events", Some(body));
                request.integration = Some(integration);
                self.step(label, Change::Create, vec![request]);
                continue;
            };
            let (mut fields, mut patch) = (Vec::new(), Map::new());
            diff(&mut fields, &mut patch, "trigger", &trigger, &have.trigger);
            diff(&mut fields, &mut patch, "scope", &spec.scope, &have.scope);
            let have_environments = canonical_list(have.environments.clone());
            diff(
                &mut fields,
                &mut patch,
                "environments",
                &environments,
                &have_environments,
            );
            diff(
                &mut fields,
                &mut patch,
                "min_severity",
                &spec.min_severity,
                &have.min_severity,
            );
            diff(
                &mut fields,
                &mut patch,
                "enabled",
                &spec.enabled,
                &have.enabled,
            );
            let have_template = canonical_template(have.template.clone());
            diff(
                &mut fields,
                &mut patch,
                "template",
                &template,
                &have_template,
            );
            if fields.is_empty() {
                self.plan.unchanged += 1;
            } else {
                let path = format!("/v1/integration-events/{}", have.id);
                let request = Request::new(Method::PATCH, path, Some(Value::Object(patch)));
                self.step(label, Change::Update(fields), vec![request]);
            }
        }
        let stale: Vec<_> = self
            .remote
            .integration_events
            .iter()
            .filter(|r| {
                let key = (
                    IntegrationRef::Existing(r.integration_id.clone()),
                    r.name.clone(),
                );
                !seen.contains(&key)
            })
            .collect();
        for r in stale {
            let name = self.integration_label(&IntegrationRef::Existing(r.integration_id.clone()));
            let label = format!("integration event \"{}\" of \"{name}\"", r.name);
            let request = Request::delete(format!("/v1/integration-events/{}", r.id));
            self.prune(6, label, request);
        }
        Ok(())
    }

    fn attachments(&mut self) -> Result<(), String> {
        let Some(wanted) = &self.desired.attachments else {
            return Ok(());
        };
        let Some(remote) = &self.remote.attachments else {
            return Err(
                "attachments: this server has no workspace attachments API (GET /v1/attachments \
                 answered 404); remove the section or upgrade Herald"
                    .into(),
            );
        };
        let mut seen = HashSet::new();
        for (i, spec) in wanted.iter().enumerate() {
            let at = format!("attachments[{i}]");
            let integration = self.integration_ref(&at, &spec.integration)?;
            if !seen.insert((integration.clone(), spec.module.clone())) {
                return Err(format!(
                    "{at}: integration `{}` is attached to module `{}` twice",
                    spec.integration, spec.module
                ));
            }
            let destinations = canonical_destinations(spec.destinations.clone());
            let label = format!(
                "attachment \"{}\" → module {}",
                spec.integration, spec.module
            );
            let existing = remote.iter().find(|r| {
                IntegrationRef::Existing(r.integration_id.clone()) == integration
                    && r.module == spec.module
            });
            let Some(have) = existing else {
                let mut body = json!({"module": spec.module, "run_after": spec.run_after});
                if let Some(d) = &destinations {
                    body["destinations"] = to_json(d);
                }
                let mut request = Request::new(Method::POST, "/v1/attachments", Some(body));
                request.integration = Some(integration);
                self.step(label, Change::Create, vec![request]);
                continue;
            };
            let (mut fields, mut patch) = (Vec::new(), Map::new());
            diff(
                &mut fields,
                &mut patch,
                "run_after",
                &spec.run_after,
                &have.run_after,
            );
            if destinations != canonical_destinations(have.destinations.clone()) {
                fields.push("destinations".to_owned());
                patch.insert(
                    "destinations".into(),
                    destinations.map_or(json!({}), |d| to_json(&d)),
                );
            }
            if fields.is_empty() {
                self.plan.unchanged += 1;
            } else {
                let path = format!("/v1/attachments/{}", have.id);
                let request = Request::new(Method::PATCH, path, Some(Value::Object(patch)));
                self.step(label, Change::Update(fields), vec![request]);
            }
        }
        let stale: Vec<_> = remote
            .iter()
            .filter(|r| {
                let key = (
                    IntegrationRef::Existing(r.integration_id.clone()),
                    r.module.clone(),
                );
                !seen.contains(&key)
            })
            .collect();
        for r in stale {
            let name = self.integration_label(&IntegrationRef::Existing(r.integration_id.clone()));
            let label = format!("attachment \"{name}\" → module {}", r.module);
            let request = Request::delete(format!("/v1/attachments/{}", r.id));
            self.prune(7, label, request);
        }
        Ok(())
    }
}

fn create_integration_body(
    at: &str,
    spec: &IntegrationSpec,
    config: &ResolvedConfig,
) -> Result<Value, String> {
    let mut body = json!({
        "kind": spec.kind,
        "name": spec.name,
        "enabled": spec.enabled,
        "config": config.0,
        "is_supplied_to_all_modules": spec.is_supplied_to_all_modules,
    });
    let events = Filters::parse_events(spec.events.clone()).map_err(|e| field_error(at, e))?;
    let target_ids =
        Filters::parse_target_ids(spec.target_ids.clone()).map_err(|e| field_error(at, e))?;
    let optional = [
        ("severity_filter", to_json(&spec.severity_filter)),
        ("events", to_json(&events)),
        ("target_ids", to_json(&target_ids)),
        (
            "template",
            to_json(&canonical_template(spec.template.clone())),
        ),
        (
            "destinations",
            to_json(&canonical_destinations(spec.destinations.clone())),
        ),
    ];
    for (field, value) in optional {
        if !value.is_null() {
            body[field] = value;
        }
    }
    Ok(body)
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
