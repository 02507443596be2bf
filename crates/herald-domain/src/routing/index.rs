//! An organisation's routing input, indexed so that routing one event examines only the
//! integration events whose trigger matches its type and whose scope lies on its path: the
//! cost does not grow with the integrations and integration events that cannot match.

use std::collections::HashMap;

use crate::catalogue::canonical;
use crate::demand::{DemandStage, IntegrationEvent, Trigger};
use crate::scope::{Location, Scope, ScopeKind, ScopeTree, Supply};
use crate::{Event, Integration, IntegrationEventId, IntegrationId};

use super::{route, route_supply_demand, Routed, RoutingModel, Verdict};

/// Integration events (by position) of one trigger, by the scope they are subscribed on.
#[derive(Debug, Default)]
struct Bucket {
    organisation: Vec<u32>,
    stack: HashMap<String, Vec<u32>>,
    namespace: HashMap<String, Vec<u32>>,
    module: HashMap<String, Vec<u32>>,
}

impl Bucket {
    fn add(&mut self, scope: &Scope, demand: u32) {
        let list = match scope {
            Scope::Organisation => &mut self.organisation,
            Scope::Named(kind, name) => {
                let map = match kind {
                    ScopeKind::Stack => &mut self.stack,
                    ScopeKind::Namespace => &mut self.namespace,
                    ScopeKind::Module | ScopeKind::Organisation => &mut self.module,
                };
                map.entry(name.clone()).or_default()
            }
        };
        list.push(demand);
    }

    /// The integration events here whose scope contains `at`.
    fn candidates(&self, at: &Location, out: &mut Vec<u32>) {
        out.extend_from_slice(&self.organisation);
        let levels = [
            (&self.stack, &at.stack),
            (&self.namespace, &at.namespace),
            (&self.module, &at.module),
        ];
        for (map, name) in levels {
            if let Some(found) = name.as_deref().and_then(|n| map.get(n)) {
                out.extend_from_slice(found);
            }
        }
    }
}

/// Everything routing needs about one organisation, built once per change.
#[derive(Debug, Default)]
pub struct RoutingIndex {
    integrations: Vec<Integration>,
    models: Vec<RoutingModel>,
    supplies: Vec<Supply>,
    demands: Vec<IntegrationEvent>,
    /// The position of each integration event's integration.
    owner: Vec<u32>,
    by_integration: Vec<Vec<u32>>,
    /// Enabled integrations routed by the scanner filters: each is checked for every event.
    filters_model: Vec<u32>,
    exact: HashMap<String, Bucket>,
    /// Keyed by the prefix with its trailing dot (`iac.run.`).
    prefix: HashMap<String, Bucket>,
    all: Bucket,
    tree: ScopeTree,
}

impl RoutingIndex {
    /// Integration events and supplies of integrations not in `integrations` are ignored.
    pub fn build(
        integrations: Vec<Integration>,
        demands: Vec<IntegrationEvent>,
        supplies: impl IntoIterator<Item = (IntegrationId, ScopeKind, String)>,
        tree: ScopeTree,
    ) -> Self {
        let position: HashMap<IntegrationId, u32> = integrations
            .iter()
            .enumerate()
            .map(|(i, integration)| (integration.id.clone(), i as u32))
            .collect();
        let mut index = RoutingIndex {
            models: vec![RoutingModel::Filters; integrations.len()],
            supplies: integrations
                .iter()
                .map(|i| Supply {
                    all_modules: i.supplied_to_all_modules,
                    ..Supply::default()
                })
                .collect(),
            by_integration: vec![Vec::new(); integrations.len()],
            tree,
            ..RoutingIndex::default()
        };
        for (integration, kind, name) in supplies {
            if let Some(&at) = position.get(&integration) {
                index.supplies[at as usize].add(kind, name);
            }
        }
        for demand in demands {
            let Some(&at) = position.get(&demand.integration_id) else {
                continue;
            };
            let me = index.demands.len() as u32;
            index.models[at as usize] = RoutingModel::SupplyDemand;
            index.by_integration[at as usize].push(me);
            if demand.enabled && integrations[at as usize].enabled {
                let bucket = match &demand.trigger {
                    Trigger::All => &mut index.all,
                    Trigger::Prefix(prefix) => index.prefix.entry(prefix.clone()).or_default(),
                    Trigger::Exact(id) => index.exact.entry(id.clone()).or_default(),
                };
                bucket.add(&demand.scope, me);
            }
            index.owner.push(at);
            index.demands.push(demand);
        }
        index.filters_model = (0..integrations.len() as u32)
            .filter(|&i| {
                index.models[i as usize] == RoutingModel::Filters
                    && integrations[i as usize].enabled
            })
            .collect();
        index.integrations = integrations;
        index
    }

