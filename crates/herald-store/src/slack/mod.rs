//! The Slack app's rows: installations, Add to Slack states, linked users and their one-time
//! codes, handled Events API deliveries, subscriptions made from Slack and approval decisions.
//! Tokens are not here: they live sealed in the integration's config.

use chrono::{DateTime, Utc};
use herald_domain::{IntegrationId, OrgId, PrincipalId};
use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::time::{from_millis, opt_from_millis, to_millis};
use crate::{conflict_as, Result, Store, StoreError};

mod decisions;

/// A workspace connected to an integration with Add to Slack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlackInstallation {
    pub integration_id: IntegrationId,
    pub org_id: OrgId,
    pub team_id: String,
    pub team_name: Option<String>,
    pub enterprise_id: Option<String>,
    pub app_id: Option<String>,
    pub bot_user_id: String,
    pub scopes: Option<String>,
    pub installed_by: Option<PrincipalId>,
    pub installed_at: DateTime<Utc>,
    /// With token rotation: when the bot token stops working.
    pub token_expires_at: Option<DateTime<Utc>>,
}

/// An Add to Slack `state`, by its hash: who asked, for which integration (or a new one).
#[derive(Debug, Clone, PartialEq)]
pub struct SlackOAuthState {
    pub state_hash: String,
    pub org_id: OrgId,
    pub principal_id: PrincipalId,
    pub integration_id: Option<IntegrationId>,
    /// For a new integration: what to create it with.
    pub new_integration: Option<Value>,
    pub expires_at: DateTime<Utc>,
}

/// A Slack user acting as a Herald principal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlackUserLink {
    pub id: String,
    pub org_id: OrgId,
    pub team_id: String,
    pub slack_user_id: String,
    pub slack_user_name: Option<String>,
    pub principal_id: PrincipalId,
    pub linked_by: Option<PrincipalId>,
    pub created_at: DateTime<Utc>,
}

/// A `/herald link` code, by its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlackLinkCode {
    pub code_hash: String,
    pub team_id: String,
    pub slack_user_id: String,
    pub slack_user_name: Option<String>,
    pub expires_at: DateTime<Utc>,
}

/// What `/herald subscribe` made beside its integration event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlackSubscription {
    pub integration_event_id: String,
    pub org_id: OrgId,
    pub integration_id: IntegrationId,
    pub team_id: String,
    pub channel_id: String,
    /// The supply it created, if it created one.
    pub supply_id: Option<String>,
    /// Whether it set the integration's `is_supplied_to_all_modules`.
    pub set_all_modules: bool,
    pub created_by: Option<PrincipalId>,
    pub created_at: DateTime<Utc>,
}

/// The first decision on a run waiting for approval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalDecision {
    pub org_id: OrgId,
    pub event_id: String,
    pub decision: String,
    pub principal_id: PrincipalId,
    pub slack_team_id: Option<String>,
    pub slack_user_id: Option<String>,
    pub slack_user_name: Option<String>,
    pub decided_at: DateTime<Utc>,
    /// The `herald.approval.decided` event; empty until it is accepted.
    pub decision_event_id: String,
}

const INSTALLATION_COLUMNS: &str = "s.integration_id, s.org_id, s.team_id, s.team_name, \
    s.enterprise_id, s.app_id, s.bot_user_id, s.scopes, s.installed_by, s.installed_at, s.token_expires_at";
const LINK_COLUMNS: &str = "id, org_id, team_id, slack_user_id, slack_user_name, principal_id, \
    linked_by, created_at";
pub(crate) const SUBSCRIPTION_COLUMNS: &str =
    "integration_event_id, org_id, integration_id, team_id, \
    channel_id, supply_id, set_all_modules, created_by, created_at";
pub(crate) const DECISION_COLUMNS: &str =
    "org_id, event_id, decision, principal_id, slack_team_id, \
    slack_user_id, slack_user_name, decided_at, decision_event_id";

