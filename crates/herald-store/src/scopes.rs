//! The registered scope tree (stacks, namespaces, modules) and integrations' supplies to it.

use chrono::{DateTime, Utc};
use herald_domain::{IntegrationId, OrgId, ScopeId, ScopeKind, SupplyId};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::integration_changes::RoutingTable;
use crate::integrations::page_cursor;
use crate::time::{from_millis, to_millis};
use crate::{conflict_as, Page, Result, Store, StoreError};

/// A registered stack, namespace or module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeRow {
    pub id: ScopeId,
    pub org_id: OrgId,
    pub kind: ScopeKind,
    pub name: String,
    /// The parent's name: a namespace's stack, a module's namespace; None for a stack.
    pub parent: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// An integration supplied to one stack, namespace or module (by name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupplyRow {
    pub id: SupplyId,
    pub org_id: OrgId,
    pub integration_id: IntegrationId,
    pub kind: ScopeKind,
    pub scope_name: String,
    pub created_at: DateTime<Utc>,
}

/// Filters of a listing; `name` is the scope's name.
#[derive(Debug, Clone, Default)]
pub struct ScopeFilter<'a> {
    pub name: Option<&'a str>,
    pub parent: Option<&'a str>,
    pub integration_id: Option<&'a IntegrationId>,
    /// Only these integrations' rows (the ones a caller may read); None means all.
    pub only: Option<&'a [IntegrationId]>,
}

#[derive(Debug, thiserror::Error)]
pub enum ScopeDeleteError {
    #[error("the scope has {0} registered under it")]
    HasChildren(&'static str),
    #[error(transparent)]
    Store(#[from] StoreError),
}

const SCOPE_COLUMNS: &str = "id, org_id, kind, name, parent, created_at";
const SUPPLY_COLUMNS: &str = "id, org_id, integration_id, kind, scope_name, created_at";

impl Store {
    pub async fn insert_scope(&self, scope: &ScopeRow) -> Result<()> {
        sqlx::query(&format!(
            "INSERT INTO scopes ({SCOPE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"
        ))
        .bind(scope.id.to_string())
        .bind(scope.org_id.to_string())
        .bind(scope.kind.as_str())
        .bind(scope.name.clone())
        .bind(scope.parent.clone())
        .bind(to_millis(scope.created_at))
        .execute(&self.pool)
        .await
        .map_err(conflict_as("name"))?;
        self.notify_routing_changed(&scope.org_id).await
    }

    /// Newest first.
    pub async fn list_scopes(
        &self,
        org: &OrgId,
        kind: ScopeKind,
        filter: &ScopeFilter<'_>,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page<ScopeRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {SCOPE_COLUMNS} FROM scopes WHERE org_id = $1 AND kind = $2 \
             AND ($3 IS NULL OR name = $3) AND ($4 IS NULL OR parent = $4) \
             AND ($5 IS NULL OR id < $5) ORDER BY id DESC LIMIT $6"
        ))
        .bind(org.to_string())
        .bind(kind.as_str())
        .bind(filter.name.map(str::to_owned))
        .bind(filter.parent.map(str::to_owned))
        .bind(cursor.map(str::to_owned))
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.pool)
        .await?;
        let mut items = rows.iter().map(scope_row).collect::<Result<Vec<_>>>()?;
        let next_cursor = page_cursor(&mut items, limit, |s| s.id.to_string());
        Ok(Page { items, next_cursor })
    }

    pub async fn get_scope(
        &self,
        org: &OrgId,
        kind: ScopeKind,
        id: &ScopeId,
    ) -> Result<Option<ScopeRow>> {
        let row = sqlx::query(&format!(
            "SELECT {SCOPE_COLUMNS} FROM scopes WHERE id = $1 AND org_id = $2 AND kind = $3"
        ))
        .bind(id.to_string())
        .bind(org.to_string())
        .bind(kind.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(scope_row).transpose()
    }

    /// Deletes a scope; refused while namespaces (of a stack) or modules (of a namespace)
    /// hang under it. Returns the deleted row, or None if there was none.
    pub async fn delete_scope(
        &self,
        org: &OrgId,
        kind: ScopeKind,
        id: &ScopeId,
    ) -> Result<Option<ScopeRow>, ScopeDeleteError> {
        let mut tx = self.begin_write().await?;
        let Some(row) = sqlx::query(&format!(
            "SELECT {SCOPE_COLUMNS} FROM scopes WHERE id = $1 AND org_id = $2 AND kind = $3"
        ))
        .bind(id.to_string())
        .bind(org.to_string())
        .bind(kind.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(StoreError::from)?
        else {
            return Ok(None);
        };
        let scope = scope_row(&row)?;
        let child = match kind {
            ScopeKind::Stack => Some((ScopeKind::Namespace, "namespaces")),
            ScopeKind::Namespace => Some((ScopeKind::Module, "modules")),
            _ => None,
        };
        if let Some((child, what)) = child {
            let children: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM scopes WHERE org_id = $1 AND kind = $2 AND parent = $3",
            )
            .bind(org.to_string())
            .bind(child.as_str())
            .bind(scope.name.clone())
            .fetch_one(&mut *tx)
            .await
            .map_err(StoreError::from)?;
            if children > 0 {
                return Err(ScopeDeleteError::HasChildren(what));
            }
        }
        sqlx::query("DELETE FROM scopes WHERE id = $1")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from)?;
        tx.commit().await?;
        self.notify_routing_changed(org).await?;
        Ok(Some(scope))
    }

    /// Every registered namespace and module of an organisation: the tree routing resolves
    /// an event's ancestors with.
    pub async fn scope_tree(&self, org: &OrgId) -> Result<Vec<ScopeRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {SCOPE_COLUMNS} FROM scopes WHERE org_id = $1 AND kind <> 'stack'"
        ))
        .bind(org.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(scope_row).collect()
    }

    pub async fn insert_supply(&self, supply: &SupplyRow) -> Result<()> {
        bind_supply(sqlx::query(&insert_supply_sql()), supply)
            .execute(&self.pool)
            .await
            .map_err(conflict_as("supply"))?;
        self.notify_routing_changed(&supply.org_id).await
    }

    /// Inserts many integrations, supplies and integration events in one transaction: for
    /// seeding (the routing benchmark, imports).
    pub async fn insert_routing_bulk(
        &self,
        integrations: &[crate::IntegrationRow],
        supplies: &[SupplyRow],
        demands: &[herald_domain::IntegrationEvent],
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let sql = crate::integrations::insert_integration_sql();
        for row in integrations {
            crate::integrations::bind_integration(sqlx::query(&sql), row)
                .execute(&mut *tx)
                .await?;
        }
        let sql = insert_supply_sql();
        for row in supplies {
            bind_supply(sqlx::query(&sql), row)
                .execute(&mut *tx)
                .await?;
        }
        let sql = crate::demands::insert_demand_sql();
        for row in demands {
            crate::demands::bind_demand(sqlx::query(&sql), row)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await
    }

    /// Newest first.
    pub async fn list_supplies(
        &self,
        org: &OrgId,
        kind: ScopeKind,
        filter: &ScopeFilter<'_>,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page<SupplyRow>> {
        if filter.only.is_some_and(|ids| ids.is_empty()) {
            return Ok(Page {
                items: Vec::new(),
                next_cursor: None,
            });
        }
        let only = filter.only.unwrap_or_default();
        let restrict = match filter.only {
            Some(ids) => format!(
                " AND integration_id IN ({})",
                crate::placeholders(7, ids.len())
            ),
            None => String::new(),
        };
        let sql = format!(
            "SELECT {SUPPLY_COLUMNS} FROM supplies WHERE org_id = $1 AND kind = $2 \
             AND ($3 IS NULL OR scope_name = $3) AND ($4 IS NULL OR integration_id = $4) \
             AND ($5 IS NULL OR id < $5){restrict} ORDER BY id DESC LIMIT $6"
        );
        let mut query = sqlx::query(&sql)
            .bind(org.to_string())
            .bind(kind.as_str())
            .bind(filter.name.map(str::to_owned))
            .bind(filter.integration_id.map(ToString::to_string))
            .bind(cursor.map(str::to_owned))
            .bind(i64::from(limit) + 1);
        if filter.only.is_some() {
            // $7 onwards; $6 is the limit.
            for id in only {
                query = query.bind(id.to_string());
            }
        }
        let rows = query.fetch_all(&self.pool).await?;
        let mut items = rows.iter().map(supply_row).collect::<Result<Vec<_>>>()?;
        let next_cursor = page_cursor(&mut items, limit, |s| s.id.to_string());
        Ok(Page { items, next_cursor })
    }

    pub async fn get_supply(
        &self,
        org: &OrgId,
        kind: ScopeKind,
        id: &SupplyId,
    ) -> Result<Option<SupplyRow>> {
        let row = sqlx::query(&format!(
            "SELECT {SUPPLY_COLUMNS} FROM supplies WHERE id = $1 AND org_id = $2 AND kind = $3"
        ))
        .bind(id.to_string())
        .bind(org.to_string())
        .bind(kind.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(supply_row).transpose()
    }

    pub async fn delete_supply(&self, org: &OrgId, id: &SupplyId) -> Result<bool> {
        self.delete_routing_row(RoutingTable::Supplies, org, id.as_str())
            .await
    }

    /// Every supply of an organisation: routing input.
    pub async fn all_supplies(&self, org: &OrgId) -> Result<Vec<SupplyRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {SUPPLY_COLUMNS} FROM supplies WHERE org_id = $1"
        ))
        .bind(org.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(supply_row).collect()
    }
}

