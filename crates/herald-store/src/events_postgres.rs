//! Storing a group of events on PostgreSQL in one statement.
//!
//! A transaction of BEGIN, two inserts and COMMIT is four round trips to the server, and
//! between them the connection sits idle in its transaction while Herald's side gets its turn
//! on the CPU: sampled during the end-to-end bench, the ingest transactions spent more time
//! waiting for Herald than running. One statement is atomic by itself, so the events and their
//! deliveries go in one. The rows travel as two JSON arrays, which keeps the statement's text
//! (and so its prepared plan) the same whatever the group's size.
//!
//! The deliveries are matched against the new events' ids only, never against a table, so no
//! plan kept from while the tables were small can turn this statement into a full scan (the
//! results' statement needs a connection that rules such plans out: see `results_postgres`).

use std::collections::{HashMap, HashSet};

use herald_domain::{DeliveryId, DeliveryStatus, EventId, IntegrationId, OrgId};
use serde::Serialize;
use sqlx::Row;

use crate::events::{EventInsert, InsertedEvent, NewDelivery};
use crate::time::to_millis;
use crate::{Result, Store};

/// The events that were new, and (only for them) their deliveries. An event whose idempotency
/// key is taken, in the store or earlier in the group, is not inserted, and neither are its
/// deliveries.
const INSERT_GROUP: &str = "WITH created AS ( \
    INSERT INTO events (id, org_id, event_type, idempotency_key, correlation_key, envelope, \
      received_at, target_id, title) \
    SELECT e.id, e.org_id, e.event_type, e.idempotency_key, e.correlation_key, e.envelope, \
      e.received_at, e.target_id, e.title \
    FROM json_to_recordset($1::json) AS e (id text, org_id text, event_type text, \
      idempotency_key text, correlation_key text, envelope text, received_at bigint, \
      target_id text, title text) \
    ON CONFLICT (org_id, idempotency_key) DO NOTHING \
    RETURNING id), \
  deliveries AS ( \
    INSERT INTO deliveries (id, org_id, event_id, integration_id, integration_name, kind, \
      destination, status, next_attempt_at, lease_owner, created_at, updated_at, \
      correlation_key, carried_by) \
    SELECT d.id, d.org_id, d.event_id, d.integration_id, d.integration_name, d.kind, \
      d.destination, $3, d.next_attempt_at, d.lease_owner, d.created_at, d.created_at, \
      d.correlation_key, d.carried_by \
    FROM json_to_recordset($2::json) AS d (id text, org_id text, event_id text, \
      integration_id text, integration_name text, kind text, destination text, \
      next_attempt_at bigint, lease_owner text, created_at bigint, correlation_key text, \
      carried_by text) \
    WHERE d.event_id IN (SELECT id FROM created)) \
  SELECT id FROM created";

#[derive(Serialize)]
struct EventRow<'a> {
    id: &'a EventId,
    org_id: &'a OrgId,
    event_type: &'a str,
    idempotency_key: Option<&'a str>,
    correlation_key: Option<&'a str>,
    /// As a JSON string, not nested: PostgreSQL refuses a whole document in which `\u0000`
    /// stands for a character, and an event's data may hold one (its text keeps the escape).
    envelope: String,
    received_at: i64,
    target_id: Option<&'a str>,
    title: Option<&'a str>,
}

#[derive(Serialize)]
struct DeliveryRow<'a> {
    id: &'a DeliveryId,
    org_id: &'a OrgId,
    event_id: &'a EventId,
    integration_id: &'a IntegrationId,
    integration_name: &'a str,
    kind: &'a str,
    destination: &'a str,
    next_attempt_at: i64,
    lease_owner: Option<&'a str>,
    created_at: i64,
    correlation_key: Option<&'a str>,
    carried_by: Option<&'a str>,
}

impl Store {
    /// [`Store::insert_events`] on PostgreSQL.
    pub(crate) async fn insert_events_in_one_statement(
        &self,
        batch: &[(EventInsert, Vec<NewDelivery>)],
    ) -> Result<Vec<InsertedEvent>> {
        let events: Vec<EventRow> = batch.iter().map(|(insert, _)| event_row(insert)).collect();
        let deliveries: Vec<DeliveryRow> = batch
            .iter()
            .flat_map(|(insert, deliveries)| deliveries.iter().map(|d| delivery_row(insert, d)))
            .collect();
        let events_size = events.iter().map(|e| e.envelope.len() + 512).sum();
        let query = sqlx::query(INSERT_GROUP)
            .bind(json_array(&events, events_size))
            .bind(json_array(&deliveries, deliveries.len() * 512))
            .bind(DeliveryStatus::Pending.as_str());
        let rows = self.ingest.fetch_all(query).await?;
        let created: HashSet<String> = rows
            .iter()
            .map(|row| row.try_get("id"))
            .collect::<std::result::Result<_, _>>()?;
        let replayed = match created.len() == batch.len() {
            true => Default::default(),
            false => find_replays(&mut *self.pool.acquire().await?, batch, &created).await?,
        };
        Ok(batch
            .iter()
            .map(|(insert, _)| match replayed.get(insert.id.as_str()) {
                None => InsertedEvent::Created,
                Some(first) => InsertedEvent::Replayed(first.clone()),
            })
            .collect())
    }
}

