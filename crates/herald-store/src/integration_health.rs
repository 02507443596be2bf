//! An integration's run of failures, shared by every instance through the store: when it
//! began (`failing_since`), and whether `herald.integration.failing` was said for it.

use chrono::{DateTime, Utc};
use herald_domain::IntegrationId;
use sqlx::Row;

use crate::time::{opt_from_millis, to_millis};
use crate::{Result, Store};

impl Store {
    /// Notes a failed attempt: the run of failures began now unless it already had. Returns
    /// when it began, or None if the integration no longer exists.
    pub async fn integration_failed(
        &self,
        id: &IntegrationId,
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>> {
        let _turn = self.write_turn().await;
        let row = sqlx::query(
            "UPDATE integrations SET failing_since = COALESCE(failing_since, $1) WHERE id = $2 \
             RETURNING failing_since",
        )
        .bind(to_millis(now))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => opt_from_millis(row.try_get("failing_since")?),
            None => Ok(None),
        }
    }

    /// Notes a delivered attempt: the run of failures, if any, is over.
    pub async fn integration_succeeded(&self, id: &IntegrationId) -> Result<()> {
        let _turn = self.write_turn().await;
        sqlx::query(
            "UPDATE integrations SET failing_since = NULL, failing_reported_at = NULL \
             WHERE id = $1 AND failing_since IS NOT NULL",
        )
        .bind(id.to_string())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Claims the one report of the current run of failures: true for exactly one caller
    /// across every instance, until a success ends the run.
    pub async fn claim_failing_report(
        &self,
        id: &IntegrationId,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let _turn = self.write_turn().await;
        let claimed = sqlx::query(
            "UPDATE integrations SET failing_reported_at = $1 WHERE id = $2 \
             AND failing_since IS NOT NULL AND failing_reported_at IS NULL",
        )
        .bind(to_millis(now))
        .bind(id.to_string())
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(claimed == 1)
    }

    /// When an integration's current run of failures began, if it is failing.
    pub async fn integration_failing_since(
        &self,
        id: &IntegrationId,
    ) -> Result<Option<DateTime<Utc>>> {
        let row = sqlx::query("SELECT failing_since FROM integrations WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(row) => opt_from_millis(row.try_get("failing_since")?),
            None => Ok(None),
        }
    }
}
