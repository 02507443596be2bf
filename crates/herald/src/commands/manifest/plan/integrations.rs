//! Planning integrations (config included) and resolving references to them by name.

use std::collections::{BTreeSet, HashSet};

use herald_domain::{Filters, Kind};
use reqwest::Method;
use serde_json::{json, Map, Value};

use super::super::credentials::{resolve_config, ResolvedConfig};
use super::super::state::RemoteIntegration;
use super::super::{canonical_destinations, canonical_template, IntegrationSpec};
use super::{diff, field_error, to_json, Change, IntegrationRef, Planner, Request};

impl Planner<'_> {
    pub(super) fn integrations(
        &mut self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<(), String> {
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
        have: &RemoteIntegration,
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
    pub(super) fn integration_ref(&self, at: &str, name: &str) -> Result<IntegrationRef, String> {
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

    pub(super) fn integration_label(&self, r: &IntegrationRef) -> String {
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
