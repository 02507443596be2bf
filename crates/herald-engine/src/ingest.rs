//! Accepting an event: route it against the organisation's integrations and store the event
//! with all its deliveries durably before answering.
//!
//! Concurrent requests are group-committed: one committer task drains whatever is waiting into
//! a single transaction (one fsync for the lot), then answers each request. Every answer still
//! comes only after its own event is committed.

use std::sync::Arc;

use herald_domain::{DeliveryId, Event, EventId, FieldError, NewEvent, OrgId};
use herald_store::{
    lease_token, ClaimedDelivery, EventInsert, InsertedEvent, IntegrationRow, Lease, NewDelivery,
    Store, StoreError,
};
use tokio::sync::{mpsc, oneshot};

use crate::attempt::{released, Job};
use crate::capacity::{Admission, DestinationKey};
use crate::handoff::Handoff;
use crate::health::Health;
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
    /// The event catalogue refuses the event: an unregistered type, or data breaking its schema.
    #[error("the event is refused: {0}")]
    Refused(FieldError),
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
    /// Jobs to start on this process's workers once committed, each with its admission.
    handoff: Vec<(Job, Admission)>,
    /// See [`Answer`].
    fair_unleased: bool,
    reply: Reply,
}

/// The sending side of the group committer.
#[derive(Clone)]
pub(crate) struct IngestQueue(mpsc::Sender<Pending>);

impl IngestQueue {
    /// Starts the committer; it stops when the last queue handle is dropped.
    pub(crate) fn start(committer: Committer) -> Self {
        let (sender, receiver) = mpsc::channel(MAX_GROUP * 4);
        crate::commit_thread::spawn(committer.run(receiver));
        Self(sender)
    }
}

/// The group committer and what it tells once a group is committed.
pub(crate) struct Committer {
    pub store: Store,
    pub wake: Arc<crate::due_work::DueWork>,
    pub handoff: Arc<Handoff>,
    pub health: Arc<Health>,
    pub metrics: Arc<crate::metrics::Metrics>,
}

impl Committer {
    async fn run(self, mut waiting: mpsc::Receiver<Pending>) {
        let mut group = Vec::with_capacity(MAX_GROUP);
        while waiting.recv_many(&mut group, MAX_GROUP).await > 0 {
            // The rows move out of the requests (not cloned: an event and its deliveries are
            // dozens of allocations); what is left answers them.
            let (rows, answers): (Vec<_>, Vec<_>) = group
                .drain(..)
                .map(|p| {
                    let answer = Answer {
                        deliveries: p.deliveries.len(),
                        fair_unleased: p.fair_unleased,
                        handoff: p.handoff,
                        reply: p.reply,
                    };
                    ((p.insert, p.deliveries), answer)
                })
                .unzip();
            match self.store.insert_events(&rows).await {
                Ok(results) => {
                    self.health.store_ok();
                    self.metrics.ingest_batch(answers.len());
                    for (answer, result) in answers.into_iter().zip(results) {
                        self.finish(answer, Ok(result));
                    }
                }
                // One bad event must not fail the others: commit them one by one.
                Err(error) if rows.len() > 1 && error.is_data_error() => {
                    for (row, answer) in rows.chunks(1).zip(answers) {
                        let result = self
                            .store
                            .insert_events(row)
                            .await
                            .map(|mut results| results.remove(0));
                        self.finish(answer, result.map_err(IngestError::from));
                    }
                }
                Err(error) => {
                    self.health.store_failed(&error, "storing events");
                    let error = Arc::new(error);
                    for answer in answers {
                        self.finish(answer, Err(IngestError::Store(error.clone())));
                    }
                }
            }
            crate::commit_thread::take_turns().await;
        }
    }

    /// After a commit (or its failure): start fresh deliveries on their workers and wake the
    /// workers for the rest, then answer the request. Nothing is acknowledged that was not
    /// committed, and a client that hangs up cannot strand its deliveries.
    fn finish(&self, answer: Answer, result: Result<InsertedEvent, IngestError>) {
        if let Ok(InsertedEvent::Created) = result {
            let handed = answer.handoff.len();
            let returned = self.handoff.hand_over(answer.handoff);
            if answer.fair_unleased || !returned.is_empty() {
                self.wake.fair();
            } else if handed < answer.deliveries {
                self.wake.beyond_share();
            }
            if !returned.is_empty() {
                // The workers stopped between admission and commit: give the leases back.
                let store = self.store.clone();
                tokio::spawn(async move {
                    let now = chrono::Utc::now();
                    let records: Vec<_> = returned.iter().map(|job| released(job, now)).collect();
                    let _ = store.record_results(&records).await;
                });
            }
        }
        let _ = answer.reply.send(result);
    }
}

