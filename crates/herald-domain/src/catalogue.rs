//! The event catalogue: fully qualified event types with a description and, optionally, a JSON
//! Schema for their `data`. Herald ships presets for the seeds' three families; each
//! organisation registers its own types beside them.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use serde::Serialize;
use serde_json::Value;

use crate::FieldError;

/// One event type as the catalogue describes it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct EventTypeDef {
    /// Fully qualified, e.g. `iac.run.plan_finished`.
    pub id: String,
    pub description: String,
    /// The JSON Schema `data` must satisfy (`data` is checked as null when absent).
    #[schema(value_type = Option<Object>)]
    pub schema: Option<Value>,
    /// Short names that mean this type (the scanner seed's events).
    pub aliases: Vec<String>,
    /// Shipped with Herald, as opposed to registered by the organisation.
    pub preset: bool,
}

/// Plan counts, when the platform sends them.
const PLAN_SCHEMA: &str = r#"{"type": ["object", "null"], "properties": {"plan": {"type": "object",
  "properties": {"add": {"type": "integer", "minimum": 0}, "change": {"type": "integer", "minimum": 0},
                 "destroy": {"type": "integer", "minimum": 0}}}}}"#;
/// A health state change names its states, when the platform sends them.
const STATE_SCHEMA: &str = r#"{"type": ["object", "null"], "properties": {
  "from": {"type": "string"}, "to": {"type": "string"}}}"#;

/// A decision taken on a run that waited for approval (from Slack's Approve and Reject buttons).
const APPROVAL_DECIDED_SCHEMA: &str = r#"{"type": "object",
  "required": ["decision", "original_event_id", "decided_by"],
  "properties": {
    "decision": {"enum": ["approved", "rejected"]},
    "original_event_id": {"type": "string"},
    "correlation_key": {"type": ["string", "null"]},
    "run_url": {"type": ["string", "null"]},
    "decided_at": {"type": "string"},
    "decided_by": {"type": "object", "required": ["principal_id"], "properties": {
      "principal_id": {"type": "string"}, "principal_name": {"type": ["string", "null"]},
      "slack_user_id": {"type": "string"}, "slack_user_name": {"type": ["string", "null"]},
      "slack_team_id": {"type": "string"}}}}}"#;

/// What Herald says about one of its own integrations (operator events).
const INTEGRATION_HEALTH_SCHEMA: &str = r#"{"type": "object",
  "required": ["integration_id", "integration_name", "kind"],
  "properties": {
    "integration_id": {"type": "string"}, "integration_name": {"type": "string"},
    "kind": {"type": "string"}, "reason": {"type": ["string", "null"]},
    "failing_since": {"type": ["string", "null"]}}}"#;

/// A delivery that ended without being delivered.
const DELIVERY_EXHAUSTED_SCHEMA: &str = r#"{"type": "object",
  "required": ["delivery_id", "event_id", "integration_id"],
  "properties": {
    "delivery_id": {"type": "string"}, "event_id": {"type": "string"},
    "event_type": {"type": "string"}, "integration_id": {"type": "string"},
    "integration_name": {"type": "string"}, "kind": {"type": "string"},
    "attempts": {"type": "integer"}, "error": {"type": ["string", "null"]}}}"#;

