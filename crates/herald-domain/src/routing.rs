//! Routing: a pure function of the event and one integration's configuration, with its reason.

use serde::Serialize;

use crate::{Event, Integration, Severity};

/// Whether an integration gets an event, and if not, why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    Deliver,
    Skip { reason: SkipReason },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum SkipReason {
    /// The integration is disabled.
    Disabled,
    /// The event's type is not in the integration's `events`.
    EventNotSubscribed { event_type: String },
    /// The event's target is not in the integration's `target_ids` (or the event names none).
    TargetNotInScope { target_id: Option<String> },
    /// A severity-gated event below the integration's `severity_filter` (or without a severity).
    SeverityBelowFilter {
        severity: Option<Severity>,
        minimum: Severity,
    },
}

/// The scanner seed's three-stage filter: event subscription, target scope, then severity.
pub fn route(event: &Event, integration: &Integration) -> Verdict {
    let skip = |reason| Verdict::Skip { reason };
    if !integration.enabled {
        return skip(SkipReason::Disabled);
    }
    let filters = &integration.filters;
    if let Some(events) = &filters.events {
        if !events.contains(&event.event_type) {
            return skip(SkipReason::EventNotSubscribed {
                event_type: event.event_type.clone(),
            });
        }
    }
    if let Some(targets) = &filters.target_ids {
        let in_scope = event
            .target_id
            .as_ref()
            .is_some_and(|t| targets.contains(t));
        if !in_scope {
            return skip(SkipReason::TargetNotInScope {
                target_id: event.target_id.clone(),
            });
        }
    }
    if let Some(minimum) = filters.severity_filter {
        let admitted = event.severity.is_some_and(|s| s >= minimum);
        if event.event_type().is_severity_gated() && !admitted {
            return skip(SkipReason::SeverityBelowFilter {
                severity: event.severity,
                minimum,
            });
        }
    }
    Verdict::Deliver
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EventId, EventInput, Filters, IntegrationId, Kind, OrgId};
    use chrono::Utc;
    use serde_json::json;

    fn event(body: serde_json::Value) -> Event {
        let new = serde_json::from_value::<EventInput>(body)
            .unwrap()
            .parse()
            .unwrap();
        Event::from_new(&EventId::generate(), &new, Utc::now())
    }

    fn integration(filters: Filters) -> Integration {
        Integration {
            id: IntegrationId::generate(),
            org_id: OrgId::generate(),
            kind: Kind::Webhook,
            name: "hook".into(),
            enabled: true,
            filters,
            config_keys: vec![],
            template: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    fn severity_gate(minimum: Severity) -> Filters {
        Filters {
            severity_filter: Some(minimum),
            ..Filters::default()
        }
    }

    #[test]
    fn no_filters_admit_everything() {
        assert_eq!(
            route(
                &event(json!({"type": "anything"})),
                &integration(Filters::default())
            ),
            Verdict::Deliver
        );
    }

    #[test]
    fn disabled_integrations_get_nothing() {
        let mut disabled = integration(Filters::default());
        disabled.enabled = false;
        assert_eq!(
            route(&event(json!({"type": "scan_done"})), &disabled),
            Verdict::Skip {
                reason: SkipReason::Disabled
            }
        );
    }

    #[test]
    fn event_subscription_filters_by_type() {
        let only_done = integration(Filters {
            events: Some(vec!["scan_done".into()]),
            ..Filters::default()
        });
        assert_eq!(
            route(&event(json!({"type": "scan_done"})), &only_done),
            Verdict::Deliver
        );
        assert!(matches!(
            route(&event(json!({"type": "scan_failed"})), &only_done),
            Verdict::Skip {
                reason: SkipReason::EventNotSubscribed { .. }
            }
        ));
    }

    #[test]
    fn target_scope_requires_a_listed_target() {
        let scoped = integration(Filters {
            target_ids: Some(vec!["t1".into()]),
            ..Filters::default()
        });
        assert_eq!(
            route(
                &event(json!({"type": "scan_done", "target_id": "t1"})),
                &scoped
            ),
            Verdict::Deliver
        );
        for body in [
            json!({"type": "scan_done", "target_id": "t2"}),
            json!({"type": "scan_done"}),
        ] {
            assert!(matches!(
                route(&event(body), &scoped),
                Verdict::Skip {
                    reason: SkipReason::TargetNotInScope { .. }
                }
            ));
        }
    }

    #[test]
    fn severity_gates_findings_only() {
        let high = integration(severity_gate(Severity::High));
        let verdict = |body| route(&event(body), &high);
        assert_eq!(
            verdict(json!({"type": "finding_new", "severity": "critical"})),
            Verdict::Deliver
        );
        assert_eq!(
            verdict(json!({"type": "finding_changed", "severity": "high"})),
            Verdict::Deliver
        );
        assert!(matches!(
            verdict(json!({"type": "finding_new", "severity": "medium"})),
            Verdict::Skip {
                reason: SkipReason::SeverityBelowFilter { .. }
            }
        ));
        assert!(matches!(
            verdict(json!({"type": "finding_new"})),
            Verdict::Skip {
                reason: SkipReason::SeverityBelowFilter { severity: None, .. }
            }
        ));
        // Not a finding: the gate does not apply, whatever the severity.
        assert_eq!(
            verdict(json!({"type": "scan_done", "severity": "info"})),
            Verdict::Deliver
        );
    }
}
