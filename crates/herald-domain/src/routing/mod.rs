//! Routing: pure functions of an event and one integration's configuration, each verdict with
//! its reason. Two models coexist. An integration is routed by the scanner seed's filters until
//! it has an integration event; from then on by supply ∩ demand, and its filters no longer apply.

mod index;
mod inert;

use serde::Serialize;

use crate::catalogue::canonical;
use crate::demand::{DemandStage, IntegrationEvent};
use crate::scope::{Location, Supply};
use crate::{Event, Integration, IntegrationEventId, Severity};

pub use index::RoutingIndex;
pub use inert::{inert_filter_message, inert_filters};

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
    /// Filters model: the event's type is not in the integration's `events`.
    EventNotSubscribed { event_type: String },
    /// Filters model: the event's target is not in `target_ids` (or the event names none).
    TargetNotInScope { target_id: Option<String> },
    /// Filters model: a severity-gated event below `severity_filter` (or without a severity).
    SeverityBelowFilter {
        severity: Option<Severity>,
        minimum: Severity,
    },
    /// Supply ∩ demand: no enabled integration event of it matches the type and contains the
    /// event's module.
    NoMatchingDemand {
        event_type: String,
        module: Option<String>,
    },
    /// Supply ∩ demand: integration events match but none admits the event's environment.
    FilteredByEnvironment {
        environment: Option<String>,
        integration_event_ids: Vec<IntegrationEventId>,
    },
    /// Supply ∩ demand: integration events match but none admits the event's severity.
    FilteredBySeverity {
        severity: Option<Severity>,
        integration_event_ids: Vec<IntegrationEventId>,
    },
    /// Supply ∩ demand: demanded, but the integration is not supplied to the event's module.
    NotSupplied {
        module: Option<String>,
        integration_event_ids: Vec<IntegrationEventId>,
    },
}

/// Which rule decides for an integration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RoutingModel {
    /// The scanner seed's filters: `events`, `target_ids`, `severity_filter`.
    Filters,
    /// The integration has integration events: supply ∩ demand.
    SupplyDemand,
}

impl RoutingModel {
    pub fn of(has_integration_events: bool) -> Self {
        if has_integration_events {
            RoutingModel::SupplyDemand
        } else {
            RoutingModel::Filters
        }
    }
}

/// A verdict with the integration events that carried the event (supply ∩ demand only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routed {
    pub model: RoutingModel,
    pub verdict: Verdict,
    pub matched: Vec<IntegrationEventId>,
}

/// The scanner seed's three-stage filter: event subscription, target scope, then severity.
/// Scanner short names and their `security.scan.*` ids are the same type here.
pub fn route(event: &Event, integration: &Integration) -> Verdict {
    let skip = |reason| Verdict::Skip { reason };
    if !integration.enabled {
        return skip(SkipReason::Disabled);
    }
    let filters = &integration.filters;
    if filters.events.is_none() && crate::catalogue::is_operator_event(&event.event_type) {
        return skip(SkipReason::EventNotSubscribed {
            event_type: event.event_type.clone(),
        });
    }
    if let Some(events) = &filters.events {
        let wanted = canonical(&event.event_type);
        if !events.iter().any(|e| canonical(e) == wanted) {
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

/// The supply ∩ demand rule: the integration is enabled, some enabled integration event of it
/// matches the type and contains the event's module (and admits its environment and severity),
/// and the integration is supplied to that module. `demands` may be all of the integration's
/// integration events or only those whose trigger matches: the verdict is the same.
pub fn route_supply_demand(
    event: &Event,
    at: &Location,
    integration: &Integration,
    supply: &Supply,
    demands: &[&IntegrationEvent],
) -> Routed {
    let done = |verdict, matched| Routed {
        model: RoutingModel::SupplyDemand,
        verdict,
        matched,
    };
    let skip = |reason| Verdict::Skip { reason };
    if !integration.enabled {
        return done(skip(SkipReason::Disabled), Vec::new());
    }
    let canonical_type = canonical(&event.event_type);
    let stages: Vec<(DemandStage, &IntegrationEventId)> = demands
        .iter()
        .map(|d| (d.stage(canonical_type, event, at), &d.id))
        .collect();
    let best = stages.iter().map(|(stage, _)| *stage).max();
    let at_stage = |wanted: DemandStage| -> Vec<IntegrationEventId> {
        stages
            .iter()
            .filter(|(stage, _)| *stage == wanted)
            .map(|(_, id)| (*id).clone())
            .collect()
    };
    match best {
        Some(DemandStage::Matched) => {
            let matched = at_stage(DemandStage::Matched);
            if supply.covers(at) {
                done(Verdict::Deliver, matched)
            } else {
                let reason = SkipReason::NotSupplied {
                    module: at.module.clone(),
                    integration_event_ids: matched,
                };
                done(skip(reason), Vec::new())
            }
        }
        Some(DemandStage::Severity) => done(
            skip(SkipReason::FilteredBySeverity {
                severity: event.severity,
                integration_event_ids: at_stage(DemandStage::Severity),
            }),
            Vec::new(),
        ),
        Some(DemandStage::Environment) => done(
            skip(SkipReason::FilteredByEnvironment {
                environment: event.environment.clone(),
                integration_event_ids: at_stage(DemandStage::Environment),
            }),
            Vec::new(),
        ),
        _ => done(
            skip(SkipReason::NoMatchingDemand {
                event_type: event.event_type.clone(),
                module: at.module.clone(),
            }),
            Vec::new(),
        ),
    }
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
            supplied_to_all_modules: false,
            disabled_reason: None,
            paused_at: None,
            destinations: None,
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
    fn operator_events_reach_only_those_that_name_them() {
        let failing = event(json!({"type": "herald.integration.failing"}));
        let everything = integration(Filters::default());
        assert!(matches!(
            route(&failing, &everything),
            Verdict::Skip {
                reason: SkipReason::EventNotSubscribed { .. }
            }
        ));
        let named = integration(Filters {
            events: Some(vec!["herald.integration.failing".into()]),
            ..Filters::default()
        });
        assert_eq!(route(&failing, &named), Verdict::Deliver);
        // Other events of Herald's own (an approval decision) are ordinary events.
        let decided = event(json!({"type": "herald.test"}));
        assert_eq!(route(&decided, &everything), Verdict::Deliver);
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
