//! Retention: events and their delivery log are pruned once they are older than the cut-off,
//! in small batches, never anything still undelivered or part of a run that is still going on.

use chrono::{DateTime, Utc};
use sqlx::Row;

use crate::time::to_millis;
use crate::writer::WriteTx;
use crate::{Backend, Result, Store};

/// What one batch removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    pub events: u64,
    pub deliveries: u64,
    pub attempts: u64,
}

/// Events older than `$1` none of whose deliveries is unfinished or recent (a recent replay),
/// and none of whose deliveries belongs to a chain (integration, destination, correlation key)
/// with an unfinished or recent delivery: a run still going on keeps its whole history, which
/// its follow-ups render and thread under.
const PRUNABLE: &str = "SELECT e.id FROM events e WHERE e.received_at < $1 \
    AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id \
        AND (d.next_attempt_at IS NOT NULL OR d.created_at >= $1)) \
    AND NOT EXISTS (SELECT 1 FROM deliveries d JOIN deliveries c \
        ON c.integration_id = d.integration_id AND c.destination = d.destination \
        AND c.correlation_key = d.correlation_key \
        WHERE d.event_id = e.id AND d.correlation_key IS NOT NULL \
        AND (c.next_attempt_at IS NOT NULL OR c.created_at >= $1)) \
    ORDER BY e.received_at LIMIT $2";

impl Store {
    /// Prunes up to `batch` events received before `cutoff`, with their deliveries and
    /// attempts, in one short transaction. A delivery that became unfinished meanwhile (a
    /// replay) keeps itself and its event.
    pub async fn prune_before(&self, cutoff: DateTime<Utc>, batch: u32) -> Result<Pruned> {
        // A batch that a replay overlapped is rolled back; the next look passes over the
        // replayed event, whose delivery is recent. Replays are rare, so a few looks suffice.
        for _ in 0..3 {
            if let Some(pruned) = self.prune_batch(cutoff, batch).await? {
                return Ok(pruned);
            }
        }
        Ok(Pruned::default())
    }

