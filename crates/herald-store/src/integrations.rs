use chrono::Utc;
use herald_domain::{Filters, Integration, IntegrationId, Kind, MessageTemplate, OrgId, Severity};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::time::{from_millis, to_millis};
use crate::{conflict_as, Page, Result, Store, StoreError};

const COLUMNS: &str =
    "id, org_id, kind, name, enabled, severity_filter, events, target_ids, config_sealed, \
                       config_keys, created_at, updated_at, template, supplied_to_all_modules, destinations, disabled_reason, paused_at";

/// An integration with its sealed config: what is created, updated, and opened on the send path.
#[derive(Debug, Clone)]
pub struct IntegrationRow {
    pub integration: Integration,
    pub config_sealed: String,
}

impl Store {
    /// Inserts an integration; other instances hear of it once it commits.
    pub async fn insert_integration(&self, new: &IntegrationRow) -> Result<()> {
        let i = &new.integration;
        let mut tx = self.begin_write().await?;
        let sql = insert_integration_sql();
        bind_integration(sqlx::query(&sql), new)
            .execute(&mut *tx)
            .await
            .map_err(conflict_as("name"))?;
        self.notify_integration_changed(&mut tx, &i.org_id, &i.id)
            .await?;
        tx.commit().await
    }

    /// Writes every mutable field of an existing integration of `org`. Returns false if absent.
    pub async fn update_integration(&self, row: &IntegrationRow) -> Result<bool> {
        let i = &row.integration;
        let mut tx = self.begin_write().await?;
        let result = sqlx::query(
            "UPDATE integrations SET name = $1, enabled = $2, severity_filter = $3, events = $4, target_ids = $5, \
             config_sealed = $6, config_keys = $7, updated_at = $8, template = $9, supplied_to_all_modules = $10, \
             destinations = $11, disabled_reason = $12 WHERE id = $13 AND org_id = $14",
        )
        .bind(i.name.clone())
        .bind(i64::from(i.enabled))
        .bind(i.filters.severity_filter.map(|s| s.as_str()))
        .bind(json_list(&i.filters.events))
        .bind(json_list(&i.filters.target_ids))
        .bind(row.config_sealed.clone())
        .bind(serde_json::to_string(&i.config_keys).expect("strings serialise"))
        .bind(to_millis(i.updated_at))
        .bind(template_json(&i.template))
        .bind(i64::from(i.supplied_to_all_modules))
        .bind(destinations_json(&i.destinations))
        .bind(i.disabled_reason.clone())
        .bind(i.id.to_string())
        .bind(i.org_id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(conflict_as("name"))?;
        let updated = result.rows_affected() == 1;
        if updated {
            self.notify_integration_changed(&mut tx, &i.org_id, &i.id)
                .await?;
        }
        tx.commit().await?;
        Ok(updated)
    }

    pub async fn get_integration(
        &self,
        org: &OrgId,
        id: &IntegrationId,
    ) -> Result<Option<IntegrationRow>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM integrations WHERE id = $1 AND org_id = $2"
        ))
        .bind(id.to_string())
        .bind(org.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(integration_row).transpose()
    }

    /// Loads integrations by id across organisations: only for the delivery engine, whose
    /// deliveries already carry the right ids.
    pub async fn get_integrations_by_ids(&self, ids: &[String]) -> Result<Vec<IntegrationRow>> {
        self.fetch_by_ids(
            &format!("SELECT {COLUMNS} FROM integrations WHERE id IN"),
            ids,
        )
        .await?
        .iter()
        .map(integration_row)
        .collect()
    }

    /// Newest first, optionally only those with this exact name, and only those in `only`
    /// when it is given (the ones a caller may read).
    pub async fn list_integrations(
        &self,
        org: &OrgId,
        name: Option<&str>,
        only: Option<&[IntegrationId]>,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page<Integration>> {
        if only.is_some_and(|ids| ids.is_empty()) {
            return Ok(Page {
                items: Vec::new(),
                next_cursor: None,
            });
        }
        let restrict = match only {
            Some(ids) => format!(" AND id IN ({})", crate::placeholders(5, ids.len())),
            None => String::new(),
        };
        let sql = format!(
            "SELECT {COLUMNS} FROM integrations WHERE org_id = $1 AND ($2 IS NULL OR name = $2) \
             AND ($3 IS NULL OR id < $3){restrict} ORDER BY id DESC LIMIT $4"
        );
        let mut query = sqlx::query(&sql)
            .bind(org.to_string())
            .bind(name.map(str::to_owned))
            .bind(cursor.map(str::to_owned))
            .bind(i64::from(limit) + 1);
        for id in only.unwrap_or_default() {
            query = query.bind(id.to_string());
        }
        let rows = query.fetch_all(&self.pool).await?;
        let mut items = rows
            .iter()
            .map(|r| integration_row(r).map(|row| row.integration))
            .collect::<Result<Vec<_>>>()?;
        let next_cursor = page_cursor(&mut items, limit, |i| i.id.to_string());
        Ok(Page { items, next_cursor })
    }

    /// Every enabled integration of an organisation, with its sealed config: the input to
    /// routing, and what a delivery handed straight to a worker needs.
    pub async fn list_enabled_integrations(&self, org: &OrgId) -> Result<Vec<IntegrationRow>> {
        self.integrations_of(org, "AND enabled = 1").await
    }

    /// Every integration of an organisation, enabled or not, oldest first: what a routing
    /// explanation speaks about.
    pub async fn list_all_integrations(&self, org: &OrgId) -> Result<Vec<Integration>> {
        let rows = self.integrations_of(org, "ORDER BY id").await?;
        Ok(rows.into_iter().map(|row| row.integration).collect())
    }

    async fn integrations_of(&self, org: &OrgId, rest: &str) -> Result<Vec<IntegrationRow>> {
        let sql = format!("SELECT {COLUMNS} FROM integrations WHERE org_id = $1 {rest}");
        let rows = sqlx::query(&sql)
            .bind(org.to_string())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(integration_row).collect()
    }

    /// Deletes the integration and its sealed config. Its unfinished deliveries end as failed in
    /// the same transaction, so nothing waits on a destination that no longer exists.
    pub async fn delete_integration(&self, org: &OrgId, id: &IntegrationId) -> Result<bool> {
        let now = to_millis(Utc::now());
        let mut tx = self.begin_write().await?;
        let deleted = sqlx::query("DELETE FROM integrations WHERE id = $1 AND org_id = $2")
            .bind(id.to_string())
            .bind(org.to_string())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if deleted == 1 {
            // Its supplies and integration events go with it.
            for table in ["supplies", "integration_events"] {
                sqlx::query(&format!("DELETE FROM {table} WHERE integration_id = $1"))
                    .bind(id.to_string())
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query(
                "UPDATE deliveries SET status = 'failed', next_attempt_at = NULL, lease_owner = NULL, \
                 last_error = 'integration deleted', updated_at = $1 \
                 WHERE integration_id = $2 AND next_attempt_at IS NOT NULL",
            )
            .bind(now)
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
            self.notify_integration_changed(&mut tx, org, id).await?;
        }
        tx.commit().await?;
        Ok(deleted == 1)
    }
}

pub(crate) fn insert_integration_sql() -> String {
    format!(
        "INSERT INTO integrations ({COLUMNS}) VALUES ({})",
        crate::placeholders(1, 17)
    )
}

pub(crate) fn bind_integration<'q>(
    query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    new: &IntegrationRow,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    let i = &new.integration;
    query
        .bind(i.id.to_string())
        .bind(i.org_id.to_string())
        .bind(i.kind.as_str())
        .bind(i.name.clone())
        .bind(i64::from(i.enabled))
        .bind(i.filters.severity_filter.map(|s| s.as_str()))
        .bind(json_list(&i.filters.events))
        .bind(json_list(&i.filters.target_ids))
        .bind(new.config_sealed.clone())
        .bind(serde_json::to_string(&i.config_keys).expect("strings serialise"))
        .bind(to_millis(i.created_at))
        .bind(to_millis(i.updated_at))
        .bind(template_json(&i.template))
        .bind(i64::from(i.supplied_to_all_modules))
        .bind(destinations_json(&i.destinations))
        .bind(i.disabled_reason.clone())
        .bind(i.paused_at.map(to_millis))
}