/// What is left of a request once its rows went to the store: how to answer it.
struct Answer {
    /// How many deliveries the event was stored with.
    deliveries: usize,
    /// Some delivery was written unleased although its organisation and destination were
    /// within their shares: a fair claim may take it.
    fair_unleased: bool,
    handoff: Vec<(Job, Admission)>,
    reply: Reply,
}

impl Engine {
    pub async fn accept_event(&self, org: &OrgId, new: NewEvent) -> Result<Accepted, IngestError> {
        let routing = self.routing_for(org).await?;
        let received_at = self.now();
        let id = EventId::generate();
        let event = Event::from_new(&id, &new, received_at);
        // One delivery per resolved destination of each routed integration ('' for the
        // integration's own).
        let mut routed: Vec<(&IntegrationRow, String, Option<String>)> = Vec::new();
        for (position, carried_by) in routing.route(&event).map_err(IngestError::Refused)? {
            let row = routing.row(position);
            let destinations =
                routing.destinations(position, &carried_by, event.environment.as_deref());
            routed.extend(
                destinations
                    .into_iter()
                    .map(|(to, carrier)| (row, to, carrier)),
            );
        }
        // While this process's workers run, a fresh delivery that a worker can start now is
        // written already leased to it; the others are left for a claim. Not those of a
        // correlated event: only the store's claim knows whether an earlier delivery of the same
        // chain is still unfinished.
        let handing_over = event.correlation_key.is_none() && self.handoff.is_active();
        let lease = Lease {
            token: lease_token(&self.config.owner),
            until: received_at
                + chrono::Duration::from_std(self.config.lease).unwrap_or(chrono::Duration::MAX),
        };
        let share = self.capacity.share_for_fresh();
        let mut fair_unleased = false;
        let admissions: Vec<Option<Admission>> = routed
            .iter()
            .map(|(row, destination, _)| {
                let key = DestinationKey {
                    integration: row.integration.id.clone(),
                    destination: destination.clone(),
                };
                let admission = (handing_over && row.integration.paused_at.is_none())
                    .then(|| self.capacity.admit(org, &key, share))
                    .flatten();
                // Refused within the shares (no worker was free), or never offered: a fair
                // claim may take it. Refused at a share: only a borrowed claim can.
                fair_unleased |= admission.is_none()
                    && (!handing_over || self.capacity.within_fair_share(org, &key));
                admission
            })
            .collect();
        let deliveries: Vec<NewDelivery> = routed
            .iter()
            .zip(&admissions)
            .map(|((row, destination, carried_by), admission)| NewDelivery {
                id: DeliveryId::generate(),
                integration_id: row.integration.id.clone(),
                integration_name: row.integration.name.clone(),
                kind: row.integration.kind,
                destination: destination.clone(),
                lease: admission.as_ref().map(|_| lease.clone()),
                carried_by: carried_by.clone(),
            })
            .collect();
        let count = deliveries.len();
        let handoff: Vec<(Job, Admission)> = deliveries
            .iter()
            .zip(&routed)
            .zip(admissions)
            .filter_map(|((delivery, (row, _, _)), admission)| {
                let admission = admission?;
                let job = Job {
                    delivery: ClaimedDelivery {
                        id: delivery.id.clone(),
                        org_id: org.clone(),
                        event_id: id.clone(),
                        integration_id: delivery.integration_id.clone(),
                        integration_name: delivery.integration_name.clone(),
                        kind: delivery.kind,
                        destination: delivery.destination.clone(),
                        attempt_count: 0,
                        cycle_attempts: 0,
                        lease_token: lease.token.clone(),
                        correlation_key: None,
                        carried_by: delivery.carried_by.clone(),
                        external_id: None,
                    },
                    event: Some(event.clone()),
                    integration: Some((*row).clone()),
                };
                Some((job, admission))
            })
            .collect();
        let insert = EventInsert {
            id: id.clone(),
            org_id: org.clone(),
            event,
            idempotency_key: new.idempotency_key,
            received_at,
        };
        let (reply, answer) = oneshot::channel();
        let pending = Pending {
            insert,
            deliveries,
            handoff,
            fair_unleased,
            reply,
        };
        self.ingest
            .0
            .send(pending)
            .await
            .map_err(|_| IngestError::Stopped)?;
        match answer.await.map_err(|_| IngestError::Stopped)?? {
            InsertedEvent::Created => {
                self.metrics.event_accepted(org);
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