    /// One batch; `None` when it was rolled back because a replay took one of its events.
    async fn prune_batch(&self, cutoff: DateTime<Utc>, batch: u32) -> Result<Option<Pruned>> {
        let mut tx = self.begin_write().await?;
        if self.backend() == Backend::Postgres {
            tx.read_committed().await?;
        }
        let ids: Vec<String> = sqlx::query(PRUNABLE)
            .bind(to_millis(cutoff))
            .bind(i64::from(batch))
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|row| row.try_get("id"))
            .collect::<std::result::Result<_, _>>()?;
        if ids.is_empty() {
            tx.commit().await?;
            return Ok(Some(Pruned::default()));
        }
        let list = crate::placeholders(1, ids.len());
        let finished = format!(
            "SELECT id FROM deliveries WHERE event_id IN ({list}) AND next_attempt_at IS NULL"
        );
        let statements = [
            format!("DELETE FROM attempts WHERE delivery_id IN ({finished})"),
            format!(
                "DELETE FROM deliveries WHERE event_id IN ({list}) AND next_attempt_at IS NULL"
            ),
            format!(
                "DELETE FROM events WHERE id IN ({list}) \
                 AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = events.id)"
            ),
        ];
        let mut counts = [0u64; 3];
        for (statement, count) in statements.iter().zip(counts.iter_mut()) {
            let mut query = sqlx::query(statement);
            for id in &ids {
                query = query.bind(id.clone());
            }
            *count = query.execute(&mut *tx).await?.rows_affected();
        }
        if self.backend() == Backend::Postgres && self.replayed_meanwhile(&mut tx, &ids).await? {
            tx.rollback().await?;
            return Ok(None);
        }
        tx.commit().await?;
        Ok(Some(Pruned {
            attempts: counts[0],
            deliveries: counts[1],
            events: counts[2],
        }))
    }

    /// Whether a delivery refers to one of `ids` that this batch deleted. On PostgreSQL no
    /// foreign key checks a delivery's event (`migrations_postgres/5003`); this is the check
    /// it made. A replay locks its event's row before adding deliveries to it, so the delete
    /// above waited for any replay under way, and this statement, with a snapshot of its own
    /// (read committed), sees what that replay committed.
    async fn replayed_meanwhile(&self, tx: &mut WriteTx, ids: &[String]) -> Result<bool> {
        let list = crate::placeholders(1, ids.len());
        let orphaned = format!(
            "SELECT 1 AS orphaned FROM deliveries d WHERE d.event_id IN ({list}) \
             AND NOT EXISTS (SELECT 1 FROM events e WHERE e.id = d.event_id) LIMIT 1"
        );
        let mut query = sqlx::query(&orphaned);
        for id in ids {
            query = query.bind(id.clone());
        }
        Ok(query.fetch_optional(&mut **tx).await?.is_some())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chrono::Utc;
    use herald_domain::{DeliveryId, EventId, IntegrationId, Kind, OrgId};

    use crate::testing::fresh_postgres_url;
    use crate::tests::{event_row, integration, stores};
    use crate::{NewReplay, Pruned, Store};

    /// An organisation and an event of a day ago with no deliveries: retention may prune it.
    async fn old_event(store: &Store) -> (OrgId, EventId) {
        let org = store.ensure_org("default").await.unwrap();
        let hook = integration(store, &org).await;
        let (insert, _) = event_row(&org, &hook, None, Utc::now() - chrono::Duration::days(1));
        store.insert_event(&insert, &[]).await.unwrap();
        (org, insert.id)
    }

    fn replay() -> NewReplay {
        NewReplay {
            id: DeliveryId::generate(),
            integration_id: IntegrationId::generate(),
            integration_name: "hook".into(),
            kind: Kind::Webhook,
            destination: String::new(),
            replay_of: None,
        }
    }

    async fn deliveries_of(store: &Store, event: &EventId) -> i64 {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM deliveries WHERE event_id = $1")
            .bind(event.to_string())
            .fetch_one(store.pool())
            .await
            .unwrap();
        sqlx::Row::try_get(&row, "n").unwrap()
    }

    /// Waits until a session of this database waits for a row lock: the other side of the
    /// race has reached the point the test is about.
    async fn until_one_waits_for_a_lock(store: &Store) {
        for _ in 0..200 {
            let row = sqlx::query(
                "SELECT COUNT(*) AS n FROM pg_stat_activity \
                 WHERE datname = current_database() AND wait_event_type = 'Lock'",
            )
            .fetch_one(store.pool())
            .await
            .unwrap();
            if sqlx::Row::try_get::<i64, _>(&row, "n").unwrap() > 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no session waited for a lock within 10 s");
    }

    #[tokio::test]
    async fn a_replay_of_a_pruned_event_inserts_nothing() {
        let (stores, _dir) = stores().await;
        for store in stores {
            let (org, event) = old_event(&store).await;
            let pruned = store.prune_before(Utc::now(), 10).await.unwrap();
            assert_eq!(pruned.events, 1, "{:?}", store.backend());
            let inserted = store
                .insert_replays(&org, &event, None, &[replay()], Utc::now())
                .await
                .unwrap();
            assert!(!inserted, "{:?}", store.backend());
            assert_eq!(deliveries_of(&store, &event).await, 0);
        }
    }

    /// PostgreSQL has no foreign key from a delivery to its event (`migrations_postgres/5003`).
    /// A replay that locked the event first, as `insert_replays` does, makes a retention batch
    /// that deleted the event meanwhile roll back.
    #[tokio::test]
    async fn retention_rolls_back_a_batch_whose_event_a_replay_took_meanwhile() {
        let store = Store::connect(&fresh_postgres_url().await).await.unwrap();
        let (org, event) = old_event(&store).await;
        let mut replaying = store.pool().begin().await.unwrap();
        sqlx::query("SELECT id FROM events WHERE id = $1 FOR KEY SHARE")
            .bind(event.to_string())
            .fetch_one(&mut *replaying)
            .await
            .unwrap();
        let now = Utc::now().timestamp_millis();
        sqlx::query(
            "INSERT INTO deliveries (id, org_id, event_id, integration_id, integration_name, \
             kind, status, next_attempt_at, created_at, updated_at, replayed) \
             VALUES ($1, $2, $3, 'int_1', 'hook', 'webhook', 'pending', $4, $4, $4, 1)",
        )
        .bind(DeliveryId::generate().to_string())
        .bind(org.to_string())
        .bind(event.to_string())
        .bind(now)
        .execute(&mut *replaying)
        .await
        .unwrap();
        let pruning = tokio::spawn({
            let store = store.clone();
            async move { store.prune_before(Utc::now(), 10).await }
        });
        until_one_waits_for_a_lock(&store).await;
        assert!(
            !pruning.is_finished(),
            "the delete waits for the replay's lock"
        );
        replaying.commit().await.unwrap();
        let pruned = pruning.await.unwrap().unwrap();
        assert_eq!(pruned, Pruned::default());
        assert!(store.get_event(&org, &event).await.unwrap().is_some());
        assert_eq!(deliveries_of(&store, &event).await, 1);
        // The next batch passes over the event: its replay is recent.
        assert_eq!(store.prune_before(Utc::now(), 10).await.unwrap().events, 0);
    }

    /// The other order: a retention batch deleted the event first; the replay waits for it,
    /// then finds no event and inserts nothing.
    #[tokio::test]
    async fn a_replay_waiting_for_a_retention_batch_finds_the_event_gone() {
        let store = Store::connect(&fresh_postgres_url().await).await.unwrap();
        let (org, event) = old_event(&store).await;
        let mut pruning = store.pool().begin().await.unwrap();
        sqlx::query("DELETE FROM events WHERE id = $1")
            .bind(event.to_string())
            .execute(&mut *pruning)
            .await
            .unwrap();
        let replaying = tokio::spawn({
            let (store, org, event) = (store.clone(), org.clone(), event.clone());
            async move {
                store
                    .insert_replays(&org, &event, None, &[replay()], Utc::now())
                    .await
            }
        });
        until_one_waits_for_a_lock(&store).await;
        assert!(!replaying.is_finished(), "the replay waits for the delete");
        pruning.commit().await.unwrap();
        assert!(!replaying.await.unwrap().unwrap());
        assert_eq!(deliveries_of(&store, &event).await, 0);
    }
}