    pub fn integrations(&self) -> &[Integration] {
        &self.integrations
    }

    pub fn location(&self, event: &Event) -> Location {
        Location::resolve(event, &self.tree)
    }

    /// The integrations (by position in the list the index was built from) that get the
    /// event, each with the integration events that carried it.
    pub fn route(&self, event: &Event) -> Vec<(usize, Vec<IntegrationEventId>)> {
        let canonical_type = canonical(&event.event_type);
        let at = self.location(event);
        let mut candidates = Vec::new();
        if let Some(bucket) = self.exact.get(canonical_type) {
            bucket.candidates(&at, &mut candidates);
        }
        for (dot, _) in canonical_type.match_indices('.') {
            if let Some(bucket) = self.prefix.get(&canonical_type[..=dot]) {
                bucket.candidates(&at, &mut candidates);
            }
        }
        // `*` does not cover Herald's operator events (see `Trigger::matches`).
        if !crate::catalogue::is_operator_event(canonical_type) {
            self.all.candidates(&at, &mut candidates);
        }
        candidates.sort_unstable_by_key(|&d| (self.owner[d as usize], d));

        let mut routed = Vec::new();
        for group in candidates.chunk_by(|a, b| self.owner[*a as usize] == self.owner[*b as usize])
        {
            let owner = self.owner[group[0] as usize] as usize;
            let matched: Vec<IntegrationEventId> = group
                .iter()
                .map(|&d| &self.demands[d as usize])
                .filter(|d| d.stage_after_trigger(event, &at) == DemandStage::Matched)
                .map(|d| d.id.clone())
                .collect();
            if !matched.is_empty() && self.supplies[owner].covers(&at) {
                routed.push((owner, matched));
            }
        }
        for &i in &self.filters_model {
            if route(event, &self.integrations[i as usize]) == Verdict::Deliver {
                routed.push((i as usize, Vec::new()));
            }
        }
        routed.sort_unstable_by_key(|(i, _)| *i);
        routed
    }

