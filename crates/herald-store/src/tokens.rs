use chrono::{DateTime, Utc};
use herald_domain::{OrgId, PrincipalId, TokenId};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::time::{from_millis, opt_from_millis, to_millis};
use crate::{Result, Store};

/// What a presented token resolves to.
#[derive(Debug, Clone)]
pub struct TokenRecord {
    pub id: TokenId,
    pub org_id: OrgId,
    /// Who the token acts as. `None` for a token made before principals existed, which keeps
    /// its `role`.
    pub principal_id: Option<PrincipalId>,
    pub role: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl TokenRecord {
    pub fn is_usable(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|at| at > now)
    }
}

/// A token as listed: never its value or hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    pub id: TokenId,
    pub name: String,
    pub principal_id: Option<PrincipalId>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A token to store, by its hash.
#[derive(Debug, Clone)]
pub struct NewToken<'a> {
    pub org: &'a OrgId,
    pub principal: &'a PrincipalId,
    pub name: &'a str,
    pub token_hash: &'a str,
    pub expires_at: Option<DateTime<Utc>>,
}

impl Store {
    pub async fn count_tokens(&self) -> Result<i64> {
        Ok(sqlx::query("SELECT COUNT(*) AS n FROM api_tokens")
            .fetch_one(&self.pool)
            .await?
            .try_get("n")?)
    }

    /// Stores a token by its hash; the token itself is never stored.
    pub async fn insert_token(&self, new: &NewToken<'_>) -> Result<TokenId> {
        let id = TokenId::generate();
        let _turn = self.write_turn().await;
        sqlx::query(
            "INSERT INTO api_tokens (id, org_id, name, token_hash, role, created_at, expires_at, principal_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(id.to_string())
        .bind(new.org.to_string())
        .bind(new.name.to_owned())
        .bind(new.token_hash.to_owned())
        .bind("principal")
        .bind(to_millis(Utc::now()))
        .bind(new.expires_at.map(to_millis))
        .bind(new.principal.to_string())
        .execute(&self.pool)
        .await
        .map_err(crate::conflict_as("token"))?;
        Ok(id)
    }

    pub async fn find_token(&self, token_hash: &str) -> Result<Option<TokenRecord>> {
        let row = sqlx::query(
            "SELECT id, org_id, principal_id, role, expires_at, revoked_at FROM api_tokens WHERE token_hash = $1",
        )
        .bind(token_hash.to_owned())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(TokenRecord {
                id: TokenId::from_trusted(row.try_get("id")?),
                org_id: OrgId::from_trusted(row.try_get("org_id")?),
                principal_id: row
                    .try_get::<Option<String>, _>("principal_id")?
                    .map(PrincipalId::from_trusted),
                role: row.try_get("role")?,
                expires_at: opt_from_millis(row.try_get("expires_at")?)?,
                revoked_at: opt_from_millis(row.try_get("revoked_at")?)?,
            })
        })
        .transpose()
    }

    /// The organisation's tokens (or one principal's), newest first.
    pub async fn list_tokens(
        &self,
        org: &OrgId,
        principal: Option<&PrincipalId>,
    ) -> Result<Vec<TokenInfo>> {
        let rows = sqlx::query(
            "SELECT id, name, principal_id, created_at, expires_at, revoked_at FROM api_tokens \
             WHERE org_id = $1 AND ($2 IS NULL OR principal_id = $2) ORDER BY id DESC",
        )
        .bind(org.to_string())
        .bind(principal.map(|p| p.to_string()))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(token_info).collect()
    }

    pub async fn get_token(&self, org: &OrgId, id: &TokenId) -> Result<Option<TokenInfo>> {
        let row = sqlx::query(
            "SELECT id, name, principal_id, created_at, expires_at, revoked_at FROM api_tokens \
             WHERE org_id = $1 AND id = $2",
        )
        .bind(org.to_string())
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(token_info).transpose()
    }

    /// Revokes a token; true if it was live.
    pub async fn revoke_token(&self, org: &OrgId, id: &TokenId) -> Result<bool> {
        let _turn = self.write_turn().await;
        let result = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $3 WHERE org_id = $1 AND id = $2 AND revoked_at IS NULL",
        )
        .bind(org.to_string())
        .bind(id.to_string())
        .bind(to_millis(Utc::now()))
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() > 0)
    }
}

fn token_info(row: &AnyRow) -> Result<TokenInfo> {
    Ok(TokenInfo {
        id: TokenId::from_trusted(row.try_get("id")?),
        name: row.try_get("name")?,
        principal_id: row
            .try_get::<Option<String>, _>("principal_id")?
            .map(PrincipalId::from_trusted),
        created_at: from_millis(row.try_get("created_at")?)?,
        expires_at: opt_from_millis(row.try_get("expires_at")?)?,
        revoked_at: opt_from_millis(row.try_get("revoked_at")?)?,
    })
}
