//! Replay and recovery: send a waiting delivery now, re-queue an integration's failed
//! deliveries, replay an event as new deliveries, and pause or resume an integration.

use chrono::{DateTime, Utc};
use herald_domain::{DeliveryId, DeliveryStatus, EventId, IntegrationId, Kind, OrgId};
use sqlx::Row;

use crate::time::to_millis;
use crate::{Backend, Result, Store, StoreError};

/// The original (not replayed) deliveries of an event, oldest first. An event has a handful:
/// they are found through the event's index and sorted. Left to itself, SQLite's planner walks
/// the organisation's whole log instead, since that index gives the order; `org_id || ''`
/// takes that choice away.
pub(crate) const ORIGINAL_DELIVERIES: &str =
    "SELECT id, integration_id, destination FROM deliveries \
    WHERE (org_id || '') = $1 AND event_id = $2 AND replayed = 0 ORDER BY id";

#[derive(Debug, thiserror::Error)]
pub enum RetryNowError {
    #[error("delivery not found")]
    NotFound,
    /// Only a delivery waiting for its next attempt can be sent now: not one that has ended,
    /// nor one a worker is sending at this moment.
    #[error("only a delivery waiting for its next attempt can be sent now; this one is {0}")]
    NotWaiting(&'static str),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One original delivery of an event: where a replay goes by default.
#[derive(Debug, Clone)]
pub struct OriginalDelivery {
    pub id: DeliveryId,
    pub integration_id: IntegrationId,
    pub destination: String,
}

/// A replay to create: the event again, to one integration's destination.
#[derive(Debug, Clone)]
pub struct NewReplay {
    pub id: DeliveryId,
    pub integration_id: IntegrationId,
    pub integration_name: String,
    pub kind: Kind,
    pub destination: String,
    /// The delivery it repeats, if the integration had one for the event.
    pub replay_of: Option<DeliveryId>,
}

impl Store {
    /// Makes a delivery waiting between attempts (or held back by its destination's pace) due
    /// now, leaving its retry schedule where it is.
    pub async fn retry_now(
        &self,
        org: &OrgId,
        id: &DeliveryId,
        now: DateTime<Utc>,
    ) -> Result<(), RetryNowError> {
        let updated = sqlx::query(
            "UPDATE deliveries SET next_attempt_at = $1, updated_at = $1 WHERE id = $2 AND org_id = $3 \
             AND next_attempt_at IS NOT NULL AND lease_owner IS NULL",
        )
        .bind(to_millis(now))
        .bind(id.to_string())
        .bind(org.to_string())
        .execute(&self.pool)
        .await
        .map_err(StoreError::from)?
        .rows_affected();
        if updated == 1 {
            return Ok(());
        }
        match self.get_delivery(org, id).await? {
            None => Err(RetryNowError::NotFound),
            Some((delivery, _)) if delivery.next_attempt_at.is_some() => {
                Err(RetryNowError::NotWaiting("being sent right now"))
            }
            Some((delivery, _)) => Err(RetryNowError::NotWaiting(delivery.status.as_str())),
        }
    }

    /// Re-queues every failed delivery of an integration created from `since` to `until`, both included, due now
    /// with a fresh retry budget. Returns how many.
    pub async fn resend_failed(
        &self,
        org: &OrgId,
        integration: &IntegrationId,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        let updated = sqlx::query(
            "UPDATE deliveries SET status = $1, next_attempt_at = $2, cycle_attempts = 0, lease_owner = NULL, \
             updated_at = $2 WHERE org_id = $3 AND integration_id = $4 AND status = $5 \
             AND created_at >= $6 AND created_at <= $7",
        )
        .bind(DeliveryStatus::Pending.as_str())
        .bind(to_millis(now))
        .bind(org.to_string())
        .bind(integration.to_string())
        .bind(DeliveryStatus::Failed.as_str())
        .bind(to_millis(since))
        .bind(to_millis(until))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(updated)
    }

    /// The original (not replayed) deliveries of an event, oldest first.
    pub async fn original_deliveries(
        &self,
        org: &OrgId,
        event: &EventId,
    ) -> Result<Vec<OriginalDelivery>> {
        let rows = sqlx::query(ORIGINAL_DELIVERIES)
            .bind(org.to_string())
            .bind(event.to_string())
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(OriginalDelivery {
                    id: DeliveryId::from_trusted(row.try_get("id")?),
                    integration_id: IntegrationId::from_trusted(row.try_get("integration_id")?),
                    destination: row.try_get("destination")?,
                })
            })
            .collect()
    }