    /// Every integration's verdict with its reason, by examining all of its configuration:
    /// what the routing endpoints show. Agrees with [`RoutingIndex::route`].
    pub fn explain(&self, event: &Event) -> Vec<Routed> {
        let at = self.location(event);
        self.integrations
            .iter()
            .enumerate()
            .map(|(i, integration)| match self.models[i] {
                RoutingModel::Filters => Routed {
                    model: RoutingModel::Filters,
                    verdict: route(event, integration),
                    matched: Vec::new(),
                },
                RoutingModel::SupplyDemand => {
                    let demands: Vec<&IntegrationEvent> = self.by_integration[i]
                        .iter()
                        .map(|&d| &self.demands[d as usize])
                        .collect();
                    route_supply_demand(event, &at, integration, &self.supplies[i], &demands)
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EventId, EventInput, Filters, Kind, OrgId, Severity};
    use chrono::Utc;
    use serde_json::json;

    /// A small deterministic generator, so failures reproduce.
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self, n: usize) -> usize {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((self.0 >> 33) as usize) % n
        }
    }

    fn integration(enabled: bool, all: bool) -> Integration {
        Integration {
            id: IntegrationId::generate(),
            org_id: OrgId::generate(),
            kind: Kind::Webhook,
            name: "hook".into(),
            enabled,
            filters: Filters::default(),
            supplied_to_all_modules: all,
            disabled_reason: None,
            paused_at: None,
            destinations: None,
            config_keys: vec![],
            template: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    const TYPES: [&str; 4] = [
        "iac.run.applied",
        "iac.run.failed",
        "scan_done",
        "health.incident.created",
    ];
    const TRIGGERS: [&str; 6] = [
        "iac.run.applied",
        "iac.run.*",
        "iac.*",
        "security.scan.done",
        "*",
        "health.incident.created",
    ];
    const MODULES: [(&str, &str, &str); 3] =
        [("s1", "n1", "m1"), ("s1", "n2", "m2"), ("s2", "n3", "m3")];

    #[test]
    fn the_index_agrees_with_examining_everything() {
        let mut rng = Lcg(7);
        let mut tree = ScopeTree::default();
        for (stack, namespace, module) in MODULES {
            tree.insert(ScopeKind::Namespace, namespace.into(), stack.into());
            tree.insert(ScopeKind::Module, module.into(), namespace.into());
        }
        let integrations: Vec<Integration> = (0..40)
            .map(|_| integration(rng.next(5) > 0, rng.next(4) == 0))
            .collect();
        let mut demands = Vec::new();
        let mut supplies = Vec::new();
        for i in &integrations {
            // A quarter stay on the filters model.
            let count = [0, 1, 2, 3][rng.next(4)];
            for n in 0..count {
                let (stack, namespace, module) = MODULES[rng.next(3)];
                let scope = match rng.next(4) {
                    0 => Scope::Organisation,
                    1 => Scope::Named(ScopeKind::Stack, stack.into()),
                    2 => Scope::Named(ScopeKind::Namespace, namespace.into()),
                    _ => Scope::Named(ScopeKind::Module, module.into()),
                };
                demands.push(IntegrationEvent {
                    id: IntegrationEventId::generate(),
                    org_id: i.org_id.clone(),
                    integration_id: i.id.clone(),
                    name: format!("d{n}"),
                    trigger: Trigger::parse(TRIGGERS[rng.next(6)]).unwrap(),
                    scope,
                    environments: (rng.next(3) == 0).then(|| vec!["prod".to_owned()]),
                    min_severity: (rng.next(3) == 0).then_some(Severity::High),
                    enabled: rng.next(6) > 0,
                    template: None,
                    destinations: None,
                    created_at: Utc::now(),
                    updated_at: Utc::now(),
                });
            }
            let (stack, namespace, module) = MODULES[rng.next(3)];
            let (kind, name) = [
                (ScopeKind::Stack, stack),
                (ScopeKind::Namespace, namespace),
                (ScopeKind::Module, module),
            ][rng.next(3)];
            supplies.push((i.id.clone(), kind, name.to_owned()));
        }
        let index = RoutingIndex::build(integrations, demands, supplies, tree);
        let mut delivered = 0;
        for _ in 0..300 {
            let target = ["m1", "m2", "m3", "unregistered"][rng.next(4)];
            let environment = ["prod", "dev"][rng.next(2)];
            let severity = ["low", "critical"][rng.next(2)];
            let body = json!({"type": TYPES[rng.next(4)], "target_id": target,
                              "environment": environment, "severity": severity});
            let new = serde_json::from_value::<EventInput>(body)
                .unwrap()
                .parse()
                .unwrap();
            let event = Event::from_new(&EventId::generate(), &new, Utc::now());
            let fast: Vec<(usize, Vec<IntegrationEventId>)> = index.route(&event);
            let slow: Vec<(usize, Vec<IntegrationEventId>)> = index
                .explain(&event)
                .into_iter()
                .enumerate()
                .filter(|(_, r)| r.verdict == Verdict::Deliver)
                .map(|(i, r)| (i, r.matched))
                .collect();
            assert_eq!(fast, slow, "{event:?}");
            delivered += fast.len();
        }
        assert!(delivered > 100, "the cases exercise delivery: {delivered}");
    }
}
