use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use herald_domain::{DeliveryId, DeliveryStatus, Event, EventId, IntegrationId, Kind, OrgId};
use sqlx::Row;

use crate::time::to_millis;
use crate::{Result, Store, StoreError};

/// An accepted event, ready to be stored.
#[derive(Debug, Clone)]
pub struct EventInsert {
    pub id: EventId,
    pub org_id: OrgId,
    pub event: Event,
    pub idempotency_key: Option<String>,
    pub received_at: DateTime<Utc>,
}

/// A delivery to create with its event.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    pub id: DeliveryId,
    pub integration_id: IntegrationId,
    pub integration_name: String,
    pub kind: Kind,
    /// '' for the integration's single destination.
    pub destination: String,
    /// Insert it already claimed, for a worker of this process to send without a claim query.
    pub lease: Option<Lease>,
    /// The integration event (or attachment) that carried it, whose template applies.
    pub carried_by: Option<String>,
}

/// A claim taken at insert time: its token (see [`crate::lease_token`]), and until when.
#[derive(Debug, Clone)]
pub struct Lease {
    pub token: String,
    pub until: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InsertedEvent {
    Created,
    /// The idempotency key was seen before; nothing new was written.
    Replayed(EventId),
}

#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub id: EventId,
    pub event: Event,
}

/// Rows per multi-row INSERT, far below SQLite's bound-parameter limit.
const DELIVERY_CHUNK: usize = 256;

impl Store {
    /// Stores the event and all its deliveries in one transaction: once this returns, both are
    /// durable, and a crash before it returns leaves neither.
    pub async fn insert_event(
        &self,
        insert: &EventInsert,
        deliveries: &[NewDelivery],
    ) -> Result<InsertedEvent> {
        let mut results = self
            .insert_events(&[(insert.clone(), deliveries.to_vec())])
            .await?;
        Ok(results.remove(0))
    }

    /// Stores many events with their deliveries in one transaction (group commit): one fsync
    /// for the lot. Results are in input order; an idempotency key seen before, in the store or
    /// earlier in the same batch, gives `Replayed` and writes nothing for that event.
    pub async fn insert_events(
        &self,
        batch: &[(EventInsert, Vec<NewDelivery>)],
    ) -> Result<Vec<InsertedEvent>> {
        if self.backend == crate::Backend::Postgres {
            return self.insert_events_in_one_statement(batch).await;
        }
        let mut tx = self.begin_write().await?;
        let mut results = Vec::with_capacity(batch.len());
        for chunk in crate::pow2_chunks(batch, EVENT_CHUNK) {
            let created = insert_event_rows(&mut tx, self.backend, chunk).await?;
            let replayed = find_replays(&mut tx, chunk, &created).await?;
            for (insert, _) in chunk {
                results.push(match replayed.get(insert.id.as_str()) {
                    None => InsertedEvent::Created,
                    Some(first) => InsertedEvent::Replayed(first.clone()),
                });
            }
        }
        let deliveries: Vec<(&EventInsert, &NewDelivery)> = batch
            .iter()
            .zip(&results)
            .filter(|(_, result)| **result == InsertedEvent::Created)
            .flat_map(|((insert, deliveries), _)| deliveries.iter().map(move |d| (insert, d)))
            .collect();
        for chunk in crate::pow2_chunks(&deliveries, DELIVERY_CHUNK) {
            insert_deliveries(&mut tx, self.backend, chunk).await?;
        }
        tx.commit().await?;
        Ok(results)
    }

    pub async fn get_event(&self, org: &OrgId, id: &EventId) -> Result<Option<StoredEvent>> {
        let row = sqlx::query("SELECT id, envelope FROM events WHERE id = $1 AND org_id = $2")
            .bind(id.to_string())
            .bind(org.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| {
            Ok(StoredEvent {
                id: EventId::from_trusted(row.try_get("id")?),
                event: parse_envelope(row.try_get("envelope")?)?,
            })
        })
        .transpose()
    }

    /// Envelopes by event id, for a batch of claimed deliveries.
    pub async fn get_envelopes(&self, ids: &[String]) -> Result<HashMap<String, Event>> {
        self.fetch_by_ids("SELECT id, envelope FROM events WHERE id IN", ids)
            .await?
            .iter()
            .map(|row| {
                Ok((
                    row.try_get("id")?,
                    parse_envelope(row.try_get("envelope")?)?,
                ))
            })
            .collect()
    }
}

pub(crate) fn parse_envelope(raw: String) -> Result<Event> {
    serde_json::from_str(&raw).map_err(|e| StoreError::Corrupt(format!("event envelope: {e}")))
}

