//! What the metrics read from the queue at scrape time, across every instance.

use chrono::{DateTime, Utc};
use sqlx::Row;

use crate::time::to_millis;
use crate::{Result, Store};

/// The delivery queue as a scrape sees it.
#[derive(Debug, Clone, Default)]
pub struct QueueGauges {
    /// Unfinished deliveries by status.
    pub by_status: Vec<(String, u64)>,
    /// Unfinished deliveries a worker holds.
    pub leased: u64,
    /// When the oldest delivery that is due and held by no worker came due.
    pub oldest_due_at: Option<DateTime<Utc>>,
    pub integrations_paused: u64,
}

impl Store {
    pub async fn queue_gauges(&self, now: DateTime<Utc>) -> Result<QueueGauges> {
        let rows = sqlx::query(
            "SELECT status, COUNT(*) AS n FROM deliveries WHERE next_attempt_at IS NOT NULL GROUP BY status",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut by_status = Vec::with_capacity(rows.len());
        for row in &rows {
            let count: i64 = row.try_get("n")?;
            by_status.push((row.try_get("status")?, u64::try_from(count).unwrap_or(0)));
        }
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM deliveries WHERE next_attempt_at IS NOT NULL AND lease_owner IS NOT NULL",
        )
        .fetch_one(&self.pool)
        .await?;
        let leased: i64 = row.try_get("n")?;
        let row = sqlx::query(
            "SELECT MIN(d.next_attempt_at) AS due FROM deliveries d WHERE d.next_attempt_at IS NOT NULL \
             AND d.next_attempt_at <= $1 AND d.lease_owner IS NULL \
             AND d.integration_id NOT IN (SELECT i.id FROM integrations i WHERE i.paused_at IS NOT NULL)",
        )
        .bind(to_millis(now))
        .fetch_one(&self.pool)
        .await?;
        let oldest_due_at = crate::time::opt_from_millis(row.try_get("due")?)?;
        let row = sqlx::query("SELECT COUNT(*) AS n FROM integrations WHERE paused_at IS NOT NULL")
            .fetch_one(&self.pool)
            .await?;
        let paused: i64 = row.try_get("n")?;
        Ok(QueueGauges {
            by_status,
            leased: u64::try_from(leased).unwrap_or(0),
            oldest_due_at,
            integrations_paused: u64::try_from(paused).unwrap_or(0),
        })
    }
}
