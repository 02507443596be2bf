//! Retention: events and their delivery log are pruned once they are older than the cut-off,
//! in small batches, never anything still undelivered or part of a run that is still going on.

use chrono::{DateTime, Utc};
use sqlx::Row;

use crate::time::to_millis;
use crate::{Result, Store};

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
        let mut tx = self.begin_write().await?;
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
            return Ok(Pruned::default());
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
        tx.commit().await?;
        Ok(Pruned {
            attempts: counts[0],
            deliveries: counts[1],
            events: counts[2],
        })
    }
}