    /// Inserts replays of a stored event, due now, in one transaction. They join the event's
    /// correlation chain like any delivery of it. False, with nothing inserted, when the event
    /// is gone (retention pruned it since it was read).
    ///
    /// On PostgreSQL no foreign key checks a delivery's event (`migrations_postgres/5003`), so
    /// the replay locks the event's row first, as that check did. Retention's delete of the
    /// event then waits for this transaction, and finds the replays when it looks again
    /// before committing (see `retention`); a replay that comes second finds no row.
    pub async fn insert_replays(
        &self,
        org: &OrgId,
        event: &EventId,
        correlation_key: Option<&str>,
        replays: &[NewReplay],
        now: DateTime<Utc>,
    ) -> Result<bool> {
        if replays.is_empty() {
            return Ok(true);
        }
        let mut tx = self.begin_write().await?;
        let lock = match self.backend() {
            Backend::Postgres => {
                tx.read_committed().await?;
                "SELECT id FROM events WHERE id = $1 AND org_id = $2 FOR KEY SHARE"
            }
            // SQLite's one writer excludes retention until this transaction ends.
            Backend::Sqlite => "SELECT id FROM events WHERE id = $1 AND org_id = $2",
        };
        let found = sqlx::query(lock)
            .bind(event.to_string())
            .bind(org.to_string())
            .fetch_optional(&mut *tx)
            .await?;
        if found.is_none() {
            tx.rollback().await?;
            return Ok(false);
        }
        for chunk in replays.chunks(200) {
            const COLUMNS: usize = 14;
            let values = (0..chunk.len())
                .map(|i| format!("({})", crate::placeholders(i * COLUMNS + 1, COLUMNS)))
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!(
                "INSERT INTO deliveries (id, org_id, event_id, integration_id, integration_name, kind, destination, \
                 status, next_attempt_at, created_at, updated_at, correlation_key, replayed, replay_of) VALUES {values}"
            );
            let mut query = sqlx::query(&sql);
            for replay in chunk {
                query = query
                    .bind(replay.id.to_string())
                    .bind(org.to_string())
                    .bind(event.to_string())
                    .bind(replay.integration_id.to_string())
                    .bind(replay.integration_name.clone())
                    .bind(replay.kind.as_str())
                    .bind(replay.destination.clone())
                    .bind(DeliveryStatus::Pending.as_str())
                    .bind(to_millis(now))
                    .bind(to_millis(now))
                    .bind(to_millis(now))
                    .bind(correlation_key.map(str::to_owned))
                    .bind(1_i64)
                    .bind(replay.replay_of.as_ref().map(|id| id.to_string()));
            }
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Pauses (`Some(at)`) or resumes (`None`) an integration. Returns false if it does not
    /// exist. Other instances hear of it like any integration change.
    pub async fn set_paused(
        &self,
        org: &OrgId,
        id: &IntegrationId,
        paused_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let updated = sqlx::query(
            "UPDATE integrations SET paused_at = $1, updated_at = $2 WHERE id = $3 AND org_id = $4",
        )
        .bind(paused_at.map(to_millis))
        .bind(to_millis(now))
        .bind(id.to_string())
        .bind(org.to_string())
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if updated {
            self.notify_integration_changed(&mut tx, org, id).await?;
        }
        tx.commit().await?;
        Ok(updated)
    }
}
