use std::collections::HashMap;

use chrono::{DateTime, Utc};
use herald_domain::{DeliveryId, Event, EventId, IntegrationId, Kind, OrgId};
use sqlx::Row;

use crate::direct::Durability;
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
        self.sqlite_transaction(Durability::Synced, |tx| {
            crate::direct::insert_events(tx, batch)
        })
        .await
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
