//! A run's history: the events of the deliveries that came before one in its chain (the same
//! integration, destination and correlation key), so a follow-up can show what the run has
//! accumulated.

use herald_domain::Event;
use sqlx::Row;

use crate::events::parse_envelope;
use crate::{ClaimedDelivery, Result, Store};

/// At most this many earlier events: the first (whose headline names an e-mail thread) and
/// the latest ones. A chain longer than this has long since said what its first facts were.
pub const CHAIN_HISTORY_MAX: usize = 50;

impl Store {
    /// The events of `delivery`'s earlier chain, oldest first: the chain's first event and up
    /// to [`CHAIN_HISTORY_MAX`] - 1 of the latest. Empty without a correlation key.
    pub async fn chain_history(&self, delivery: &ClaimedDelivery) -> Result<Vec<Event>> {
        let Some(key) = &delivery.correlation_key else {
            return Ok(Vec::new());
        };
        let first = self.chain_rows(delivery, key, "ASC", 1).await?;
        let mut latest = self
            .chain_rows(delivery, key, "DESC", CHAIN_HISTORY_MAX - 1)
            .await?;
        latest.reverse();
        let mut rows = Vec::with_capacity(latest.len() + 1);
        let first_id: Option<String> = first
            .first()
            .map(|r| r.try_get("delivery_id"))
            .transpose()?;
        let latest_ids = latest
            .iter()
            .map(|r| r.try_get::<String, _>("delivery_id"))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        if let Some(id) = &first_id {
            if !latest_ids.contains(id) {
                rows.extend(first);
            }
        }
        rows.extend(latest);
        rows.into_iter()
            .map(|row| parse_envelope(row.try_get("envelope")?))
            .collect()
    }

    async fn chain_rows(
        &self,
        delivery: &ClaimedDelivery,
        key: &str,
        order: &str,
        limit: usize,
    ) -> Result<Vec<sqlx::any::AnyRow>> {
        let sql = format!(
            "SELECT d.id AS delivery_id, e.envelope FROM deliveries d \
             JOIN events e ON e.id = d.event_id \
             WHERE d.integration_id = $1 AND d.destination = $2 AND d.correlation_key = $3 \
             AND d.id < $4 ORDER BY d.id {order} LIMIT $5"
        );
        Ok(sqlx::query(&sql)
            .bind(delivery.integration_id.to_string())
            .bind(delivery.destination.clone())
            .bind(key.to_owned())
            .bind(delivery.id.to_string())
            .bind(limit as i64)
            .fetch_all(&self.pool)
            .await?)
    }
}
