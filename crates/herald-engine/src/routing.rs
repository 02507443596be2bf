//! Routing an event for ingest, and explaining routing, over an organisation's routing input:
//! its enabled integrations indexed by trigger and scope, and its event catalogue.

use std::sync::Arc;

use herald_domain::{
    Catalogue, CompiledType, Event, EventTypeDef, FieldError, Integration, IntegrationEventId,
    Location, OrgId, Routed, RoutingIndex, ScopeTree,
};
use herald_store::{IntegrationRow, Store, StoreError};

use crate::Engine;

/// One organisation's routing input, loaded and indexed once per change.
pub struct OrgRouting {
    rows: Vec<IntegrationRow>,
    index: RoutingIndex,
    catalogue: Catalogue,
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
) -> Result<RoutingIndex, StoreError> {
    let demands = store.all_integration_events(org).await?;
    let supplies = store
        .all_supplies(org)
        .await?
        .into_iter()
        .map(|s| (s.integration_id, s.kind, s.scope_name));
    let mut tree = ScopeTree::default();
    for scope in store.scope_tree(org).await? {
        if let Some(parent) = scope.parent {
            tree.insert(scope.kind, scope.name, parent);
        }
    }
    Ok(RoutingIndex::build(integrations, demands, supplies, tree))
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
        let loaded = Arc::new(OrgRouting {
            index: build_index(&self.store, org, integrations).await?,
            catalogue: load_catalogue(&self.store, org).await?,
            rows,
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
        let index = build_index(&self.store, org, integrations).await?;
        let verdicts = index.explain(event);
        Ok(Explanation {
            location: index.location(event),
            verdicts: index.integrations().iter().cloned().zip(verdicts).collect(),
        })
    }
}
