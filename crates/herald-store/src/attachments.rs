//! Workspace attachments: an integration attached to a module, with its overrides.

use herald_domain::attachment::{Attachment, Destinations, RunAfter};
use herald_domain::{IntegrationId, OrgId};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::integration_changes::RoutingTable;
use crate::integrations::page_cursor;
use crate::time::{from_millis, to_millis};
use crate::{conflict_as, Page, Result, Store, StoreError};

const COLUMNS: &str =
    "id, org_id, integration_id, module, run_after, destinations, created_by, created_at";

impl Store {
    pub async fn insert_attachment(&self, attachment: &Attachment) -> Result<()> {
        let _turn = self.write_turn().await;
        sqlx::query(&format!(
            "INSERT INTO attachments ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        ))
        .bind(attachment.id.clone())
        .bind(attachment.org_id.to_string())
        .bind(attachment.integration_id.to_string())
        .bind(attachment.module.clone())
        .bind(attachment.run_after.as_str())
        .bind(destinations_text(&attachment.destinations))
        .bind(attachment.created_by.clone())
        .bind(to_millis(attachment.created_at))
        .execute(&self.pool)
        .await
        .map_err(conflict_as("attachment"))?;
        drop(_turn);
        self.notify_routing_changed(&attachment.org_id).await
    }

    /// Writes run_after and destinations. Returns false if it is absent.
    pub async fn update_attachment(&self, attachment: &Attachment) -> Result<bool> {
        let result = {
            let _turn = self.write_turn().await;
            sqlx::query(
                "UPDATE attachments SET run_after = $1, destinations = $2 WHERE id = $3 AND org_id = $4",
            )
            .bind(attachment.run_after.as_str())
            .bind(destinations_text(&attachment.destinations))
            .bind(attachment.id.clone())
            .bind(attachment.org_id.to_string())
            .execute(&self.pool)
            .await?
        };
        self.notify_routing_changed(&attachment.org_id).await?;
        Ok(result.rows_affected() == 1)
    }

    pub async fn get_attachment(&self, org: &OrgId, id: &str) -> Result<Option<Attachment>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM attachments WHERE id = $1 AND org_id = $2"
        ))
        .bind(id.to_owned())
        .bind(org.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(attachment_row).transpose()
    }

    /// Newest first, optionally of one integration and/or one module, and only of the
    /// integrations in `only` when given (those the caller may read).
    pub async fn list_attachments(
        &self,
        org: &OrgId,
        integration: Option<&IntegrationId>,
        module: Option<&str>,
        only: Option<&[IntegrationId]>,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page<Attachment>> {
        if only.is_some_and(|ids| ids.is_empty()) {
            return Ok(Page {
                items: Vec::new(),
                next_cursor: None,
            });
        }
        let restrict = match only {
            Some(ids) => format!(
                " AND integration_id IN ({})",
                crate::placeholders(6, ids.len())
            ),
            None => String::new(),
        };
        let sql = format!(
            "SELECT {COLUMNS} FROM attachments WHERE org_id = $1 AND ($2 IS NULL OR integration_id = $2) \
             AND ($3 IS NULL OR module = $3) AND ($4 IS NULL OR id < $4){restrict} ORDER BY id DESC LIMIT $5"
        );
        let mut query = sqlx::query(&sql)
            .bind(org.to_string())
            .bind(integration.map(|i| i.to_string()))
            .bind(module.map(str::to_owned))
            .bind(cursor.map(str::to_owned))
            .bind(i64::from(limit) + 1);
        for id in only.unwrap_or_default() {
            query = query.bind(id.to_string());
        }
        let rows = query.fetch_all(&self.pool).await?;
        let mut items = rows
            .iter()
            .map(attachment_row)
            .collect::<Result<Vec<_>>>()?;
        let next_cursor = page_cursor(&mut items, limit, |a| a.id.clone());
        Ok(Page { items, next_cursor })
    }

    pub async fn delete_attachment(&self, org: &OrgId, id: &str) -> Result<bool> {
        self.delete_routing_row(RoutingTable::Attachments, org, id)
            .await
    }

    /// Removes the attachments of a deleted integration.
    pub async fn delete_integration_attachments(
        &self,
        org: &OrgId,
        integration: &IntegrationId,
    ) -> Result<()> {
        let _turn = self.write_turn().await;
        sqlx::query("DELETE FROM attachments WHERE org_id = $1 AND integration_id = $2")
            .bind(org.to_string())
            .bind(integration.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Every attachment of an organisation: routing input.
    pub async fn all_attachments(&self, org: &OrgId) -> Result<Vec<Attachment>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM attachments WHERE org_id = $1 ORDER BY id"
        ))
        .bind(org.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(attachment_row).collect()
    }
}

fn destinations_text(destinations: &Destinations) -> String {
    serde_json::to_string(destinations).expect("destinations serialise")
}

fn attachment_row(row: &AnyRow) -> Result<Attachment> {
    let run_after: String = row.try_get("run_after")?;
    let destinations: String = row.try_get("destinations")?;
    Ok(Attachment {
        id: row.try_get("id")?,
        org_id: OrgId::from_trusted(row.try_get("org_id")?),
        integration_id: IntegrationId::from_trusted(row.try_get("integration_id")?),
        module: row.try_get("module")?,
        run_after: RunAfter::parse(&run_after)
            .ok_or_else(|| StoreError::Corrupt(format!("run_after {run_after}")))?,
        destinations: serde_json::from_str(&destinations)
            .map_err(|e| StoreError::Corrupt(format!("attachment destinations: {e}")))?,
        created_by: row.try_get("created_by")?,
        created_at: from_millis(row.try_get("created_at")?)?,
    })
}