impl Store {
    /// Records (or replaces) the installation of an integration.
    pub async fn save_slack_installation(&self, i: &SlackInstallation) -> Result<()> {
        let _turn = self.write_turn().await;
        sqlx::query(
            "INSERT INTO slack_installations (integration_id, org_id, team_id, team_name, enterprise_id, \
             app_id, bot_user_id, scopes, installed_by, installed_at, token_expires_at, refresh_claimed_until) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, NULL) \
             ON CONFLICT (integration_id) DO UPDATE SET org_id = excluded.org_id, team_id = excluded.team_id, \
             team_name = excluded.team_name, enterprise_id = excluded.enterprise_id, app_id = excluded.app_id, \
             bot_user_id = excluded.bot_user_id, scopes = excluded.scopes, installed_by = excluded.installed_by, \
             installed_at = excluded.installed_at, token_expires_at = excluded.token_expires_at, \
             refresh_claimed_until = NULL",
        )
        .bind(i.integration_id.to_string())
        .bind(i.org_id.to_string())
        .bind(i.team_id.clone())
        .bind(i.team_name.clone())
        .bind(i.enterprise_id.clone())
        .bind(i.app_id.clone())
        .bind(i.bot_user_id.clone())
        .bind(i.scopes.clone())
        .bind(i.installed_by.as_ref().map(ToString::to_string))
        .bind(to_millis(i.installed_at))
        .bind(i.token_expires_at.map(to_millis))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The installations of a Slack workspace, in every organisation, newest first; only those
    /// whose integration still exists.
    pub async fn slack_installations_of_team(
        &self,
        team_id: &str,
    ) -> Result<Vec<SlackInstallation>> {
        let rows = sqlx::query(&format!(
            "SELECT {INSTALLATION_COLUMNS} FROM slack_installations s \
             JOIN integrations i ON i.id = s.integration_id \
             WHERE s.team_id = $1 ORDER BY s.installed_at DESC, s.integration_id DESC"
        ))
        .bind(team_id.to_owned())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(installation_row).collect()
    }

    pub async fn slack_installation(
        &self,
        org: &OrgId,
        integration: &IntegrationId,
    ) -> Result<Option<SlackInstallation>> {
        let row = sqlx::query(&format!(
            "SELECT {INSTALLATION_COLUMNS} FROM slack_installations s \
             JOIN integrations i ON i.id = s.integration_id \
             WHERE s.org_id = $1 AND s.integration_id = $2"
        ))
        .bind(org.to_string())
        .bind(integration.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(installation_row).transpose()
    }

    /// Installations whose rotating token expires before `before` and that no instance is
    /// refreshing at `now`.
    pub async fn slack_tokens_to_refresh(
        &self,
        before: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Vec<SlackInstallation>> {
        let rows = sqlx::query(&format!(
            "SELECT {INSTALLATION_COLUMNS} FROM slack_installations s \
             JOIN integrations i ON i.id = s.integration_id \
             WHERE s.token_expires_at IS NOT NULL AND s.token_expires_at < $1 \
             AND (s.refresh_claimed_until IS NULL OR s.refresh_claimed_until < $2) \
             ORDER BY s.token_expires_at"
        ))
        .bind(to_millis(before))
        .bind(to_millis(now))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(installation_row).collect()
    }

    /// Claims an installation's refresh until `until`, so that one instance refreshes it.
    /// False if another holds it.
    pub async fn claim_slack_refresh(
        &self,
        integration: &IntegrationId,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool> {
        let _turn = self.write_turn().await;
        let result = sqlx::query(
            "UPDATE slack_installations SET refresh_claimed_until = $1 WHERE integration_id = $2 \
             AND (refresh_claimed_until IS NULL OR refresh_claimed_until < $3)",
        )
        .bind(to_millis(until))
        .bind(integration.to_string())
        .bind(to_millis(now))
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Ends a refresh: the new expiry (or none), and the claim released.
    pub async fn finish_slack_refresh(
        &self,
        integration: &IntegrationId,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<()> {
        let _turn = self.write_turn().await;
        sqlx::query(
            "UPDATE slack_installations SET token_expires_at = $1, refresh_claimed_until = NULL \
             WHERE integration_id = $2",
        )
        .bind(expires_at.map(to_millis))
        .bind(integration.to_string())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn insert_slack_oauth_state(&self, state: &SlackOAuthState) -> Result<()> {
        let _turn = self.write_turn().await;
        sqlx::query(
            "INSERT INTO slack_oauth_states (state_hash, org_id, principal_id, integration_id, \
             new_integration, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(state.state_hash.clone())
        .bind(state.org_id.to_string())
        .bind(state.principal_id.to_string())
        .bind(state.integration_id.as_ref().map(ToString::to_string))
        .bind(state.new_integration.as_ref().map(Value::to_string))
        .bind(to_millis(state.expires_at))
        .execute(&self.pool)
        .await
        .map_err(conflict_as("state"))?;
        Ok(())
    }

    /// Removes and returns a state: it can be used once, whatever happens next.
    pub async fn take_slack_oauth_state(
        &self,
        state_hash: &str,
    ) -> Result<Option<SlackOAuthState>> {
        let _turn = self.write_turn().await;
        let row = sqlx::query(
            "DELETE FROM slack_oauth_states WHERE state_hash = $1 RETURNING state_hash, org_id, \
             principal_id, integration_id, new_integration, expires_at",
        )
        .bind(state_hash.to_owned())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| -> Result<SlackOAuthState> {
            Ok(SlackOAuthState {
                state_hash: row.try_get("state_hash")?,
                org_id: OrgId::from_trusted(row.try_get("org_id")?),
                principal_id: PrincipalId::from_trusted(row.try_get("principal_id")?),
                integration_id: row
                    .try_get::<Option<String>, _>("integration_id")?
                    .map(IntegrationId::from_trusted),
                new_integration: row
                    .try_get::<Option<String>, _>("new_integration")?
                    .map(|raw| {
                        serde_json::from_str(&raw)
                            .map_err(|e| StoreError::Corrupt(format!("new_integration: {e}")))
                    })
                    .transpose()?,
                expires_at: from_millis(row.try_get("expires_at")?)?,
            })
        })
        .transpose()
    }

    /// Links a Slack user to a principal in `link.org_id`, replacing that organisation's
    /// earlier link of the same user.
    pub async fn save_slack_link(&self, link: &SlackUserLink) -> Result<()> {
        let _turn = self.write_turn().await;
        sqlx::query(&format!(
            "INSERT INTO slack_user_links ({LINK_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (org_id, team_id, slack_user_id) DO UPDATE SET \
             slack_user_name = excluded.slack_user_name, principal_id = excluded.principal_id, \
             linked_by = excluded.linked_by, created_at = excluded.created_at"
        ))
        .bind(link.id.clone())
        .bind(link.org_id.to_string())
        .bind(link.team_id.clone())
        .bind(link.slack_user_id.clone())
        .bind(link.slack_user_name.clone())
        .bind(link.principal_id.to_string())
        .bind(link.linked_by.as_ref().map(ToString::to_string))
        .bind(to_millis(link.created_at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The links of one Slack user, in every organisation, newest first.
    pub async fn slack_links_of_user(
        &self,
        team_id: &str,
        user_id: &str,
    ) -> Result<Vec<SlackUserLink>> {
        let rows = sqlx::query(&format!(
            "SELECT {LINK_COLUMNS} FROM slack_user_links WHERE team_id = $1 AND slack_user_id = $2 \
             ORDER BY created_at DESC"
        ))
        .bind(team_id.to_owned())
        .bind(user_id.to_owned())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(link_row).collect()
    }

    /// One organisation's links, oldest first.
    pub async fn list_slack_links(&self, org: &OrgId) -> Result<Vec<SlackUserLink>> {
        let rows = sqlx::query(&format!(
            "SELECT {LINK_COLUMNS} FROM slack_user_links WHERE org_id = $1 ORDER BY id"
        ))
        .bind(org.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(link_row).collect()
    }

    pub async fn delete_slack_link(&self, org: &OrgId, id: &str) -> Result<bool> {
        let _turn = self.write_turn().await;
        let result = sqlx::query("DELETE FROM slack_user_links WHERE org_id = $1 AND id = $2")
            .bind(org.to_string())
            .bind(id.to_owned())
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected() == 1)
    }

    pub async fn insert_slack_link_code(&self, code: &SlackLinkCode) -> Result<()> {
        let _turn = self.write_turn().await;
        sqlx::query(
            "INSERT INTO slack_link_codes (code_hash, team_id, slack_user_id, slack_user_name, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(code.code_hash.clone())
        .bind(code.team_id.clone())
        .bind(code.slack_user_id.clone())
        .bind(code.slack_user_name.clone())
        .bind(to_millis(code.expires_at))
        .execute(&self.pool)
        .await
        .map_err(conflict_as("code"))?;
        Ok(())
    }

    /// Removes and returns a link code: it can be used once.
    pub async fn take_slack_link_code(&self, code_hash: &str) -> Result<Option<SlackLinkCode>> {
        let _turn = self.write_turn().await;
        let row = sqlx::query(
            "DELETE FROM slack_link_codes WHERE code_hash = $1 \
             RETURNING code_hash, team_id, slack_user_id, slack_user_name, expires_at",
        )
        .bind(code_hash.to_owned())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| -> Result<SlackLinkCode> {
            Ok(SlackLinkCode {
                code_hash: row.try_get("code_hash")?,
                team_id: row.try_get("team_id")?,
                slack_user_id: row.try_get("slack_user_id")?,
                slack_user_name: row.try_get("slack_user_name")?,
                expires_at: from_millis(row.try_get("expires_at")?)?,
            })
        })
        .transpose()
    }

    /// Notes an Events API delivery; false if it was already handled (a retry).
    pub async fn record_slack_event(&self, event_id: &str, now: DateTime<Utc>) -> Result<bool> {
        let _turn = self.write_turn().await;
        let result = sqlx::query(
            "INSERT INTO slack_event_receipts (event_id, received_at) VALUES ($1, $2) \
             ON CONFLICT (event_id) DO NOTHING",
        )
        .bind(event_id.to_owned())
        .bind(to_millis(now))
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Forgets a receipt whose handling failed, so Slack's retry is handled.
    pub async fn forget_slack_event(&self, event_id: &str) -> Result<()> {
        let _turn = self.write_turn().await;
        sqlx::query("DELETE FROM slack_event_receipts WHERE event_id = $1")
            .bind(event_id.to_owned())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Forgets what expired: receipts older than Slack retries (`before`), spent states and codes.
    pub async fn prune_slack(
        &self,
        receipts_before: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let _turn = self.write_turn().await;
        for (sql, at) in [
            (
                "DELETE FROM slack_event_receipts WHERE received_at < $1",
                receipts_before,
            ),
            ("DELETE FROM slack_oauth_states WHERE expires_at < $1", now),
            ("DELETE FROM slack_link_codes WHERE expires_at < $1", now),
        ] {
            sqlx::query(sql)
                .bind(to_millis(at))
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }
}

fn installation_row(row: &AnyRow) -> Result<SlackInstallation> {
    Ok(SlackInstallation {
        integration_id: IntegrationId::from_trusted(row.try_get("integration_id")?),
        org_id: OrgId::from_trusted(row.try_get("org_id")?),
        team_id: row.try_get("team_id")?,
        team_name: row.try_get("team_name")?,
        enterprise_id: row.try_get("enterprise_id")?,
        app_id: row.try_get("app_id")?,
        bot_user_id: row.try_get("bot_user_id")?,
        scopes: row.try_get("scopes")?,
        installed_by: row
            .try_get::<Option<String>, _>("installed_by")?
            .map(PrincipalId::from_trusted),
        installed_at: from_millis(row.try_get("installed_at")?)?,
        token_expires_at: opt_from_millis(row.try_get("token_expires_at")?)?,
    })
}

fn link_row(row: &AnyRow) -> Result<SlackUserLink> {
    Ok(SlackUserLink {
        id: row.try_get("id")?,
        org_id: OrgId::from_trusted(row.try_get("org_id")?),
        team_id: row.try_get("team_id")?,
        slack_user_id: row.try_get("slack_user_id")?,
        slack_user_name: row.try_get("slack_user_name")?,
        principal_id: PrincipalId::from_trusted(row.try_get("principal_id")?),
        linked_by: row
            .try_get::<Option<String>, _>("linked_by")?
            .map(PrincipalId::from_trusted),
        created_at: from_millis(row.try_get("created_at")?)?,
    })
}