fn insert_supply_sql() -> String {
    format!("INSERT INTO supplies ({SUPPLY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)")
}

fn bind_supply<'q>(
    query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    supply: &SupplyRow,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    query
        .bind(supply.id.to_string())
        .bind(supply.org_id.to_string())
        .bind(supply.integration_id.to_string())
        .bind(supply.kind.as_str())
        .bind(supply.scope_name.clone())
        .bind(to_millis(supply.created_at))
}

fn kind_of(raw: String) -> Result<ScopeKind> {
    ScopeKind::parse(&raw).ok_or_else(|| StoreError::Corrupt(format!("scope kind {raw}")))
}

fn scope_row(row: &AnyRow) -> Result<ScopeRow> {
    Ok(ScopeRow {
        id: ScopeId::from_trusted(row.try_get("id")?),
        org_id: OrgId::from_trusted(row.try_get("org_id")?),
        kind: kind_of(row.try_get("kind")?)?,
        name: row.try_get("name")?,
        parent: row.try_get("parent")?,
        created_at: from_millis(row.try_get("created_at")?)?,
    })
}

fn supply_row(row: &AnyRow) -> Result<SupplyRow> {
    Ok(SupplyRow {
        id: SupplyId::from_trusted(row.try_get("id")?),
        org_id: OrgId::from_trusted(row.try_get("org_id")?),
        integration_id: IntegrationId::from_trusted(row.try_get("integration_id")?),
        kind: kind_of(row.try_get("kind")?)?,
        scope_name: row.try_get("scope_name")?,
        created_at: from_millis(row.try_get("created_at")?)?,
    })
}
