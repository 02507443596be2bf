use chrono::{DateTime, Utc};
use herald_domain::{OrgId, TokenId};
use sqlx::Row;

use crate::time::{opt_from_millis, to_millis};
use crate::{Result, Store};

/// What a presented token resolves to.
#[derive(Debug, Clone)]
pub struct TokenRecord {
    pub id: TokenId,
    pub org_id: OrgId,
    pub role: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl TokenRecord {
    pub fn is_usable(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|at| at > now)
    }
}

impl Store {
    pub async fn count_tokens(&self) -> Result<i64> {
        Ok(sqlx::query("SELECT COUNT(*) AS n FROM api_tokens")
            .fetch_one(&self.pool)
            .await?
            .try_get("n")?)
    }

    /// Stores a token by its hash; the token itself is never stored.
    pub async fn insert_token(
        &self,
        org: &OrgId,
        name: &str,
        token_hash: &str,
        role: &str,
    ) -> Result<TokenId> {
        let id = TokenId::generate();
        sqlx::query(
            "INSERT INTO api_tokens (id, org_id, name, token_hash, role, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id.to_string())
        .bind(org.to_string())
        .bind(name)
        .bind(token_hash)
        .bind(role)
        .bind(to_millis(Utc::now()))
        .execute(&self.pool)
        .await
        .map_err(crate::conflict_as("token"))?;
        Ok(id)
    }

    pub async fn find_token(&self, token_hash: &str) -> Result<Option<TokenRecord>> {
        let row = sqlx::query(
            "SELECT id, org_id, role, expires_at, revoked_at FROM api_tokens WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(TokenRecord {
                id: TokenId::from_trusted(row.try_get("id")?),
                org_id: OrgId::from_trusted(row.try_get("org_id")?),
                role: row.try_get("role")?,
                expires_at: opt_from_millis(row.try_get("expires_at")?)?,
                revoked_at: opt_from_millis(row.try_get("revoked_at")?)?,
            })
        })
        .transpose()
    }
}