/// (id, alias, description, schema)
const PRESETS: &[(&str, Option<&str>, &str, Option<&str>)] = &[
    ("iac.run.queued", None, "An IaC run was queued.", None),
    (
        "iac.run.planning",
        None,
        "An IaC run started planning.",
        None,
    ),
    (
        "iac.run.plan_finished",
        None,
        "An IaC run finished its plan.",
        Some(PLAN_SCHEMA),
    ),
    (
        "iac.run.waiting_for_approval",
        None,
        "An IaC run waits for a person to approve it.",
        None,
    ),
    (
        "iac.run.applying",
        None,
        "An IaC run started applying.",
        None,
    ),
    (
        "iac.run.applied",
        None,
        "An IaC run applied its changes.",
        None,
    ),
    ("iac.run.failed", None, "An IaC run failed.", None),
    ("iac.run.cancelled", None, "An IaC run was cancelled.", None),
    (
        "iac.run.rejected",
        None,
        "An IaC run's plan was rejected.",
        None,
    ),
    (
        "security.scan.started",
        Some("scan_started"),
        "A security scan started.",
        None,
    ),
    (
        "security.scan.done",
        Some("scan_done"),
        "A security scan finished.",
        None,
    ),
    (
        "security.scan.failed",
        Some("scan_failed"),
        "A security scan failed.",
        None,
    ),
    (
        "security.scan.finding_new",
        Some("finding_new"),
        "A scan found a new finding.",
        None,
    ),
    (
        "security.scan.finding_changed",
        Some("finding_changed"),
        "A known finding changed.",
        None,
    ),
    (
        "health.state_changed",
        None,
        "A system's health state changed.",
        Some(STATE_SCHEMA),
    ),
    (
        "health.incident.created",
        None,
        "An incident was opened.",
        None,
    ),
    (
        "health.incident.resolved",
        None,
        "An incident was resolved.",
        None,
    ),
    (
        "health.maintenance.started",
        None,
        "A maintenance window started.",
        None,
    ),
    (
        "health.maintenance.ended",
        None,
        "A maintenance window ended.",
        None,
    ),
    (
        "herald.test",
        None,
        "Herald's own test event (POST /v1/integrations/{id}/test).",
        None,
    ),
    (
        "herald.approval.decided",
        None,
        "A person approved or rejected a run that waited for approval (from Slack).",
        Some(APPROVAL_DECIDED_SCHEMA),
    ),
    (
        "herald.integration.failing",
        None,
        "Early warning: one of Herald's integrations keeps failing (its circuit opened).",
        Some(INTEGRATION_HEALTH_SCHEMA),
    ),
    (
        "herald.integration.disabled",
        None,
        "Herald disabled one of its integrations on its own (it failed for too long, or its \
         Slack app was uninstalled); the reason is in `data.reason`.",
        Some(INTEGRATION_HEALTH_SCHEMA),
    ),
    (
        "herald.delivery.exhausted",
        None,
        "A delivery ended without being delivered: out of retries, or refused for good.",
        Some(DELIVERY_EXHAUSTED_SCHEMA),
    ),
];

/// Herald's operator events (`herald.integration.*`, `herald.delivery.*`): about Herald's own
/// integrations and deliveries. An integration gets them only by naming them (in `events`, or
/// in an integration event's trigger), never as part of "every event", so a catch-all
/// receiver is not flooded with Herald's own health and a failing route cannot feed on itself.
pub fn is_operator_event(event_type: &str) -> bool {
    event_type.starts_with("herald.integration.") || event_type.starts_with("herald.delivery.")
}

/// The fully qualified id an event type stands for: a scanner short name maps to its
/// `security.scan.*` type; any other name is its own id.
pub fn canonical(event_type: &str) -> &str {
    PRESETS
        .iter()
        .find(|(_, alias, ..)| *alias == Some(event_type))
        .map_or(event_type, |(id, ..)| id)
}

/// A registrable type id: dot-separated segments of lower-case letters, digits, `_` and `-`,
/// at least two of them, at most 128 characters.
pub fn parse_type_id(field: &str, raw: &str) -> Result<String, FieldError> {
    let segments_ok = raw.split('.').all(|s| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-'))
    });
    if raw.len() > 128 || !raw.contains('.') || !segments_ok {
        return Err(FieldError::new(
            field,
            "must be a fully qualified id such as `acme.deploy.finished`: dot-separated \
             lower-case segments, at most 128 characters",
        ));
    }
    Ok(raw.to_owned())
}

/// A type with its schema compiled once.
#[derive(Clone)]
pub struct CompiledType {
    pub def: EventTypeDef,
    validator: Option<Arc<jsonschema::Validator>>,
}

impl CompiledType {
    /// Compiles the schema; a schema that is not valid JSON Schema is refused under `field`.
    pub fn compile(def: EventTypeDef, field: &str) -> Result<Self, FieldError> {
        let validator = match &def.schema {
            Some(schema) => Some(Arc::new(jsonschema::validator_for(schema).map_err(
                |e| FieldError::new(field, format!("is not a usable JSON Schema: {e}")),
            )?)),
            None => None,
        };
        Ok(Self { def, validator })
    }

    /// Checks `data` (null when absent), naming the first failing path, e.g. `data.plan.add`.
    pub fn check(&self, data: Option<&Value>) -> Result<(), FieldError> {
        let Some(validator) = &self.validator else {
            return Ok(());
        };
        let data = data.unwrap_or(&Value::Null);
        match validator.iter_errors(data).next() {
            None => Ok(()),
            Some(error) => {
                let mut field = String::from("data");
                for segment in error.instance_path().iter() {
                    match segment {
                        jsonschema::paths::LocationSegment::Property(p) => {
                            field.push('.');
                            field.push_str(&p);
                        }
                        jsonschema::paths::LocationSegment::Index(i) => {
                            field.push_str(&format!("[{i}]"));
                        }
                    }
                }
                Err(FieldError::new(field, error.to_string()))
            }
        }
    }
}

impl std::fmt::Debug for CompiledType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledType")
            .field("id", &self.def.id)
            .finish()
    }
}