/// Trims a fetched `limit + 1` rows to `limit` and returns the cursor for the next page.
pub(crate) fn page_cursor<T>(
    items: &mut Vec<T>,
    limit: u32,
    key: impl Fn(&T) -> String,
) -> Option<String> {
    if items.len() > limit as usize {
        items.truncate(limit as usize);
        items.last().map(key)
    } else {
        None
    }
}

pub(crate) fn json_list(list: &Option<Vec<String>>) -> Option<String> {
    list.as_ref()
        .map(|l| serde_json::to_string(l).expect("strings serialise"))
}

pub(crate) fn parse_json_list(raw: Option<String>) -> Result<Option<Vec<String>>> {
    raw.map(|s| {
        serde_json::from_str(&s).map_err(|e| StoreError::Corrupt(format!("list column: {e}")))
    })
    .transpose()
}

pub(crate) fn destinations_json(
    destinations: &Option<herald_domain::attachment::Destinations>,
) -> Option<String> {
    destinations
        .as_ref()
        .map(|d| serde_json::to_string(d).expect("destinations serialise"))
}

pub(crate) fn template_json(template: &Option<MessageTemplate>) -> Option<String> {
    template
        .as_ref()
        .map(|t| serde_json::to_string(t).expect("a template serialises"))
}

fn integration_row(row: &AnyRow) -> Result<IntegrationRow> {
    let kind: String = row.try_get("kind")?;
    let severity: Option<String> = row.try_get("severity_filter")?;
    let integration = Integration {
        id: IntegrationId::from_trusted(row.try_get("id")?),
        org_id: OrgId::from_trusted(row.try_get("org_id")?),
        kind: Kind::parse(&kind).ok_or_else(|| StoreError::Corrupt(format!("kind {kind}")))?,
        name: row.try_get("name")?,
        enabled: row.try_get::<i64, _>("enabled")? != 0,
        disabled_reason: row.try_get("disabled_reason")?,
        paused_at: crate::time::opt_from_millis(row.try_get("paused_at")?)?,
        filters: Filters {
            events: parse_json_list(row.try_get("events")?)?,
            target_ids: parse_json_list(row.try_get("target_ids")?)?,
            severity_filter: severity
                .map(|s| {
                    Severity::parse(&s).ok_or_else(|| StoreError::Corrupt(format!("severity {s}")))
                })
                .transpose()?,
        },
        config_keys: parse_json_list(row.try_get("config_keys")?)?.unwrap_or_default(),
        template: row
            .try_get::<Option<String>, _>("template")?
            .map(|raw| {
                serde_json::from_str(&raw)
                    .map_err(|e| StoreError::Corrupt(format!("template column: {e}")))
            })
            .transpose()?,
        supplied_to_all_modules: row.try_get::<i64, _>("supplied_to_all_modules")? != 0,
        destinations: row
            .try_get::<Option<String>, _>("destinations")?
            .map(|raw| {
                serde_json::from_str(&raw)
                    .map_err(|e| StoreError::Corrupt(format!("destinations column: {e}")))
            })
            .transpose()?,
        created_at: from_millis(row.try_get("created_at")?)?,
        updated_at: from_millis(row.try_get("updated_at")?)?,
    };
    Ok(IntegrationRow {
        integration,
        config_sealed: row.try_get("config_sealed")?,
    })
}
