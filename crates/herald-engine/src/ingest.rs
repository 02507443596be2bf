//! Accepting an event: route it against the organisation's integrations and store the event
//! with all its deliveries durably before answering.
//!
//! Concurrent requests are group-committed: one committer task drains whatever is waiting into
//! a single transaction (one fsync for the lot), then answers each request. Every answer still
//! comes only after its own event is committed.

use std::sync::Arc;

use herald_domain::{route, DeliveryId, Event, EventId, NewEvent, OrgId, Verdict};
use herald_store::{
    ClaimedDelivery, EventInsert, InsertedEvent, IntegrationRow, Lease, NewDelivery, Store,
    StoreError,
};
use tokio::sync::{mpsc, oneshot, Notify};

use crate::attempt::Job;
use crate::Engine;

/// Events written in one transaction at most.
const MAX_GROUP: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub id: EventId,
    /// True when the idempotency key matched an earlier event; nothing new was created.
    pub replayed: bool,
    pub deliveries: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("cannot store the event")]
    Store(#[source] Arc<StoreError>),
    #[error("the ingest committer has stopped")]
    Stopped,
}

impl From<StoreError> for IngestError {
    fn from(error: StoreError) -> Self {
        IngestError::Store(Arc::new(error))
    }
}

type Reply = oneshot::Sender<Result<InsertedEvent, IngestError>>;

struct Pending {
    insert: EventInsert,
    deliveries: Vec<NewDelivery>,
    reply: Reply,
}

/// The sending side of the group committer.
#[derive(Clone)]
pub(crate) struct IngestQueue(mpsc::Sender<Pending>);

impl IngestQueue {
    /// Starts the committer; it stops when the last queue handle is dropped.
    pub(crate) fn start(store: Store, wake: Arc<Notify>) -> Self {
        let (sender, receiver) = mpsc::channel(MAX_GROUP * 4);
        tokio::spawn(commit_groups(store, wake, receiver));
        Self(sender)
    }
}

async fn commit_groups(store: Store, wake: Arc<Notify>, mut waiting: mpsc::Receiver<Pending>) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    while waiting.recv_many(&mut group, MAX_GROUP).await > 0 {
        let (rows, replies): (Vec<_>, Vec<_>) = group
            .drain(..)
            .map(|p| ((p.insert, p.deliveries), p.reply))
            .unzip();
        match store.insert_events(&rows).await {
            Ok(results) => {
                if results
                    .iter()
                    .zip(&rows)
                    .any(|(r, (_, d))| *r == InsertedEvent::Created && !d.is_empty())
                {
                    wake.notify_one();
                }
                for (reply, result) in replies.into_iter().zip(results) {
                    let _ = reply.send(Ok(result));
                }
            }
            Err(error) => {
                // Nothing in the group was committed, and nothing in it is acknowledged.
                let error = Arc::new(error);
                for reply in replies {
                    let _ = reply.send(Err(IngestError::Store(error.clone())));
                }
            }
        }
    }
}

impl Engine {
    pub async fn accept_event(&self, org: &OrgId, new: NewEvent) -> Result<Accepted, IngestError> {
        let integrations = match self.routing.get(org) {
            Some(cached) => cached,
            None => {
                let generation = self.routing.generation();
                let loaded = Arc::new(self.store.list_enabled_integrations(org).await?);
                self.routing.put(org.clone(), loaded.clone(), generation);
                loaded
            }
        };
        let received_at = self.now();
        let id = EventId::generate();
        let event = Event::from_new(&id, &new, received_at);
        let routed: Vec<&IntegrationRow> = integrations
            .iter()
            .filter(|row| route(&event, &row.integration) == Verdict::Deliver)
            .collect();
        let reservation = self.handoff.reserve(routed.len());
        let lease = reservation.as_ref().map(|_| Lease {
            owner: self.config.owner.clone(),
            until: received_at
                + chrono::Duration::from_std(self.config.lease).unwrap_or(chrono::Duration::MAX),
        });
        let deliveries: Vec<NewDelivery> = routed
            .iter()
            .map(|row| NewDelivery {
                id: DeliveryId::generate(),
                integration_id: row.integration.id.clone(),
                integration_name: row.integration.name.clone(),
                kind: row.integration.kind,
                destination: String::new(),
                lease: lease.clone(),
            })
            .collect();
        let count = deliveries.len();
        let insert = EventInsert {
            id: id.clone(),
            org_id: org.clone(),
            event: event.clone(),
            idempotency_key: new.idempotency_key,
            received_at,
        };
        let jobs_to_hand = reservation.is_some().then(|| deliveries.clone());
        let (reply, answer) = oneshot::channel();
        self.ingest
            .0
            .send(Pending {
                insert,
                deliveries,
                reply,
            })
            .await
            .map_err(|_| IngestError::Stopped)?;
        match answer.await.map_err(|_| IngestError::Stopped)?? {
            InsertedEvent::Created => {
                if let (Some(reservation), Some(deliveries)) = (reservation, jobs_to_hand) {
                    let jobs = deliveries
                        .into_iter()
                        .zip(routed)
                        .map(|(delivery, row)| Job {
                            delivery: ClaimedDelivery {
                                id: delivery.id,
                                org_id: org.clone(),
                                event_id: id.clone(),
                                integration_id: delivery.integration_id,
                                integration_name: delivery.integration_name,
                                kind: delivery.kind,
                                destination: delivery.destination,
                                attempt_count: 0,
                                cycle_attempts: 0,
                            },
                            event: Some(event.clone()),
                            integration: Some(row.clone()),
                        });
                    self.handoff.hand_over(reservation, jobs.collect());
                }
                Ok(Accepted {
                    id,
                    replayed: false,
                    deliveries: count,
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
