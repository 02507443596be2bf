//! What `/herald subscribe` made beside its integration events, and approval decisions.

use herald_domain::{IntegrationId, OrgId, PrincipalId};
use sqlx::any::AnyRow;
use sqlx::Row;

use super::{ApprovalDecision, SlackSubscription, DECISION_COLUMNS, SUBSCRIPTION_COLUMNS};
use crate::time::{from_millis, to_millis};
use crate::{Result, Store};

impl Store {
    pub async fn insert_slack_subscription(&self, s: &SlackSubscription) -> Result<()> {
        let _turn = self.write_turn().await;
        sqlx::query(&format!(
            "INSERT INTO slack_subscriptions ({SUBSCRIPTION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        ))
        .bind(s.integration_event_id.clone())
        .bind(s.org_id.to_string())
        .bind(s.integration_id.to_string())
        .bind(s.team_id.clone())
        .bind(s.channel_id.clone())
        .bind(s.supply_id.clone())
        .bind(i64::from(s.set_all_modules))
        .bind(s.created_by.as_ref().map(ToString::to_string))
        .bind(to_millis(s.created_at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Subscriptions of one channel whose integration event still exists, oldest first.
    pub async fn slack_subscriptions_of_channel(
        &self,
        org: &OrgId,
        team_id: &str,
        channel_id: &str,
    ) -> Result<Vec<SlackSubscription>> {
        let rows = sqlx::query(&format!(
            "SELECT {SUBSCRIPTION_COLUMNS} FROM slack_subscriptions WHERE org_id = $1 AND team_id = $2 \
             AND channel_id = $3 AND integration_event_id IN (SELECT id FROM integration_events) \
             ORDER BY integration_event_id"
        ))
        .bind(org.to_string())
        .bind(team_id.to_owned())
        .bind(channel_id.to_owned())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(subscription_row).collect()
    }

    /// Other subscriptions (than `except`) that still rely on a supply or on the all-modules flag.
    pub async fn slack_subscriptions_relying_on(
        &self,
        integration: &IntegrationId,
        supply_id: Option<&str>,
        except: &str,
    ) -> Result<Vec<SlackSubscription>> {
        let rows = sqlx::query(&format!(
            "SELECT {SUBSCRIPTION_COLUMNS} FROM slack_subscriptions WHERE integration_id = $1 \
             AND integration_event_id <> $2 AND integration_event_id IN (SELECT id FROM integration_events) \
             AND (($3 IS NULL AND set_all_modules = 1) OR supply_id = $3)"
        ))
        .bind(integration.to_string())
        .bind(except.to_owned())
        .bind(supply_id.map(str::to_owned))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(subscription_row).collect()
    }

    pub async fn delete_slack_subscription(&self, integration_event_id: &str) -> Result<()> {
        let _turn = self.write_turn().await;
        sqlx::query("DELETE FROM slack_subscriptions WHERE integration_event_id = $1")
            .bind(integration_event_id.to_owned())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records the first decision on an event. False (and nothing written) if there already is one.
    pub async fn claim_approval_decision(&self, d: &ApprovalDecision) -> Result<bool> {
        let _turn = self.write_turn().await;
        let result = sqlx::query(&format!(
            "INSERT INTO approval_decisions ({DECISION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (org_id, event_id) DO NOTHING"
        ))
        .bind(d.org_id.to_string())
        .bind(d.event_id.clone())
        .bind(d.decision.clone())
        .bind(d.principal_id.to_string())
        .bind(d.slack_team_id.clone())
        .bind(d.slack_user_id.clone())
        .bind(d.slack_user_name.clone())
        .bind(to_millis(d.decided_at))
        .bind(d.decision_event_id.clone())
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Names the `herald.approval.decided` event of a claimed decision.
    pub async fn set_decision_event(
        &self,
        org: &OrgId,
        event_id: &str,
        decision_event: &str,
    ) -> Result<()> {
        let _turn = self.write_turn().await;
        sqlx::query("UPDATE approval_decisions SET decision_event_id = $1 WHERE org_id = $2 AND event_id = $3")
            .bind(decision_event.to_owned())
            .bind(org.to_string())
            .bind(event_id.to_owned())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Withdraws a claimed decision whose event could not be accepted, so it can be taken again.
    pub async fn release_approval_decision(&self, org: &OrgId, event_id: &str) -> Result<()> {
        let _turn = self.write_turn().await;
        sqlx::query("DELETE FROM approval_decisions WHERE org_id = $1 AND event_id = $2 AND decision_event_id = ''")
            .bind(org.to_string())
            .bind(event_id.to_owned())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn approval_decision(
        &self,
        org: &OrgId,
        event_id: &str,
    ) -> Result<Option<ApprovalDecision>> {
        let row = sqlx::query(&format!(
            "SELECT {DECISION_COLUMNS} FROM approval_decisions WHERE org_id = $1 AND event_id = $2"
        ))
        .bind(org.to_string())
        .bind(event_id.to_owned())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| -> Result<ApprovalDecision> {
            Ok(ApprovalDecision {
                org_id: OrgId::from_trusted(row.try_get("org_id")?),
                event_id: row.try_get("event_id")?,
                decision: row.try_get("decision")?,
                principal_id: PrincipalId::from_trusted(row.try_get("principal_id")?),
                slack_team_id: row.try_get("slack_team_id")?,
                slack_user_id: row.try_get("slack_user_id")?,
                slack_user_name: row.try_get("slack_user_name")?,
                decided_at: from_millis(row.try_get("decided_at")?)?,
                decision_event_id: row.try_get("decision_event_id")?,
            })
        })
        .transpose()
    }
}

fn subscription_row(row: &AnyRow) -> Result<SlackSubscription> {
    Ok(SlackSubscription {
        integration_event_id: row.try_get("integration_event_id")?,
        org_id: OrgId::from_trusted(row.try_get("org_id")?),
        integration_id: IntegrationId::from_trusted(row.try_get("integration_id")?),
        team_id: row.try_get("team_id")?,
        channel_id: row.try_get("channel_id")?,
        supply_id: row.try_get("supply_id")?,
        set_all_modules: row.try_get::<i64, _>("set_all_modules")? != 0,
        created_by: row
            .try_get::<Option<String>, _>("created_by")?
            .map(PrincipalId::from_trusted),
        created_at: from_millis(row.try_get("created_at")?)?,
    })
}
