use chrono::Utc;
use herald_domain::OrgId;
use sqlx::Row;

use crate::{time::to_millis, Result, Store};

impl Store {
    /// The id of the organisation with this name, creating it if needed.
    pub async fn ensure_org(&self, name: &str) -> Result<OrgId> {
        sqlx::query("INSERT INTO organizations (id, name, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING")
            .bind(OrgId::generate().to_string())
            .bind(name)
            .bind(to_millis(Utc::now()))
            .execute(&self.pool)
            .await?;
        let row = sqlx::query("SELECT id FROM organizations WHERE name = $1")
            .bind(name)
            .fetch_one(&self.pool)
            .await?;
        Ok(OrgId::from_trusted(row.try_get("id")?))
    }
}
