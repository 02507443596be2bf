use std::collections::HashMap;

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
const DELIVERY_CHUNK: usize = 500;

impl Store {
    /// Stores the event and all its deliveries in one transaction: once this returns, both are
    /// durable, and a crash before it returns leaves neither.
    pub async fn insert_event(
        &self,
        insert: &EventInsert,
        deliveries: &[NewDelivery],
    ) -> Result<InsertedEvent> {
        let mut tx = self.begin_write().await?;
        let envelope = serde_json::to_string(&insert.event).expect("events serialise");
        let inserted = sqlx::query(
            "INSERT INTO events (id, org_id, event_type, idempotency_key, correlation_key, envelope, received_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (org_id, idempotency_key) DO NOTHING",
        )
        .bind(insert.id.to_string())
        .bind(insert.org_id.to_string())
        .bind(insert.event.event_type.clone())
        .bind(insert.idempotency_key.clone())
        .bind(insert.event.correlation_key.clone())
        .bind(envelope)
        .bind(to_millis(insert.received_at))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            let row =
                sqlx::query("SELECT id FROM events WHERE org_id = $1 AND idempotency_key = $2")
                    .bind(insert.org_id.to_string())
                    .bind(insert.idempotency_key.clone())
                    .fetch_one(&mut *tx)
                    .await?;
            tx.rollback().await?;
            return Ok(InsertedEvent::Replayed(EventId::from_trusted(
                row.try_get("id")?,
            )));
        }
        let now = to_millis(insert.received_at);
        for chunk in deliveries.chunks(DELIVERY_CHUNK) {
            const COLUMNS: usize = 11;
            let values = (0..chunk.len())
                .map(|i| format!("({})", crate::placeholders(i * COLUMNS + 1, COLUMNS)))
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!(
                "INSERT INTO deliveries (id, org_id, event_id, integration_id, integration_name, kind, destination, \
                 status, next_attempt_at, created_at, updated_at) VALUES {values}"
            );
            let mut query = sqlx::query(&sql);
            for delivery in chunk {
                query = query
                    .bind(delivery.id.to_string())
                    .bind(insert.org_id.to_string())
                    .bind(insert.id.to_string())
                    .bind(delivery.integration_id.to_string())
                    .bind(delivery.integration_name.clone())
                    .bind(delivery.kind.as_str())
                    .bind(delivery.destination.clone())
                    .bind(DeliveryStatus::Pending.as_str())
                    .bind(now)
                    .bind(now)
                    .bind(now);
            }
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(InsertedEvent::Created)
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
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let sql = format!(
            "SELECT id, envelope FROM events WHERE id IN ({})",
            crate::placeholders(1, ids.len())
        );
        let mut query = sqlx::query(&sql);
        for id in ids {
            query = query.bind(id.clone());
        }
        query
            .fetch_all(&self.pool)
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

fn parse_envelope(raw: String) -> Result<Event> {
    serde_json::from_str(&raw).map_err(|e| StoreError::Corrupt(format!("event envelope: {e}")))
}
