//! Planning what hangs off an integration: supplies, integration events and attachments.

use std::collections::HashSet;

use reqwest::Method;
use serde_json::{json, Map, Value};

use super::super::{canonical_destinations, canonical_list, canonical_template};
use super::{diff, to_json, Change, IntegrationRef, Planner, Request};

impl Planner<'_> {
    pub(super) fn supplies(&mut self) -> Result<(), String> {
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

    pub(super) fn integration_events(&mut self) -> Result<(), String> {
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

    pub(super) fn attachments(&mut self) -> Result<(), String> {
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
