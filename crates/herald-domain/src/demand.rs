//! Demand: integration events. Each subscribes one trigger (an event type or a pattern) for one
//! integration on one scope, with optional environment and severity filters.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::catalogue::canonical;
use crate::scope::{Location, Scope};
use crate::{
    Event, EventType, FieldError, IntegrationEventId, IntegrationId, MessageTemplate, OrgId,
    Severity,
};

/// What an integration event listens for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(into = "String")]
pub enum Trigger {
    /// `*`: every event type.
    All,
    /// `iac.run.*`: every type under `iac.run.`. Holds the prefix with its trailing dot.
    Prefix(String),
    /// One type, by its fully qualified id (a scanner short name is stored as its id).
    Exact(String),
}

impl Trigger {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let bad = |m: String| FieldError::new("trigger", m);
        if raw == "*" {
            return Ok(Trigger::All);
        }
        if let Some(prefix) = raw.strip_suffix(".*") {
            EventType::parse(prefix).map_err(|m| bad(format!("pattern prefix {m}")))?;
            if prefix.contains('*') {
                return Err(bad("`*` may only end a pattern, as in `iac.run.*`".into()));
            }
            return Ok(Trigger::Prefix(format!("{prefix}.")));
        }
        EventType::parse(raw).map_err(bad)?;
        Ok(Trigger::Exact(canonical(raw).to_owned()))
    }

    /// `canonical_type` is the event's fully qualified type (see [`canonical`]).
    pub fn matches(&self, canonical_type: &str) -> bool {
        match self {
            // Herald's operator events are had only by naming them (see
            // `catalogue::is_operator_event`).
            Trigger::All => !crate::catalogue::is_operator_event(canonical_type),
            Trigger::Prefix(prefix) => canonical_type.starts_with(prefix.as_str()),
            Trigger::Exact(id) => id == canonical_type,
        }
    }
}

impl From<Trigger> for String {
    fn from(trigger: Trigger) -> Self {
        trigger.to_string()
    }
}

impl std::fmt::Display for Trigger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Trigger::All => f.write_str("*"),
            Trigger::Prefix(prefix) => write!(f, "{prefix}*"),
            Trigger::Exact(id) => f.write_str(id),
        }
    }
}

/// An integration event (demand), as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct IntegrationEvent {
    pub id: IntegrationEventId,
    pub org_id: OrgId,
    pub integration_id: IntegrationId,
    /// Unique per integration; what lookups by name find.
    pub name: String,
    pub trigger: Trigger,
    pub scope: Scope,
    /// Only events from these environments; `None` means any (and events without one).
    pub environments: Option<Vec<String>>,
    /// Only events at least this severe (an event without a severity does not pass).
    pub min_severity: Option<Severity>,
    pub enabled: bool,
    pub template: Option<MessageTemplate>,
    /// Where the events it carries go, instead of the integration's own destinations: a Slack
    /// channel subscribed with `/herald subscribe`, say. `None`: the integration's own.
    pub destinations: Option<Vec<String>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// How far an event got through one integration event's checks, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DemandStage {
    /// Disabled, or the trigger does not match the type.
    Trigger,
    /// The event is not located in the integration event's scope.
    Scope,
    Environment,
    Severity,
    /// Every check passed.
    Matched,
}

impl IntegrationEvent {
    /// The first check this event fails, or `Matched`.
    pub fn stage(&self, canonical_type: &str, event: &Event, at: &Location) -> DemandStage {
        if !self.enabled || !self.trigger.matches(canonical_type) {
            return DemandStage::Trigger;
        }
        self.stage_after_trigger(event, at)
    }

    /// As [`IntegrationEvent::stage`], for one already known to be enabled with a matching trigger.
    pub fn stage_after_trigger(&self, event: &Event, at: &Location) -> DemandStage {
        if !self.scope.contains(at) {
            return DemandStage::Scope;
        }
        if let Some(allowed) = &self.environments {
            if !event
                .environment
                .as_ref()
                .is_some_and(|e| allowed.contains(e))
            {
                return DemandStage::Environment;
            }
        }
        if let Some(minimum) = self.min_severity {
            if event.severity.is_none_or(|s| s < minimum) {
                return DemandStage::Severity;
            }
        }
        DemandStage::Matched
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triggers_parse_and_match_by_fully_qualified_type() {
        let exact = Trigger::parse("scan_done").unwrap();
        assert_eq!(exact.to_string(), "security.scan.done");
        assert!(exact.matches(canonical("scan_done")));
        let pattern = Trigger::parse("iac.run.*").unwrap();
        assert!(pattern.matches("iac.run.plan_finished"));
        assert!(!pattern.matches("iac.runner.x"));
        assert!(!pattern.matches("iac.run"));
        assert!(Trigger::parse("security.*")
            .unwrap()
            .matches(canonical("finding_new")));
        assert!(Trigger::parse("*").unwrap().matches("anything.at.all"));
        assert!(!Trigger::parse("*")
            .unwrap()
            .matches("herald.integration.failing"));
        assert!(Trigger::parse("herald.integration.*")
            .unwrap()
            .matches("herald.integration.failing"));
        for bad in ["iac.*.x", "iac run", "", "*.x"] {
            assert_eq!(Trigger::parse(bad).unwrap_err().field, "trigger", "{bad}");
        }
    }
}
