//! Storing a group of events on PostgreSQL in one statement.
//!
//! A transaction of BEGIN, two inserts and COMMIT is four round trips to the server, and
//! between them the connection sits idle in its transaction while Herald's side gets its turn
//! on the CPU: sampled during the end-to-end bench, the ingest transactions spent more time
//! waiting for Herald than running. One statement is atomic by itself, so the events and their
//! deliveries go in one. The rows travel as one array per column, in the binary protocol
//! (see `writer`), which keeps the statement's text (and so its prepared plan) the same
//! whatever the group's size, and leaves the server nothing to parse.
//!
//! The deliveries are matched against the new events' ids only, never against a table, so no
//! plan kept from while the tables were small can turn this statement into a full scan (the
//! results' statement needs a connection that rules such plans out: see `results_postgres`).

use std::collections::{HashMap, HashSet};

use herald_domain::{DeliveryStatus, EventId};
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
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], \
      $6::text[], $7::int8[], $8::text[], $9::text[]) \
    ON CONFLICT (org_id, idempotency_key) DO NOTHING \
    RETURNING id), \
  deliveries AS ( \
    INSERT INTO deliveries (id, org_id, event_id, integration_id, integration_name, kind, \
      destination, status, next_attempt_at, lease_owner, created_at, updated_at, \
      correlation_key, carried_by) \
    SELECT d.id, d.org_id, d.event_id, d.integration_id, d.integration_name, d.kind, \
      d.destination, $10, d.next_attempt_at, d.lease_owner, d.created_at, d.created_at, \
      d.correlation_key, d.carried_by \
    FROM unnest($11::text[], $12::text[], $13::text[], $14::text[], $15::text[], \
      $16::text[], $17::text[], $18::int8[], $19::text[], $20::int8[], $21::text[], \
      $22::text[]) AS d (id, org_id, event_id, integration_id, integration_name, kind, \
      destination, next_attempt_at, lease_owner, created_at, correlation_key, carried_by) \
    WHERE d.event_id IN (SELECT id FROM created)) \
  SELECT id FROM created";

/// The events of a group, one array per column.
#[derive(Default)]
struct EventColumns<'a> {
    id: Vec<&'a str>,
    org_id: Vec<&'a str>,
    event_type: Vec<&'a str>,
    idempotency_key: Vec<Option<&'a str>>,
    correlation_key: Vec<Option<&'a str>>,
    /// The event as JSON text.
    envelope: Vec<String>,
    received_at: Vec<i64>,
    target_id: Vec<Option<&'a str>>,
    title: Vec<Option<&'a str>>,
}

/// Their deliveries, one array per column.
#[derive(Default)]
struct DeliveryColumns<'a> {
    id: Vec<&'a str>,
    org_id: Vec<&'a str>,
    event_id: Vec<&'a str>,
    integration_id: Vec<&'a str>,
    integration_name: Vec<&'a str>,
    kind: Vec<&'a str>,
    destination: Vec<&'a str>,
    next_attempt_at: Vec<i64>,
    lease_owner: Vec<Option<&'a str>>,
    created_at: Vec<i64>,
    correlation_key: Vec<Option<&'a str>>,
    carried_by: Vec<Option<&'a str>>,
}

impl<'a> EventColumns<'a> {
    fn push(&mut self, insert: &'a EventInsert) {
        self.id.push(insert.id.as_str());
        self.org_id.push(insert.org_id.as_str());
        self.event_type.push(&insert.event.event_type);
        self.idempotency_key.push(insert.idempotency_key.as_deref());
        self.correlation_key
            .push(insert.event.correlation_key.as_deref());
        self.envelope
            .push(serde_json::to_string(&insert.event).expect("events serialise"));
        self.received_at.push(to_millis(insert.received_at));
        self.target_id.push(insert.event.target_id.as_deref());
        self.title.push(insert.event.title.as_deref());
    }
}

impl<'a> DeliveryColumns<'a> {
    fn push(&mut self, event: &'a EventInsert, delivery: &'a NewDelivery) {
        let created_at = to_millis(event.received_at);
        let (next_attempt_at, lease_owner) = match &delivery.lease {
            Some(lease) => (to_millis(lease.until), Some(lease.token.as_str())),
            None => (created_at, None),
        };
        self.id.push(delivery.id.as_str());
        self.org_id.push(event.org_id.as_str());
        self.event_id.push(event.id.as_str());
        self.integration_id.push(delivery.integration_id.as_str());
        self.integration_name.push(&delivery.integration_name);
        self.kind.push(delivery.kind.as_str());
        self.destination.push(&delivery.destination);
        self.next_attempt_at.push(next_attempt_at);
        self.lease_owner.push(lease_owner);
        self.created_at.push(created_at);
        self.correlation_key
            .push(event.event.correlation_key.as_deref());
        self.carried_by.push(delivery.carried_by.as_deref());
    }
}

impl Store {
    /// [`Store::insert_events`] on PostgreSQL.
    pub(crate) async fn insert_events_in_one_statement(
        &self,
        batch: &[(EventInsert, Vec<NewDelivery>)],
    ) -> Result<Vec<InsertedEvent>> {
        let mut events = EventColumns::default();
        let mut deliveries = DeliveryColumns::default();
        for (insert, new) in batch {
            events.push(insert);
            for delivery in new {
                deliveries.push(insert, delivery);
            }
        }
        let query = sqlx::query(INSERT_GROUP)
            .bind(events.id)
            .bind(events.org_id)
            .bind(events.event_type)
            .bind(events.idempotency_key)
            .bind(events.correlation_key)
            .bind(events.envelope)
            .bind(events.received_at)
            .bind(events.target_id)
            .bind(events.title)
            .bind(DeliveryStatus::Pending.as_str())
            .bind(deliveries.id)
            .bind(deliveries.org_id)
            .bind(deliveries.event_id)
            .bind(deliveries.integration_id)
            .bind(deliveries.integration_name)
            .bind(deliveries.kind)
            .bind(deliveries.destination)
            .bind(deliveries.next_attempt_at)
            .bind(deliveries.lease_owner)
            .bind(deliveries.created_at)
            .bind(deliveries.correlation_key)
            .bind(deliveries.carried_by);
        let rows = self.ingest.fetch_all_native(query).await?;
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

    /// JSON may spell any character as an escape, NUL included; PostgreSQL refuses NUL in text
    /// and a JSON document in which `\u0000` stands for one, so the envelope keeps the escape.
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
