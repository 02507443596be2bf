//! Routing an event for ingest, and explaining routing, over an organisation's routing input:
//! its enabled integrations indexed by trigger and scope, and its event catalogue.

use std::collections::HashMap;
use std::sync::Arc;

use herald_domain::attachment::{resolve, Attachment, Destinations};
use herald_domain::MessageTemplate;

use herald_domain::{
    Catalogue, CompiledType, Event, EventTypeDef, FieldError, Integration, IntegrationEventId,
    Location, OrgId, Routed, RoutingIndex, ScopeKind, ScopeTree,
};
use herald_store::{IntegrationRow, Store, StoreError};

use crate::Engine;

/// One organisation's routing input, loaded and indexed once per change.
pub struct OrgRouting {
    rows: Vec<IntegrationRow>,
    index: RoutingIndex,
    catalogue: Catalogue,
    /// Each attachment's module-level overrides, by attachment id.
    attachments: HashMap<String, Destinations>,
    /// The templates of integration events that have one, by integration event id.
    templates: HashMap<String, MessageTemplate>,
    /// The destinations of integration events that name their own, by integration event id.
    own_destinations: HashMap<String, Vec<String>>,
}

impl OrgRouting {
    /// What ingest does before storing an event: refuse it when the catalogue does (an
    /// unregistered type, data that breaks its schema), else name the integrations that get
    /// it (positions for [`OrgRouting::row`]) with the integration events that carried it.
    pub fn route(
        &self,
        event: &Event,
    ) -> Result<Vec<(usize, Vec<IntegrationEventId>)>, FieldError> {
        self.catalogue
            .check(&event.event_type, event.data.as_ref())?;
        Ok(self.index.route(event))
    }

    pub fn row(&self, position: usize) -> &IntegrationRow {
        &self.rows[position]
    }

    /// The enabled integrations routing considers.
    pub fn rows(&self) -> &[IntegrationRow] {
        &self.rows
    }

    pub fn catalogue(&self) -> &Catalogue {
        &self.catalogue
    }

    /// The template of the integration event that carried a delivery, if it has one: it
    /// comes before the integration's own.
    pub fn template_of(&self, carried_by: &str) -> Option<&MessageTemplate> {
        self.templates.get(carried_by)
    }

    /// Where one routed integration's deliveries go, each with the integration event that
    /// sends it there (whose template shapes it). An integration event that names its own
    /// destinations (a subscribed Slack channel) sends to those; the others resolve from the
    /// attachment that carried the event (if one did) and the integration's own destinations,
    /// first match wins, and an empty string stands for the config's own destination. Never
    /// empty; each destination once.
    pub fn destinations(
        &self,
        position: usize,
        carried_by: &[IntegrationEventId],
        environment: Option<&str>,
    ) -> Vec<(String, Option<String>)> {
        let mut resolved: Vec<(String, Option<String>)> = Vec::new();
        let mut add = |to: &str, carrier: Option<&IntegrationEventId>| {
            if !resolved.iter().any(|(seen, _)| seen == to) {
                resolved.push((to.to_owned(), carrier.map(|id| id.to_string())));
            }
        };
        let (own, shared): (Vec<&IntegrationEventId>, Vec<&IntegrationEventId>) = carried_by
            .iter()
            .partition(|id| self.own_destinations.contains_key(id.as_str()));
        for id in &own {
            for to in &self.own_destinations[id.as_str()] {
                add(to, Some(id));
            }
        }
        if own.is_empty() || !shared.is_empty() {
            let none = Destinations::default();
            let workspace = shared
                .iter()
                .find_map(|id| self.attachments.get(id.as_str()))
                .unwrap_or(&none);
            let organisation = self.rows[position]
                .integration
                .destinations
                .as_ref()
                .unwrap_or(&none);
            // The carrier whose template shapes the message: the first that has one.
            let carrier = shared
                .iter()
                .find(|id| self.templates.contains_key(id.as_str()))
                .or(shared.first())
                .copied();
            let levels = resolve(workspace, organisation, environment).0;
            if levels.is_empty() {
                add("", carrier);
            }
            for to in levels {
                add(to, carrier);
            }
        }
        resolved
    }
}

