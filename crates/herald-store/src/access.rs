//! Principals, nested groups, role assignments and the audit log.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use herald_domain::{
    AuditId, Grants, IntegrationId, IntegrationRole, OrgId, OrgRole, PrincipalId, PrincipalKind,
    RoleAssignmentId,
};
use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::integrations::page_cursor;
use crate::time::{from_millis, to_millis};
use crate::{conflict_as, Page, Result, Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub id: PrincipalId,
    pub org_id: OrgId,
    pub kind: PrincipalKind,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

/// A role granted to a principal, on the organisation (`integration_id` None) or one
/// integration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleAssignment {
    pub id: RoleAssignmentId,
    pub org_id: OrgId,
    pub principal_id: PrincipalId,
    pub role: String,
    pub integration_id: Option<IntegrationId>,
    pub created_at: DateTime<Utc>,
}

/// One change, as the audit log keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub id: AuditId,
    pub org_id: OrgId,
    pub at: DateTime<Utc>,
    pub actor_id: Option<String>,
    pub token_id: Option<String>,
    pub source: Option<String>,
    pub action: String,
    pub resource_type: String,
    pub resource_id: String,
    pub details: Option<Value>,
}

#[derive(Debug, Default, Clone)]
pub struct AuditFilter {
    pub action: Option<String>,
    pub resource_id: Option<String>,
    pub actor_id: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum MembershipError {
    #[error("not found")]
    NotFound,
    #[error("only a group has members")]
    NotAGroup,
    #[error("adding it would make the group a member of itself")]
    Cycle,
    #[error(transparent)]
    Store(#[from] StoreError),
}

const PRINCIPAL_COLUMNS: &str = "id, org_id, kind, name, created_at";
const ASSIGNMENT_COLUMNS: &str = "id, org_id, principal_id, role, integration_id, created_at";
const AUDIT_COLUMNS: &str =
    "id, org_id, at, actor_id, token_id, source, action, resource_type, resource_id, details";

/// The principal and every group it belongs to, directly or through other groups. UNION
/// (not UNION ALL) ends the recursion even if memberships form a cycle.
const CLOSURE: &str = "WITH RECURSIVE closure (id) AS (SELECT $1 \
    UNION SELECT gm.group_id FROM group_members gm JOIN closure c ON gm.member_id = c.id)";

impl Store {
    pub async fn insert_principal(&self, principal: &Principal) -> Result<()> {
        sqlx::query(&format!(
            "INSERT INTO principals ({PRINCIPAL_COLUMNS}) VALUES ($1, $2, $3, $4, $5)"
        ))
        .bind(principal.id.to_string())
        .bind(principal.org_id.to_string())
        .bind(principal.kind.as_str())
        .bind(principal.name.clone())
        .bind(to_millis(principal.created_at))
        .execute(&self.pool)
        .await
        .map_err(conflict_as("name"))?;
        Ok(())
    }

    pub async fn get_principal(&self, org: &OrgId, id: &PrincipalId) -> Result<Option<Principal>> {
        let row = sqlx::query(&format!(
            "SELECT {PRINCIPAL_COLUMNS} FROM principals WHERE id = $1 AND org_id = $2"
        ))
        .bind(id.to_string())
        .bind(org.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(principal_row).transpose()
    }

    pub async fn find_principal(
        &self,
        org: &OrgId,
        kind: PrincipalKind,
        name: &str,
    ) -> Result<Option<Principal>> {
        let row = sqlx::query(&format!(
            "SELECT {PRINCIPAL_COLUMNS} FROM principals WHERE org_id = $1 AND kind = $2 AND name = $3"
        ))
        .bind(org.to_string())
        .bind(kind.as_str())
        .bind(name.to_owned())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(principal_row).transpose()
    }

    /// Newest first, optionally of one kind and/or with one exact name.
    pub async fn list_principals(
        &self,
        org: &OrgId,
        kind: Option<PrincipalKind>,
        name: Option<&str>,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page<Principal>> {
        let rows = sqlx::query(&format!(
            "SELECT {PRINCIPAL_COLUMNS} FROM principals WHERE org_id = $1 AND ($2 IS NULL OR kind = $2) \
             AND ($3 IS NULL OR name = $3) AND ($4 IS NULL OR id < $4) ORDER BY id DESC LIMIT $5"
        ))
        .bind(org.to_string())
        .bind(kind.map(|k| k.as_str()))
        .bind(name.map(str::to_owned))
        .bind(cursor.map(str::to_owned))
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.pool)
        .await?;
        let mut items = rows.iter().map(principal_row).collect::<Result<Vec<_>>>()?;
        let next_cursor = page_cursor(&mut items, limit, |p| p.id.to_string());
        Ok(Page { items, next_cursor })
    }

    /// Deletes a principal with its memberships, role assignments and tokens (revoked, so the
    /// record of them stays). Returns false if it was not there.
    pub async fn delete_principal(&self, org: &OrgId, id: &PrincipalId) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let id = id.to_string();
        let found = sqlx::query("SELECT id FROM principals WHERE id = $1 AND org_id = $2")
            .bind(id.clone())
            .bind(org.to_string())
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if !found {
            return Ok(false);
        }
        for sql in [
            "DELETE FROM group_members WHERE group_id = $1 OR member_id = $1",
            "DELETE FROM role_assignments WHERE principal_id = $1",
        ] {
            sqlx::query(sql).bind(id.clone()).execute(&mut *tx).await?;
        }
        sqlx::query(
            "UPDATE api_tokens SET revoked_at = $2 WHERE principal_id = $1 AND revoked_at IS NULL",
        )
        .bind(id.clone())
        .bind(to_millis(Utc::now()))
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM principals WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Adds `member` to `group`. Refuses a membership that would make a group contain itself.
    pub async fn add_member(
        &self,
        org: &OrgId,
        group: &PrincipalId,
        member: &PrincipalId,
    ) -> std::result::Result<(), MembershipError> {
        let group_row = self
            .get_principal(org, group)
            .await?
            .ok_or(MembershipError::NotFound)?;
        if group_row.kind != PrincipalKind::Group {
            return Err(MembershipError::NotAGroup);
        }
        self.get_principal(org, member)
            .await?
            .ok_or(MembershipError::NotFound)?;
        let mut tx = self.begin_write().await?;
        // The group must not already be inside `member` (or be `member`).
        let cycle = sqlx::query(&format!(
            "{CLOSURE} SELECT 1 AS hit FROM closure WHERE id = $2"
        ))
        .bind(group.to_string())
        .bind(member.to_string())
        .fetch_optional(&mut *tx)
        .await
        .map_err(StoreError::from)?
        .is_some();
        if cycle {
            return Err(MembershipError::Cycle);
        }
        let result = sqlx::query(
            "INSERT INTO group_members (group_id, member_id, org_id, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(group.to_string())
        .bind(member.to_string())
        .bind(org.to_string())
        .bind(to_millis(Utc::now()))
        .execute(&mut *tx)
        .await;
        match result.map_err(conflict_as("membership")) {
            Ok(_) | Err(StoreError::Conflict(_)) => {}
            Err(other) => return Err(other.into()),
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn remove_member(
        &self,
        org: &OrgId,
        group: &PrincipalId,
        member: &PrincipalId,
    ) -> Result<bool> {
        let _turn = self.write_turn().await;
        let result = sqlx::query(
            "DELETE FROM group_members WHERE group_id = $1 AND member_id = $2 AND org_id = $3",
        )
        .bind(group.to_string())
        .bind(member.to_string())
        .bind(org.to_string())
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() > 0)
    }

    pub async fn list_members(&self, org: &OrgId, group: &PrincipalId) -> Result<Vec<Principal>> {
        let rows = sqlx::query(&format!(
            "SELECT {} FROM principals p JOIN group_members gm ON gm.member_id = p.id \
             WHERE gm.group_id = $1 AND gm.org_id = $2 ORDER BY p.id",
            PRINCIPAL_COLUMNS
                .split(", ")
                .map(|c| format!("p.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .bind(group.to_string())
        .bind(org.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(principal_row).collect()
    }

    pub async fn insert_role_assignment(&self, assignment: &RoleAssignment) -> Result<()> {
        let _turn = self.write_turn().await;
        sqlx::query(&format!(
            "INSERT INTO role_assignments ({ASSIGNMENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"
        ))
        .bind(assignment.id.to_string())
        .bind(assignment.org_id.to_string())
        .bind(assignment.principal_id.to_string())
        .bind(assignment.role.clone())
        .bind(assignment.integration_id.as_ref().map(|i| i.to_string()))
        .bind(to_millis(assignment.created_at))
        .execute(&self.pool)
        .await
        .map_err(conflict_as("role assignment"))?;
        Ok(())
    }

    pub async fn get_role_assignment(
        &self,
        org: &OrgId,
        id: &RoleAssignmentId,
    ) -> Result<Option<RoleAssignment>> {
        let row = sqlx::query(&format!(
            "SELECT {ASSIGNMENT_COLUMNS} FROM role_assignments WHERE id = $1 AND org_id = $2"
        ))
        .bind(id.to_string())
        .bind(org.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(assignment_row).transpose()
    }

    pub async fn list_role_assignments(
        &self,
        org: &OrgId,
        principal: Option<&PrincipalId>,
        integration: Option<&IntegrationId>,
    ) -> Result<Vec<RoleAssignment>> {
        let rows = sqlx::query(&format!(
            "SELECT {ASSIGNMENT_COLUMNS} FROM role_assignments WHERE org_id = $1 \
             AND ($2 IS NULL OR principal_id = $2) AND ($3 IS NULL OR integration_id = $3) ORDER BY id"
        ))
        .bind(org.to_string())
        .bind(principal.map(|p| p.to_string()))
        .bind(integration.map(|i| i.to_string()))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(assignment_row).collect()
    }

    pub async fn delete_role_assignment(&self, org: &OrgId, id: &RoleAssignmentId) -> Result<bool> {
        let _turn = self.write_turn().await;
        let result = sqlx::query("DELETE FROM role_assignments WHERE id = $1 AND org_id = $2")
            .bind(id.to_string())
            .bind(org.to_string())
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected() > 0)
    }

    /// Removes every role on a deleted integration.
    pub async fn delete_integration_assignments(
        &self,
        org: &OrgId,
        integration: &IntegrationId,
    ) -> Result<()> {
        let _turn = self.write_turn().await;
        sqlx::query("DELETE FROM role_assignments WHERE org_id = $1 AND integration_id = $2")
            .bind(org.to_string())
            .bind(integration.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Everything granted to `principal`, directly or through any group it is in.
    pub async fn resolve_grants(&self, org: &OrgId, principal: &PrincipalId) -> Result<Grants> {
        let rows = sqlx::query(&format!(
            "{CLOSURE} SELECT role, integration_id FROM role_assignments \
             WHERE org_id = $2 AND principal_id IN (SELECT id FROM closure)"
        ))
        .bind(principal.to_string())
        .bind(org.to_string())
        .fetch_all(&self.pool)
        .await?;
        let mut grants = Grants::default();
        let mut per_integration: HashMap<IntegrationId, _> = HashMap::new();
        for row in rows {
            let role: String = row.try_get("role")?;
            match row.try_get::<Option<String>, _>("integration_id")? {
                None => {
                    if let Some(role) = OrgRole::parse(&role) {
                        grants.org.insert(role);
                    }
                }
                Some(id) => {
                    if let Some(role) = IntegrationRole::parse(&role) {
                        per_integration
                            .entry(IntegrationId::from_trusted(id))
                            .or_insert_with(std::collections::HashSet::new)
                            .insert(role);
                    }
                }
            }
        }
        grants.integrations = per_integration;
        Ok(grants)
    }

    pub async fn insert_audit(&self, entry: &AuditEntry) -> Result<()> {
        let _turn = self.write_turn().await;
        sqlx::query(&format!(
            "INSERT INTO audit_log ({AUDIT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        ))
        .bind(entry.id.to_string())
        .bind(entry.org_id.to_string())
        .bind(to_millis(entry.at))
        .bind(entry.actor_id.clone())
        .bind(entry.token_id.clone())
        .bind(entry.source.clone())
        .bind(entry.action.clone())
        .bind(entry.resource_type.clone())
        .bind(entry.resource_id.clone())
        .bind(entry.details.as_ref().map(|d| d.to_string()))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Newest first.
    pub async fn list_audit(
        &self,
        org: &OrgId,
        filter: &AuditFilter,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page<AuditEntry>> {
        let rows = sqlx::query(&format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_log WHERE org_id = $1 AND ($2 IS NULL OR action = $2) \
             AND ($3 IS NULL OR resource_id = $3) AND ($4 IS NULL OR actor_id = $4) \
             AND ($5 IS NULL OR id < $5) ORDER BY id DESC LIMIT $6"
        ))
        .bind(org.to_string())
        .bind(filter.action.clone())
        .bind(filter.resource_id.clone())
        .bind(filter.actor_id.clone())
        .bind(cursor.map(str::to_owned))
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.pool)
        .await?;
        let mut items = rows.iter().map(audit_row).collect::<Result<Vec<_>>>()?;
        let next_cursor = page_cursor(&mut items, limit, |e| e.id.to_string());
        Ok(Page { items, next_cursor })
    }
}

fn principal_row(row: &AnyRow) -> Result<Principal> {
    let kind: String = row.try_get("kind")?;
    Ok(Principal {
        id: PrincipalId::from_trusted(row.try_get("id")?),
        org_id: OrgId::from_trusted(row.try_get("org_id")?),
        kind: PrincipalKind::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("principal kind {kind}")))?,
        name: row.try_get("name")?,
        created_at: from_millis(row.try_get("created_at")?)?,
    })
}

fn assignment_row(row: &AnyRow) -> Result<RoleAssignment> {
    Ok(RoleAssignment {
        id: RoleAssignmentId::from_trusted(row.try_get("id")?),
        org_id: OrgId::from_trusted(row.try_get("org_id")?),
        principal_id: PrincipalId::from_trusted(row.try_get("principal_id")?),
        role: row.try_get("role")?,
        integration_id: row
            .try_get::<Option<String>, _>("integration_id")?
            .map(IntegrationId::from_trusted),
        created_at: from_millis(row.try_get("created_at")?)?,
    })
}

fn audit_row(row: &AnyRow) -> Result<AuditEntry> {
    Ok(AuditEntry {
        id: AuditId::from_trusted(row.try_get("id")?),
        org_id: OrgId::from_trusted(row.try_get("org_id")?),
        at: from_millis(row.try_get("at")?)?,
        actor_id: row.try_get("actor_id")?,
        token_id: row.try_get("token_id")?,
        source: row.try_get("source")?,
        action: row.try_get("action")?,
        resource_type: row.try_get("resource_type")?,
        resource_id: row.try_get("resource_id")?,
        details: row
            .try_get::<Option<String>, _>("details")?
            .map(|raw| {
                serde_json::from_str(&raw)
                    .map_err(|e| StoreError::Corrupt(format!("audit details: {e}")))
            })
            .transpose()?,
    })
}

impl Store {
    /// Makes sure `org` has a user `name` holding the Owner role, and stores a token for it:
    /// the bootstrap of a fresh installation or organisation. Safe to race with itself.
    pub async fn create_owner_token(
        &self,
        org: &OrgId,
        name: &str,
        token_hash: &str,
    ) -> Result<PrincipalId> {
        let principal = Principal {
            id: PrincipalId::generate(),
            org_id: org.clone(),
            kind: PrincipalKind::User,
            name: name.to_owned(),
            created_at: Utc::now(),
        };
        let principal_id = match self.insert_principal(&principal).await {
            Ok(()) => principal.id,
            Err(StoreError::Conflict(_)) => {
                self.find_principal(org, PrincipalKind::User, name)
                    .await?
                    .ok_or_else(|| StoreError::Corrupt("owner principal vanished".into()))?
                    .id
            }
            Err(other) => return Err(other),
        };
        let assignment = RoleAssignment {
            id: RoleAssignmentId::generate(),
            org_id: org.clone(),
            principal_id: principal_id.clone(),
            role: OrgRole::Owner.as_str().to_owned(),
            integration_id: None,
            created_at: Utc::now(),
        };
        match self.insert_role_assignment(&assignment).await {
            Ok(()) | Err(StoreError::Conflict(_)) => {}
            Err(other) => return Err(other),
        }
        self.insert_token(&crate::NewToken {
            org,
            principal: &principal_id,
            name: "bootstrap",
            token_hash,
            expires_at: None,
        })
        .await?;
        Ok(principal_id)
    }
}
