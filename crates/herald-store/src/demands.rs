//! Integration events (demand) and the organisation's registered event types.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use herald_domain::{
    IntegrationEvent, IntegrationEventId, IntegrationId, OrgId, Scope, ScopeKind, Severity, Trigger,
};
use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::integration_changes::RoutingTable;
use crate::integrations::{json_list, page_cursor, parse_json_list, template_json};
use crate::time::{from_millis, to_millis};
use crate::{conflict_as, Page, Result, Store, StoreError};

const COLUMNS: &str = "id, org_id, integration_id, name, trigger_type, scope_kind, scope_name, \
                       environments, min_severity, enabled, template, created_at, updated_at, destinations";

/// A registered event type as stored; its schema is compiled by the domain's catalogue.
#[derive(Debug, Clone, PartialEq)]
pub struct EventTypeRow {
    pub org_id: OrgId,
    pub id: String,
    pub description: String,
    pub schema: Option<Value>,
    pub created_at: DateTime<Utc>,
}

/// Filters of a listing of integration events.
#[derive(Debug, Clone, Default)]
pub struct DemandFilter<'a> {
    pub name: Option<&'a str>,
    pub integration_id: Option<&'a IntegrationId>,
    /// Only these integrations' rows (the ones a caller may read); None means all.
    pub only: Option<&'a [IntegrationId]>,
}

impl Store {
    pub async fn insert_integration_event(&self, demand: &IntegrationEvent) -> Result<()> {
        bind_demand(sqlx::query(&insert_demand_sql()), demand)
            .execute(&self.pool)
            .await
            .map_err(conflict_as("name"))?;
        self.notify_routing_changed(&demand.org_id).await
    }

    /// Writes every mutable field. Returns false if it is absent.
    pub async fn update_integration_event(&self, demand: &IntegrationEvent) -> Result<bool> {
        let result = sqlx::query(
            "UPDATE integration_events SET name = $1, trigger_type = $2, scope_kind = $3, \
             scope_name = $4, environments = $5, min_severity = $6, enabled = $7, template = $8, \
             updated_at = $9, destinations = $10 WHERE id = $11 AND org_id = $12",
        )
        .bind(demand.name.clone())
        .bind(demand.trigger.to_string())
        .bind(demand.scope.kind().as_str())
        .bind(demand.scope.name().map(str::to_owned))
        .bind(json_list(&demand.environments))
        .bind(demand.min_severity.map(|s| s.as_str()))
        .bind(i64::from(demand.enabled))
        .bind(template_json(&demand.template))
        .bind(to_millis(demand.updated_at))
        .bind(json_list(&demand.destinations))
        .bind(demand.id.to_string())
        .bind(demand.org_id.to_string())
        .execute(&self.pool)
        .await
        .map_err(conflict_as("name"))?;
        self.notify_routing_changed(&demand.org_id).await?;
        Ok(result.rows_affected() == 1)
    }