/// Every integration of an organisation with its verdict on one event, and where the event
/// was located.
pub struct Explanation {
    pub location: Location,
    pub verdicts: Vec<(Integration, Routed)>,
}

/// The organisation's registered event types, compiled.
pub async fn load_catalogue(store: &Store, org: &OrgId) -> Result<Catalogue, StoreError> {
    let mut compiled = Vec::new();
    for row in store.list_event_types(org).await? {
        let def = EventTypeDef {
            id: row.id,
            description: row.description,
            schema: row.schema,
            aliases: Vec::new(),
            preset: false,
        };
        let id = def.id.clone();
        compiled.push(
            CompiledType::compile(def, "schema")
                .map_err(|e| StoreError::Corrupt(format!("event type {id}: {}", e.message)))?,
        );
    }
    Ok(Catalogue::new(compiled))
}

/// An index over `integrations` with the organisation's integration events, supplies and tree.
async fn build_index(
    store: &Store,
    org: &OrgId,
    integrations: Vec<Integration>,
    attachments: &[Attachment],
) -> Result<(RoutingIndex, DemandExtras), StoreError> {
    let mut demands = store.all_integration_events(org).await?;
    let extras = DemandExtras {
        templates: demands
            .iter()
            .filter_map(|d| Some((d.id.to_string(), d.template.clone()?)))
            .collect(),
        own_destinations: demands
            .iter()
            .filter_map(|d| Some((d.id.to_string(), d.destinations.clone()?)))
            .filter(|(_, list)| !list.is_empty())
            .collect(),
    };
    let mut supplies: Vec<_> = store
        .all_supplies(org)
        .await?
        .into_iter()
        .map(|s| (s.integration_id, s.kind, s.scope_name))
        .collect();
    // An attachment is a supply of its module plus a demand for its stages' events.
    for attachment in attachments {
        supplies.push((
            attachment.integration_id.clone(),
            ScopeKind::Module,
            attachment.module.clone(),
        ));
        demands.extend(attachment.as_demands());
    }
    let mut tree = ScopeTree::default();
    for scope in store.scope_tree(org).await? {
        if let Some(parent) = scope.parent {
            tree.insert(scope.kind, scope.name, parent);
        }
    }
    Ok((
        RoutingIndex::build(integrations, demands, supplies, tree),
        extras,
    ))
}

/// What integration events carry beyond routing: templates and their own destinations.
struct DemandExtras {
    templates: HashMap<String, MessageTemplate>,
    own_destinations: HashMap<String, Vec<String>>,
}

impl Engine {
    /// The organisation's routing input, from the cache when it has it.
    pub async fn routing_for(&self, org: &OrgId) -> Result<Arc<OrgRouting>, StoreError> {
        if let Some(cached) = self.routing.get(org) {
            return Ok(cached);
        }
        let generation = self.routing.generation();
        let rows = self.store.list_enabled_integrations(org).await?;
        let integrations = rows.iter().map(|r| r.integration.clone()).collect();
        let attachments = self.store.all_attachments(org).await?;
        let (index, extras) = build_index(&self.store, org, integrations, &attachments).await?;
        let loaded = Arc::new(OrgRouting {
            index,
            templates: extras.templates,
            own_destinations: extras.own_destinations,
            catalogue: load_catalogue(&self.store, org).await?,
            rows,
            attachments: attachments
                .into_iter()
                .map(|a| (a.id, a.destinations))
                .collect(),
        });
        self.routing.put(org.clone(), loaded.clone(), generation);
        Ok(loaded)
    }

    /// Every integration's verdict on `event` under the current configuration, read afresh
    /// from the store (disabled integrations included).
    pub async fn explain_routing(
        &self,
        org: &OrgId,
        event: &Event,
    ) -> Result<Explanation, StoreError> {
        let integrations = self.store.list_all_integrations(org).await?;
        let attachments = self.store.all_attachments(org).await?;
        let (index, _) = build_index(&self.store, org, integrations, &attachments).await?;
        let verdicts = index.explain(event);
        Ok(Explanation {
            location: index.location(event),
            verdicts: index.integrations().iter().cloned().zip(verdicts).collect(),
        })
    }
}
