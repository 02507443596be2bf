//! What a file sets that will have no effect once applied, said before anything is changed.

use herald_domain::routing::{inert_filter_message, inert_filters};
use herald_domain::Filters;

use super::state::Remote;
use super::Manifest;

/// Filters of integrations that have (or, once applied, will have) integration events or
/// workspace attachments, which make supply ∩ demand decide for them. For each of the two
/// sections, the file's entries count when it manages that section, else the server's.
pub fn inert_filter_warnings(desired: &Manifest, remote: &Remote) -> Vec<String> {
    let Some(integrations) = &desired.integrations else {
        return Vec::new();
    };
    let mut warnings = Vec::new();
    for (at, spec) in integrations.iter().enumerate() {
        let remote_ids: Vec<&str> = remote
            .integrations
            .iter()
            .filter(|found| found.name == spec.name)
            .map(|found| found.id.as_str())
            .collect();
        let has_integration_events = match &desired.integration_events {
            Some(listed) => listed.iter().any(|event| event.integration == spec.name),
            None => remote
                .integration_events
                .iter()
                .any(|event| remote_ids.contains(&event.integration_id.as_str())),
        };
        let has_attachments = match &desired.attachments {
            Some(listed) => listed.iter().any(|a| a.integration == spec.name),
            None => remote
                .attachments
                .iter()
                .flatten()
                .any(|a| remote_ids.contains(&a.integration_id.as_str())),
        };
        let filters = Filters {
            events: spec.events.clone(),
            target_ids: spec.target_ids.clone(),
            severity_filter: spec.severity_filter,
        };
        for field in inert_filters(&filters, has_integration_events || has_attachments) {
            warnings.push(format!(
                "integrations[{at}].{field} (\"{}\"): {}",
                spec.name,
                inert_filter_message(field)
            ));
        }
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filter_beside_an_integration_event_of_the_file_is_inert() {
        let desired = crate::commands::manifest::parse(
            "integrations:\n  - {name: ops, kind: webhook, severity_filter: high, events: [scan_done]}\n  \
             - {name: quiet, kind: webhook, severity_filter: high}\n\
             integration_events:\n  - {integration: ops, name: runs, trigger: \"iac.run.*\"}\n\
             attachments:\n  - {integration: quiet, module: api, run_after: apply}\n",
        )
        .unwrap();
        let warnings = inert_filter_warnings(&desired, &Remote::default());
        assert_eq!(warnings.len(), 3, "{warnings:?}");
        assert!(warnings[0].starts_with("integrations[0].events (\"ops\")"));
        assert!(warnings[1].starts_with("integrations[0].severity_filter (\"ops\")"));
        assert!(warnings[2].starts_with("integrations[1].severity_filter (\"quiet\")"));
    }

    #[test]
    fn without_that_section_the_servers_integration_events_count() {
        let desired = crate::commands::manifest::parse(
            "integrations:\n  - {name: ops, kind: webhook, target_ids: [repo-1]}\n",
        )
        .unwrap();
        let mut remote = Remote::default();
        assert!(inert_filter_warnings(&desired, &remote).is_empty());
        remote.integrations = serde_json::from_value(serde_json::json!([{
            "id": "int_1", "name": "ops", "kind": "webhook", "enabled": true,
            "severity_filter": null, "events": null, "target_ids": ["repo-1"],
            "config_keys": [], "template": null
        }]))
        .unwrap();
        remote.integration_events = serde_json::from_value(serde_json::json!([{
            "id": "ie_1", "integration_id": "int_1", "name": "runs", "trigger": "iac.run.applied",
            "scope": {"kind": "organisation"}, "environments": null, "min_severity": null,
            "enabled": true, "template": null
        }]))
        .unwrap();
        let warnings = inert_filter_warnings(&desired, &remote);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].starts_with("integrations[0].target_ids (\"ops\")"));
    }
}
