//! Accepting an event: route it against the organisation's integrations and store the event
//! with all its deliveries in one transaction, then wake the workers.

use herald_domain::{route, DeliveryId, Event, EventId, NewEvent, OrgId, Verdict};
use herald_store::{EventInsert, InsertedEvent, NewDelivery, StoreError};

use crate::Engine;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub id: EventId,
    /// True when the idempotency key matched an earlier event; nothing new was created.
    pub replayed: bool,
    pub deliveries: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Engine {
    pub async fn accept_event(&self, org: &OrgId, new: NewEvent) -> Result<Accepted, IngestError> {
        let integrations = self.store.list_enabled_integrations(org).await?;
        let received_at = self.now();
        let id = EventId::generate();
        let event = Event::from_new(&id, &new, received_at);
        let deliveries: Vec<NewDelivery> = integrations
            .iter()
            .filter(|integration| route(&event, integration) == Verdict::Deliver)
            .map(|integration| NewDelivery {
                id: DeliveryId::generate(),
                integration_id: integration.id.clone(),
                integration_name: integration.name.clone(),
                kind: integration.kind,
                destination: String::new(),
            })
            .collect();
        let insert = EventInsert {
            id: id.clone(),
            org_id: org.clone(),
            event,
            idempotency_key: new.idempotency_key,
            received_at,
        };
        match self.store.insert_event(&insert, &deliveries).await? {
            InsertedEvent::Created => {
                if !deliveries.is_empty() {
                    self.wake();
                }
                Ok(Accepted {
                    id,
                    replayed: false,
                    deliveries: deliveries.len(),
                })
            }
            InsertedEvent::Replayed(id) => Ok(Accepted {
                id,
                replayed: true,
                deliveries: 0,
            }),
        }
    }
}
