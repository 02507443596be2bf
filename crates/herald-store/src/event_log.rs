//! Reading the event log back: the filtered, newest-first list the API and the console show.

use chrono::{DateTime, Utc};
use herald_domain::{Event, OrgId};
use sqlx::Row;

use crate::events::parse_envelope;
use crate::integrations::page_cursor;
use crate::time::to_millis;
use crate::{Page, Result, Store};

/// What to list; every field left `None` matches everything.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub event_type: Option<String>,
    /// The module or workspace the event is about (its `target_id`).
    pub target_id: Option<String>,
    pub correlation_key: Option<String>,
    /// Received at or after.
    pub since: Option<DateTime<Utc>>,
    /// Received before.
    pub until: Option<DateTime<Utc>>,
}

impl Store {
    /// Events of the organisation, newest first, `limit` per page; the cursor is the last id of
    /// the previous page (ids sort by creation).
    pub async fn list_events(
        &self,
        org: &OrgId,
        filter: &EventFilter,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page<Event>> {
        let rows = sqlx::query(
            "SELECT id, envelope FROM events WHERE org_id = $1 AND ($2 IS NULL OR event_type = $2) \
             AND ($3 IS NULL OR target_id = $3) AND ($4 IS NULL OR correlation_key = $4) \
             AND ($5 IS NULL OR received_at >= $5) AND ($6 IS NULL OR received_at < $6) \
             AND ($7 IS NULL OR id < $7) ORDER BY id DESC LIMIT $8",
        )
        .bind(org.to_string())
        .bind(filter.event_type.clone())
        .bind(filter.target_id.clone())
        .bind(filter.correlation_key.clone())
        .bind(filter.since.map(to_millis))
        .bind(filter.until.map(to_millis))
        .bind(cursor.map(str::to_owned))
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.pool)
        .await?;
        let mut items = rows
            .iter()
            .map(|row| parse_envelope(row.try_get("envelope")?))
            .collect::<Result<Vec<_>>>()?;
        let next_cursor = page_cursor(&mut items, limit, |event| event.id.clone());
        Ok(Page { items, next_cursor })
    }
}