static COMPILED_PRESETS: LazyLock<Vec<CompiledType>> = LazyLock::new(|| {
    PRESETS
        .iter()
        .map(|(id, alias, description, schema)| {
            let def = EventTypeDef {
                id: (*id).to_owned(),
                description: (*description).to_owned(),
                schema: schema.map(|s| serde_json::from_str(s).expect("preset schemas parse")),
                aliases: alias.iter().map(|a| (*a).to_owned()).collect(),
                preset: true,
            };
            CompiledType::compile(def, "schema").expect("preset schemas compile")
        })
        .collect()
});

/// Herald's presets, in catalogue order.
pub fn presets() -> &'static [CompiledType] {
    &COMPILED_PRESETS
}

/// The preset with this id or alias.
pub fn preset(event_type: &str) -> Option<&'static CompiledType> {
    let id = canonical(event_type);
    presets().iter().find(|t| t.def.id == id)
}

/// What an organisation may emit: the presets and its registered types.
#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    registered: HashMap<String, CompiledType>,
}

impl Catalogue {
    pub fn new(registered: impl IntoIterator<Item = CompiledType>) -> Self {
        Self {
            registered: registered
                .into_iter()
                .map(|t| (t.def.id.clone(), t))
                .collect(),
        }
    }

    pub fn get(&self, event_type: &str) -> Option<&CompiledType> {
        preset(event_type).or_else(|| self.registered.get(event_type))
    }

    /// Refuses an unregistered type (field `type`) or `data` that breaks the type's schema.
    pub fn check(&self, event_type: &str, data: Option<&Value>) -> Result<(), FieldError> {
        let Some(known) = self.get(event_type) else {
            return Err(FieldError::new(
                "type",
                format!(
                    "`{event_type}` is not in the event catalogue; use a preset type or register it with POST /v1/event-types"
                ),
            ));
        };
        known.check(data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scanner_short_names_are_aliases_of_security_scan_types() {
        assert_eq!(canonical("scan_done"), "security.scan.done");
        assert_eq!(canonical("finding_new"), "security.scan.finding_new");
        assert_eq!(canonical("iac.run.applied"), "iac.run.applied");
        assert_eq!(preset("scan_failed").unwrap().def.aliases, ["scan_failed"]);
        assert_eq!(
            presets()
                .iter()
                .filter(|p| p.def.id.starts_with("iac.run."))
                .count(),
            9
        );
        assert_eq!(
            presets()
                .iter()
                .filter(|p| p.def.id.starts_with("health."))
                .count(),
            5
        );
    }

    #[test]
    fn unknown_types_are_refused_and_registered_ones_accepted() {
        let registered = CompiledType::compile(
            EventTypeDef {
                id: "acme.deploy.finished".into(),
                description: "A deploy finished.".into(),
                schema: Some(json!({"type": "object", "required": ["version"],
                    "properties": {"version": {"type": "string"}, "hosts": {"type": "array", "items": {"type": "string"}}}})),
                aliases: vec![],
                preset: false,
            },
            "schema",
        )
        .unwrap();
        let catalogue = Catalogue::new([registered]);
        assert_eq!(
            catalogue.check("acme.other", None).unwrap_err().field,
            "type"
        );
        assert!(catalogue.check("scan_done", None).is_ok());
        let ok = json!({"version": "1.2", "hosts": ["a"]});
        assert!(catalogue.check("acme.deploy.finished", Some(&ok)).is_ok());
        let field = |data: Value| {
            catalogue
                .check("acme.deploy.finished", Some(&data))
                .unwrap_err()
                .field
        };
        assert_eq!(field(json!({"version": 3})), "data.version");
        assert_eq!(
            field(json!({"version": "1", "hosts": ["a", 2]})),
            "data.hosts[1]"
        );
        assert_eq!(
            catalogue
                .check("acme.deploy.finished", None)
                .unwrap_err()
                .field,
            "data",
            "absent data is checked as null"
        );
    }

    #[test]
    fn preset_schemas_admit_absent_data_and_name_bad_paths() {
        let plan = preset("iac.run.plan_finished").unwrap();
        assert!(plan.check(None).is_ok());
        let err = plan.check(Some(&json!({"plan": {"add": -1}}))).unwrap_err();
        assert_eq!(err.field, "data.plan.add");
    }

    #[test]
    fn type_ids_are_fully_qualified() {
        assert!(parse_type_id("type", "acme.deploy.finished").is_ok());
        for bad in ["scan_done", "Acme.x", "a..b", "a.b ", ""] {
            assert!(parse_type_id("type", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bad_schemas_are_refused() {
        let def = EventTypeDef {
            id: "a.b".into(),
            description: String::new(),
            schema: Some(json!({"type": "no-such-type"})),
            aliases: vec![],
            preset: false,
        };
        assert_eq!(
            CompiledType::compile(def, "schema").unwrap_err().field,
            "schema"
        );
    }
}