    pub async fn get_integration_event(
        &self,
        org: &OrgId,
        id: &IntegrationEventId,
    ) -> Result<Option<IntegrationEvent>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM integration_events WHERE id = $1 AND org_id = $2"
        ))
        .bind(id.to_string())
        .bind(org.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(demand_row).transpose()
    }

    /// Newest first.
    pub async fn list_integration_events(
        &self,
        org: &OrgId,
        filter: &DemandFilter<'_>,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page<IntegrationEvent>> {
        if filter.only.is_some_and(|ids| ids.is_empty()) {
            return Ok(Page {
                items: Vec::new(),
                next_cursor: None,
            });
        }
        let restrict = match filter.only {
            Some(ids) => format!(
                " AND integration_id IN ({})",
                crate::placeholders(6, ids.len())
            ),
            None => String::new(),
        };
        let sql = format!(
            "SELECT {COLUMNS} FROM integration_events WHERE org_id = $1 \
             AND ($2 IS NULL OR name = $2) AND ($3 IS NULL OR integration_id = $3) \
             AND ($4 IS NULL OR id < $4){restrict} ORDER BY id DESC LIMIT $5"
        );
        let mut query = sqlx::query(&sql)
            .bind(org.to_string())
            .bind(filter.name.map(str::to_owned))
            .bind(filter.integration_id.map(ToString::to_string))
            .bind(cursor.map(str::to_owned))
            .bind(i64::from(limit) + 1);
        for id in filter.only.unwrap_or_default() {
            query = query.bind(id.to_string());
        }
        let rows = query.fetch_all(&self.pool).await?;
        let mut items = rows.iter().map(demand_row).collect::<Result<Vec<_>>>()?;
        let next_cursor = page_cursor(&mut items, limit, |d| d.id.to_string());
        Ok(Page { items, next_cursor })
    }

    pub async fn delete_integration_event(
        &self,
        org: &OrgId,
        id: &IntegrationEventId,
    ) -> Result<bool> {
        self.delete_routing_row(RoutingTable::IntegrationEvents, org, id.as_str())
            .await
    }

    /// Every integration event of an organisation: routing input.
    pub async fn all_integration_events(&self, org: &OrgId) -> Result<Vec<IntegrationEvent>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM integration_events WHERE org_id = $1"
        ))
        .bind(org.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(demand_row).collect()
    }

    /// Which of these integrations have at least one integration event or attachment (and
    /// so are routed by supply ∩ demand).
    pub async fn integrations_with_demand(
        &self,
        org: &OrgId,
        ids: &[IntegrationId],
    ) -> Result<HashSet<IntegrationId>> {
        if ids.is_empty() {
            return Ok(HashSet::new());
        }
        // An attachment is a supply and a demand too.
        let list = crate::placeholders(2, ids.len());
        let sql = format!(
            "SELECT integration_id FROM integration_events WHERE org_id = $1 AND integration_id IN ({list}) \
             UNION SELECT integration_id FROM attachments WHERE org_id = $1 AND integration_id IN ({list})"
        );
        let mut query = sqlx::query(&sql).bind(org.to_string());
        for id in ids {
            query = query.bind(id.to_string());
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| Ok(IntegrationId::from_trusted(r.try_get("integration_id")?)))
            .collect()
    }

    pub async fn insert_event_type(&self, event_type: &EventTypeRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO event_types (org_id, id, description, json_schema, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(event_type.org_id.to_string())
        .bind(event_type.id.clone())
        .bind(event_type.description.clone())
        .bind(event_type.schema.as_ref().map(Value::to_string))
        .bind(to_millis(event_type.created_at))
        .execute(&self.pool)
        .await
        .map_err(conflict_as("id"))?;
        self.notify_routing_changed(&event_type.org_id).await
    }

    /// The organisation's registered types, by id.
    pub async fn list_event_types(&self, org: &OrgId) -> Result<Vec<EventTypeRow>> {
        let rows = sqlx::query(
            "SELECT org_id, id, description, json_schema, created_at FROM event_types \
             WHERE org_id = $1 ORDER BY id",
        )
        .bind(org.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(event_type_row).collect()
    }

    pub async fn delete_event_type(&self, org: &OrgId, id: &str) -> Result<bool> {
        self.delete_routing_row(RoutingTable::EventTypes, org, id)
            .await
    }
}

pub(crate) fn insert_demand_sql() -> String {
    format!(
        "INSERT INTO integration_events ({COLUMNS}) VALUES ({})",
        crate::placeholders(1, 14)
    )
}

pub(crate) fn bind_demand<'q>(
    query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    demand: &IntegrationEvent,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    query
        .bind(demand.id.to_string())
        .bind(demand.org_id.to_string())
        .bind(demand.integration_id.to_string())
        .bind(demand.name.clone())
        .bind(demand.trigger.to_string())
        .bind(demand.scope.kind().as_str())
        .bind(demand.scope.name().map(str::to_owned))
        .bind(json_list(&demand.environments))
        .bind(demand.min_severity.map(|s| s.as_str()))
        .bind(i64::from(demand.enabled))
        .bind(template_json(&demand.template))
        .bind(to_millis(demand.created_at))
        .bind(to_millis(demand.updated_at))
        .bind(json_list(&demand.destinations))
}

fn demand_row(row: &AnyRow) -> Result<IntegrationEvent> {
    let corrupt = |what: &str, value: &str| StoreError::Corrupt(format!("{what} {value}"));
    let trigger: String = row.try_get("trigger_type")?;
    let kind: String = row.try_get("scope_kind")?;
    let scope = match (
        ScopeKind::parse(&kind),
        row.try_get::<Option<String>, _>("scope_name")?,
    ) {
        (Some(ScopeKind::Organisation), _) => Scope::Organisation,
        (Some(kind), Some(name)) => Scope::Named(kind, name),
        _ => return Err(corrupt("scope", &kind)),
    };
    let severity: Option<String> = row.try_get("min_severity")?;
    Ok(IntegrationEvent {
        id: IntegrationEventId::from_trusted(row.try_get("id")?),
        org_id: OrgId::from_trusted(row.try_get("org_id")?),
        integration_id: IntegrationId::from_trusted(row.try_get("integration_id")?),
        name: row.try_get("name")?,
        trigger: Trigger::parse(&trigger).map_err(|_| corrupt("trigger", &trigger))?,
        scope,
        environments: parse_json_list(row.try_get("environments")?)?,
        min_severity: severity
            .map(|s| Severity::parse(&s).ok_or_else(|| corrupt("severity", &s)))
            .transpose()?,
        enabled: row.try_get::<i64, _>("enabled")? != 0,
        template: row
            .try_get::<Option<String>, _>("template")?
            .map(|raw| {
                serde_json::from_str(&raw)
                    .map_err(|e| StoreError::Corrupt(format!("template column: {e}")))
            })
            .transpose()?,
        destinations: parse_json_list(row.try_get("destinations")?)?,
        created_at: from_millis(row.try_get("created_at")?)?,
        updated_at: from_millis(row.try_get("updated_at")?)?,
    })
}

fn event_type_row(row: &AnyRow) -> Result<EventTypeRow> {
    Ok(EventTypeRow {
        org_id: OrgId::from_trusted(row.try_get("org_id")?),
        id: row.try_get("id")?,
        description: row.try_get("description")?,
        schema: row
            .try_get::<Option<String>, _>("json_schema")?
            .map(|raw| {
                serde_json::from_str(&raw)
                    .map_err(|e| StoreError::Corrupt(format!("schema column: {e}")))
            })
            .transpose()?,
        created_at: from_millis(row.try_get("created_at")?)?,
    })
}