/// Rows as a JSON array, written into a buffer sized for them up front.
pub(crate) fn json_array<T: Serialize>(rows: &[T], size: usize) -> String {
    let mut json = Vec::with_capacity(size);
    serde_json::to_writer(&mut json, rows).expect("rows serialise");
    String::from_utf8(json).expect("serde_json writes UTF-8")
}

fn event_row(insert: &EventInsert) -> EventRow<'_> {
    EventRow {
        id: &insert.id,
        org_id: &insert.org_id,
        event_type: &insert.event.event_type,
        idempotency_key: insert.idempotency_key.as_deref(),
        correlation_key: insert.event.correlation_key.as_deref(),
        envelope: serde_json::to_string(&insert.event).expect("events serialise"),
        received_at: to_millis(insert.received_at),
        target_id: insert.event.target_id.as_deref(),
        title: insert.event.title.as_deref(),
    }
}

fn delivery_row<'a>(event: &'a EventInsert, delivery: &'a NewDelivery) -> DeliveryRow<'a> {
    let created_at = to_millis(event.received_at);
    let (next_attempt_at, lease_owner) = match &delivery.lease {
        Some(lease) => (to_millis(lease.until), Some(lease.token.as_str())),
        None => (created_at, None),
    };
    DeliveryRow {
        id: &delivery.id,
        org_id: &event.org_id,
        event_id: &event.id,
        integration_id: &delivery.integration_id,
        integration_name: &delivery.integration_name,
        kind: delivery.kind.as_str(),
        destination: &delivery.destination,
        next_attempt_at,
        lease_owner,
        created_at,
        correlation_key: event.event.correlation_key.as_deref(),
        carried_by: delivery.carried_by.as_deref(),
    }
}

/// For the events of a chunk that were not inserted, the id of the event that holds their
/// idempotency key.
async fn find_replays(
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

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use herald_domain::{DeliveryId, Event, EventId, EventInput};
    use serde_json::json;

    use crate::tests::{integration, stores};
    use crate::{DeliveryFilter, EventInsert, InsertedEvent, NewDelivery};

    /// JSON may spell any character as an escape, NUL included; PostgreSQL's JSON functions
    /// refuse a document in which `\u0000` stands for one, so the envelope must travel as text.
    #[tokio::test]
    async fn an_event_whose_data_holds_nul_is_stored_with_its_delivery_and_reads_back_the_same() {
        let (stores, _dir) = stores().await;
        for store in stores {
            let org = store.ensure_org("default").await.unwrap();
            let hook = integration(&store, &org).await;
            let new = serde_json::from_value::<EventInput>(json!({
                "type": "scan_done",
                "data": {"log": "a\u{0}b", "quote": "\"é\"\n"}
            }))
            .unwrap()
            .parse()
            .unwrap();
            let id = EventId::generate();
            let now = Utc::now();
            let event = Event::from_new(&id, &new, now);
            let insert = EventInsert {
                id: id.clone(),
                org_id: org.clone(),
                event: event.clone(),
                idempotency_key: None,
                received_at: now,
            };
            let delivery = NewDelivery {
                id: DeliveryId::generate(),
                integration_id: hook.id.clone(),
                integration_name: hook.name.clone(),
                kind: hook.kind,
                destination: String::new(),
                lease: None,
                carried_by: None,
            };
            let stored = store.insert_event(&insert, &[delivery]).await.unwrap();
            assert_eq!(stored, InsertedEvent::Created);
            let read = store.get_event(&org, &id).await.unwrap().unwrap();
            assert_eq!(read.event, event);
            let filter = DeliveryFilter {
                event_id: Some(id),
                ..Default::default()
            };
            let page = store
                .list_deliveries(&org, &filter, None, 10)
                .await
                .unwrap();
            assert_eq!(page.items.len(), 1);
        }
    }
}