/// Events per multi-row INSERT.
const EVENT_CHUNK: usize = 256;

/// Inserts a chunk of events in one statement; returns the ids actually inserted (the others
/// repeated an idempotency key already stored, or used earlier in the chunk).
async fn insert_event_rows(
    conn: &mut sqlx::AnyConnection,
    backend: crate::Backend,
    chunk: &[(EventInsert, Vec<NewDelivery>)],
) -> Result<HashSet<String>> {
    // Without idempotency keys nothing can conflict: every row is inserted, and no ids need
    // to come back (each returned row is one more message from SQLite's thread).
    let keyless = chunk
        .iter()
        .all(|(insert, _)| insert.idempotency_key.is_none());
    let (name, returning) = match keyless {
        true => ("insert events", ""),
        false => ("insert events returning", " RETURNING id"),
    };
    let sql = crate::batch_sql(name, backend, chunk.len(), || {
        let values = crate::value_rows(backend, chunk.len(), 9);
        format!(
            "INSERT INTO events (id, org_id, event_type, idempotency_key, correlation_key, envelope, received_at, \
             target_id, title) \
             VALUES {values} ON CONFLICT (org_id, idempotency_key) DO NOTHING{returning}"
        )
    });
    let mut query = sqlx::query(&sql);
    for (insert, _) in chunk {
        query = query
            .bind(insert.id.to_string())
            .bind(insert.org_id.to_string())
            .bind(insert.event.event_type.clone())
            .bind(insert.idempotency_key.clone())
            .bind(insert.event.correlation_key.clone())
            .bind(serde_json::to_string(&insert.event).expect("events serialise"))
            .bind(to_millis(insert.received_at))
            .bind(insert.event.target_id.clone())
            .bind(insert.event.title.clone());
    }
    if keyless {
        query.execute(&mut *conn).await?;
        return Ok(chunk
            .iter()
            .map(|(insert, _)| insert.id.to_string())
            .collect());
    }
    let rows = query.fetch_all(&mut *conn).await?;
    rows.iter().map(|row| Ok(row.try_get("id")?)).collect()
}

/// For the events of a chunk that were not inserted, the id of the event that holds their
/// idempotency key.
pub(crate) async fn find_replays(
    conn: &mut sqlx::AnyConnection,
    chunk: &[(EventInsert, Vec<NewDelivery>)],
    created: &HashSet<String>,
) -> Result<HashMap<String, EventId>> {
    let mut replays = HashMap::new();
    for (insert, _) in chunk
        .iter()
        .filter(|(insert, _)| !created.contains(insert.id.as_str()))
    {
        let row = sqlx::query("SELECT id FROM events WHERE org_id = $1 AND idempotency_key = $2")
            .bind(insert.org_id.to_string())
            .bind(insert.idempotency_key.clone())
            .fetch_one(&mut *conn)
            .await?;
        replays.insert(
            insert.id.to_string(),
            EventId::from_trusted(row.try_get("id")?),
        );
    }
    Ok(replays)
}

/// One multi-row INSERT for a chunk of (event, delivery) pairs.
async fn insert_deliveries(
    conn: &mut sqlx::AnyConnection,
    backend: crate::Backend,
    chunk: &[(&EventInsert, &NewDelivery)],
) -> Result<()> {
    let sql = crate::batch_sql("insert deliveries", backend, chunk.len(), || {
        let values = crate::value_rows(backend, chunk.len(), 14);
        format!(
            "INSERT INTO deliveries (id, org_id, event_id, integration_id, integration_name, kind, destination, \
             status, next_attempt_at, lease_owner, created_at, updated_at, correlation_key, carried_by) VALUES {values}"
        )
    });
    let mut query = sqlx::query(&sql);
    for (event, delivery) in chunk {
        let created = to_millis(event.received_at);
        let (due, owner) = match &delivery.lease {
            Some(lease) => (to_millis(lease.until), Some(lease.token.clone())),
            None => (created, None),
        };
        query = query
            .bind(delivery.id.to_string())
            .bind(event.org_id.to_string())
            .bind(event.id.to_string())
            .bind(delivery.integration_id.to_string())
            .bind(delivery.integration_name.clone())
            .bind(delivery.kind.as_str())
            .bind(delivery.destination.clone())
            .bind(DeliveryStatus::Pending.as_str())
            .bind(due)
            .bind(owner)
            .bind(created)
            .bind(created)
            .bind(event.event.correlation_key.clone())
            .bind(delivery.carried_by.clone());
    }
    query.execute(&mut *conn).await?;
    Ok(())
}
