//! The delivery queue. A claim moves `next_attempt_at` to the lease expiry and records the
//! claimer in `lease_owner`: if the claimer dies, the row simply becomes due again when the
//! lease runs out, and a late result from a lost lease is discarded (fencing by owner).

use chrono::{DateTime, Utc};
use herald_domain::{
    Attempt, AttemptOutcome, Delivery, DeliveryId, DeliveryStatus, EventId, IntegrationId, Kind,
    OrgId,
};
use sqlx::any::AnyRow;
use sqlx::Row;
use std::time::Duration;

use crate::direct::Durability;
use crate::integrations::page_cursor;
use crate::time::{from_millis, opt_from_millis, to_millis};
use crate::{Backend, Page, Result, Store, StoreError};

/// What a claim returns: only what [`ClaimedDelivery`] holds. Every column a claim returns is
/// copied once more per row by the driver, and the rest (the last error, say) can be long.
const CLAIMED_COLUMNS: &str = "id, org_id, event_id, integration_id, integration_name, kind, destination, \
                               attempt_count, cycle_attempts, lease_owner, correlation_key, carried_by, external_id";

/// A delivery `d`'s columns, with the type and title of its event `e`, for the log.
const LISTED_COLUMNS: &str = "d.id, d.org_id, d.event_id, d.integration_id, d.integration_name, d.kind, \
                              d.destination, d.status, d.attempt_count, d.cycle_attempts, d.next_attempt_at, \
                              d.last_status_code, d.last_error, d.external_id, d.created_at, d.updated_at, \
                              d.correlation_key, d.carried_by, d.replayed, d.replay_of, e.event_type, \
                              e.title AS event_title";

/// True for a delivery `d` with no unfinished predecessor in its chain: deliveries of one
/// integration and destination that share a correlation key go out one at a time, in order.
const CHAIN_HEAD: &str = "(d.correlation_key IS NULL OR NOT EXISTS (SELECT 1 FROM deliveries p \
    WHERE p.integration_id = d.integration_id AND p.destination = d.destination \
    AND p.correlation_key = d.correlation_key AND p.id < d.id AND p.next_attempt_at IS NOT NULL))";

/// True for a delivery `d` whose integration is not paused: a paused integration's
/// deliveries wait in the queue, untried, until it is resumed.
const NOT_PAUSED: &str =
    "d.integration_id NOT IN (SELECT i.id FROM integrations i WHERE i.paused_at IS NOT NULL)";

/// A delivery a worker now holds the lease on.
#[derive(Debug, Clone)]
pub struct ClaimedDelivery {
    pub id: DeliveryId,
    pub org_id: OrgId,
    pub event_id: EventId,
    pub integration_id: IntegrationId,
    pub integration_name: String,
    pub kind: Kind,
    pub destination: String,
    pub attempt_count: u32,
    /// Attempts since the delivery was last (re-)queued: the index into the retry schedule.
    pub cycle_attempts: u32,
    /// Identifies this claim; only a result carrying it is recorded.
    pub lease_token: String,
    pub correlation_key: Option<String>,
    /// The integration event (or attachment) that carried it.
    pub carried_by: Option<String>,
    /// An id the destination gave an earlier attempt of this delivery.
    pub external_id: Option<String>,
}

/// Deliveries a claim passes over: those of busy destinations (an integration and its
/// resolved destination, `''` for its own) and of busy organisations.
#[derive(Debug, Clone, Default)]
pub struct ClaimFilter {
    pub destinations: Vec<(IntegrationId, String)>,
    pub orgs: Vec<OrgId>,
}

impl ClaimFilter {
    pub fn is_empty(&self) -> bool {
        self.destinations.is_empty() && self.orgs.is_empty()
    }

    /// The conditions on `d`, numbering their parameters from `$first`.
    fn sql(&self, first: usize) -> String {
        let mut sql = String::new();
        let mut next = first;
        for _ in &self.destinations {
            sql.push_str(&format!(
                " AND NOT (d.integration_id = ${} AND d.destination = ${})",
                next,
                next + 1
            ));
            next += 2;
        }
        if !self.orgs.is_empty() {
            sql.push_str(&format!(
                " AND d.org_id NOT IN ({})",
                crate::placeholders(next, self.orgs.len())
            ));
        }
        sql
    }

    fn bind<'q>(
        &self,
        mut query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
        for (integration, destination) in &self.destinations {
            query = query
                .bind(integration.to_string())
                .bind(destination.clone());
        }
        for org in &self.orgs {
            query = query.bind(org.to_string());
        }
        query
    }
}

/// How an attempt ended, as the engine decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResultKind {
    Delivered {
        external_id: Option<String>,
    },
    RetryAt(DateTime<Utc>),
    Failed,
    /// The receiver asked for no more attempts of this message: it ends failed, and the
    /// attempt is logged as `aborted`.
    Aborted,
    /// Not attempted: the destination is rate limited or paused until then. No attempt is
    /// logged and the retry schedule does not advance.
    Deferred(DateTime<Utc>),
}

/// One finished attempt to record.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub delivery_id: DeliveryId,
    /// The claim the attempt was made under.
    pub lease_token: String,
    /// The delivery's attempt count after this attempt (its claimed count plus one).
    pub attempt_number: u32,
    pub started_at: DateTime<Utc>,
    pub duration: Duration,
    pub result: ResultKind,
    pub status_code: Option<u16>,
    /// Already truncated and scrubbed of secrets.
    pub response_excerpt: Option<String>,
    /// Already scrubbed of secrets.
    pub error: Option<String>,
    /// An id the destination gave although the attempt did not finish (an issue created, then
    /// a later step failed): kept, so the retry continues from it.
    pub external_id: Option<String>,
    /// The delivery belongs to a correlation chain: once it ends, a follow-up may be due.
    pub chained: bool,
}

#[derive(Debug, Default, Clone)]
pub struct DeliveryFilter {
    pub integration_id: Option<IntegrationId>,
    pub event_id: Option<EventId>,
    pub status: Option<DeliveryStatus>,
    pub correlation_key: Option<String>,
    /// The type of the delivered event. Events keep the type they were sent with, so a preset's
    /// id and its alias (a scanner's short name) match each other.
    pub event_type: Option<String>,
    /// Deliveries created at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Deliveries created before this time.
    pub until: Option<DateTime<Utc>>,
}

#[derive(Debug, thiserror::Error)]
pub enum RequeueError {
    #[error("delivery not found")]
    NotFound,
    #[error("only failed deliveries can be re-queued; this one is {0}")]
    NotFailed(&'static str),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Store {
    /// Claims up to `limit` due deliveries for `owner` until `now + lease`. Each claim gets its
    /// own lease token, so a result from an earlier claim of the same owner is fenced off too.
    pub async fn claim_due(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<ClaimedDelivery>> {
        self.claim_due_except(owner, now, lease, limit, &ClaimFilter::default())
            .await
    }

    /// As [`Store::claim_due`], passing over the destinations and organisations in `skip`
    /// (those already at their share of this process's workers), so their backlog is neither
    /// claimed nor left waiting under a lease.
    pub async fn claim_due_except(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        lease: Duration,
        limit: u32,
        skip: &ClaimFilter,
    ) -> Result<Vec<ClaimedDelivery>> {
        // SQLite runs one writer at a time, so the sub-select cannot race; PostgreSQL needs the
        // row locks, skipping rows another instance is claiming right now.
        let lock = match self.backend {
            Backend::Sqlite => "",
            Backend::Postgres => "FOR UPDATE SKIP LOCKED",
        };
        let skipped = skip.sql(5);
        let sql = format!(
            "UPDATE deliveries SET next_attempt_at = $1, lease_owner = $2 WHERE id IN ( \
               SELECT d.id FROM deliveries d WHERE d.next_attempt_at IS NOT NULL AND d.next_attempt_at <= $3 \
               AND {CHAIN_HEAD} AND {NOT_PAUSED}{skipped} ORDER BY d.next_attempt_at LIMIT $4 {lock}) \
             RETURNING {CLAIMED_COLUMNS}"
        );
        let lease_end = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX);
        if self.backend == Backend::Sqlite {
            return self
                .claim_on_sqlite(
                    &sql,
                    to_millis(lease_end),
                    &lease_token(owner),
                    now,
                    limit,
                    skip,
                )
                .await;
        }
        let query = sqlx::query(&sql)
            .bind(to_millis(lease_end))
            .bind(lease_token(owner))
            .bind(to_millis(now))
            .bind(i64::from(limit));
        // The claims' own connection; another instance's claims skip the rows it is claiming.
        let rows = self.claims.fetch_all(skip.bind(query)).await?;
        rows.iter().map(claimed_row).collect()
    }

    /// A claim on SQLite's writer, through its own API (see `direct`).
    async fn claim_on_sqlite(
        &self,
        sql: &str,
        lease_end: i64,
        token: &str,
        now: DateTime<Utc>,
        limit: u32,
        skip: &ClaimFilter,
    ) -> Result<Vec<ClaimedDelivery>> {
        // `?N` binds the Nth value, wherever it stands in the text.
        let sql = sql.replace('$', "?");
        let (now, limit) = (to_millis(now), i64::from(limit));
        let skipped: Vec<String> = skip
            .destinations
            .iter()
            .flat_map(|(integration, destination)| [integration.to_string(), destination.clone()])
            .chain(skip.orgs.iter().map(OrgId::to_string))
            .collect();
        self.sqlite_transaction(Durability::UntilNextSync, |tx| {
            let mut values: Vec<&dyn rusqlite::ToSql> = vec![&lease_end, &token, &now, &limit];
            values.extend(skipped.iter().map(|value| value as &dyn rusqlite::ToSql));
            crate::direct::claim(tx, &sql, &values)
        })
        .await
    }

    /// Records finished attempts in one transaction (on PostgreSQL one statement: see
    /// `results_postgres`; on SQLite see `direct`).
    /// A result whose lease was lost meanwhile (another worker claimed the delivery) is dropped.
    /// Returns how many were recorded.
    pub async fn record_results(&self, records: &[AttemptRecord]) -> Result<usize> {
        if records.is_empty() {
            return Ok(0);
        }
        if self.backend == crate::Backend::Postgres {
            return self.record_results_in_one_statement(records).await;
        }
        self.sqlite_transaction(Durability::UntilNextSync, |tx| {
            crate::direct::record_results(tx, records)
        })
        .await
    }

    /// The external id a follow-up continues from: the one an earlier attempt of this delivery
    /// got, or else the first one any earlier delivery of its chain got.
    pub async fn chain_prior(&self, delivery: &ClaimedDelivery) -> Result<Option<String>> {
        if delivery.external_id.is_some() {
            return Ok(delivery.external_id.clone());
        }
        let Some(key) = &delivery.correlation_key else {
            return Ok(None);
        };
        let row = sqlx::query(
            "SELECT external_id FROM deliveries WHERE integration_id = $1 AND destination = $2 \
             AND correlation_key = $3 AND id < $4 AND external_id IS NOT NULL ORDER BY id LIMIT 1",
        )
        .bind(delivery.integration_id.to_string())
        .bind(delivery.destination.clone())
        .bind(key.clone())
        .bind(delivery.id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some(row) => row.try_get("external_id")?,
            None => None,
        })
    }

    /// When the earliest unfinished delivery is due, if any.
    pub async fn next_due_at(&self) -> Result<Option<DateTime<Utc>>> {
        self.next_due_at_except(&ClaimFilter::default()).await
    }

    /// When the earliest unfinished delivery outside `skip` is due, if any.
    pub async fn next_due_at_except(&self, skip: &ClaimFilter) -> Result<Option<DateTime<Utc>>> {
        let sql = format!(
            "SELECT MIN(d.next_attempt_at) AS due FROM deliveries d \
             WHERE d.next_attempt_at IS NOT NULL AND {CHAIN_HEAD} AND {NOT_PAUSED}{}",
            skip.sql(1)
        );
        let row = skip.bind(sqlx::query(&sql)).fetch_one(&self.pool).await?;
        opt_from_millis(row.try_get("due")?)
    }

    /// Newest first.
    pub async fn list_deliveries(
        &self,
        org: &OrgId,
        filter: &DeliveryFilter,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page<Delivery>> {
        let type_id = filter
            .event_type
            .as_deref()
            .map(|t| herald_domain::catalogue::canonical(t).to_owned());
        let type_alias = type_id
            .as_deref()
            .and_then(herald_domain::catalogue::preset)
            .and_then(|p| p.def.aliases.first().cloned());
        // Only the filters given become conditions, so that the database can use the index
        // that fits them (`($n IS NULL OR column = $n)` hides it from SQLite's planner).
        enum Bind {
            Text(String),
            Int(i64),
        }
        // An event's few deliveries come through its own index, as in
        // [`crate::recovery::ORIGINAL_DELIVERIES`], not through a walk of the organisation's log.
        let org_condition = match filter.event_id {
            Some(_) => "(d.org_id || '') = $1",
            None => "d.org_id = $1",
        };
        let mut conditions = vec![org_condition.to_owned()];
        let mut binds = vec![Bind::Text(org.to_string())];
        let mut condition = |sql: &str, values: Vec<Bind>| {
            let mut sql = sql.to_owned();
            for value in values {
                binds.push(value);
                sql = sql.replacen('?', &format!("${}", binds.len()), 1);
            }
            conditions.push(sql);
        };
        if let Some(id) = &filter.integration_id {
            condition("d.integration_id = ?", vec![Bind::Text(id.to_string())]);
        }
        if let Some(id) = &filter.event_id {
            condition("d.event_id = ?", vec![Bind::Text(id.to_string())]);
        }
        if let Some(status) = filter.status {
            condition("d.status = ?", vec![Bind::Text(status.as_str().to_owned())]);
        }
        if let Some(key) = &filter.correlation_key {
            condition("d.correlation_key = ?", vec![Bind::Text(key.clone())]);
        }
        if let Some(cursor) = cursor {
            condition("d.id < ?", vec![Bind::Text(cursor.to_owned())]);
        }
        if let Some(type_id) = type_id {
            let alias = type_alias.unwrap_or_else(|| type_id.clone());
            condition(
                "(e.event_type = ? OR e.event_type = ?)",
                vec![Bind::Text(type_id), Bind::Text(alias)],
            );
        }
        if let Some(since) = filter.since {
            condition("d.created_at >= ?", vec![Bind::Int(to_millis(since))]);
        }
        if let Some(until) = filter.until {
            condition("d.created_at < ?", vec![Bind::Int(to_millis(until))]);
        }
        let sql = format!(
            "SELECT {LISTED_COLUMNS} FROM deliveries d LEFT JOIN events e ON e.id = d.event_id \
             WHERE {} ORDER BY d.id DESC LIMIT {}",
            conditions.join(" AND "),
            i64::from(limit) + 1
        );
        let mut query = sqlx::query(&sql);
        for value in binds {
            query = match value {
                Bind::Text(text) => query.bind(text),
                Bind::Int(number) => query.bind(number),
            };
        }
        let rows = query.fetch_all(&self.pool).await?;
        let mut items = rows
            .iter()
            .map(listed_delivery_row)
            .collect::<Result<Vec<_>>>()?;
        let next_cursor = page_cursor(&mut items, limit, |d| d.id.to_string());
        Ok(Page { items, next_cursor })
    }

    pub async fn get_delivery(
        &self,
        org: &OrgId,
        id: &DeliveryId,
    ) -> Result<Option<(Delivery, Vec<Attempt>)>> {
        let row = sqlx::query(&format!(
            "SELECT {LISTED_COLUMNS} FROM deliveries d LEFT JOIN events e ON e.id = d.event_id \
             WHERE d.id = $1 AND d.org_id = $2"
        ))
        .bind(id.to_string())
        .bind(org.to_string())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let delivery = listed_delivery_row(&row)?;
        let attempts = sqlx::query(
            "SELECT attempt_number, started_at, duration_ms, outcome, status_code, response_excerpt, error \
             FROM attempts WHERE delivery_id = $1 ORDER BY attempt_number",
        )
        .bind(id.to_string())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(attempt_row)
        .collect::<Result<Vec<_>>>()?;
        Ok(Some((delivery, attempts)))
    }

    /// Puts a failed delivery back in the queue, due now, with a fresh retry budget.
    pub async fn requeue_failed(
        &self,
        org: &OrgId,
        id: &DeliveryId,
        now: DateTime<Utc>,
    ) -> Result<(), RequeueError> {
        let updated = sqlx::query(
            "UPDATE deliveries SET status = 'pending', next_attempt_at = $1, cycle_attempts = 0, lease_owner = NULL, \
             updated_at = $1 WHERE id = $2 AND org_id = $3 AND status = 'failed'",
        )
        .bind(to_millis(now))
        .bind(id.to_string())
        .bind(org.to_string())
        .execute(&self.pool)
        .await
        .map_err(StoreError::from)?
        .rows_affected();
        if updated == 1 {
            return Ok(());
        }
        match self.get_delivery(org, id).await? {
            None => Err(RequeueError::NotFound),
            Some((delivery, _)) => Err(RequeueError::NotFailed(delivery.status.as_str())),
        }
    }
}

pub(crate) fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

fn count(row: &AnyRow, column: &str) -> Result<u32> {
    let value: i64 = row.try_get(column)?;
    u32::try_from(value).map_err(|_| StoreError::Corrupt(format!("{column} = {value}")))
}

fn status_code(raw: Option<i64>) -> Option<u16> {
    raw.and_then(|c| u16::try_from(c).ok())
}

fn kind(row: &AnyRow) -> Result<Kind> {
    let raw: String = row.try_get("kind")?;
    Kind::parse(&raw).ok_or_else(|| StoreError::Corrupt(format!("kind {raw}")))
}

fn claimed_row(row: &AnyRow) -> Result<ClaimedDelivery> {
    Ok(ClaimedDelivery {
        id: DeliveryId::from_trusted(row.try_get("id")?),
        org_id: OrgId::from_trusted(row.try_get("org_id")?),
        event_id: EventId::from_trusted(row.try_get("event_id")?),
        integration_id: IntegrationId::from_trusted(row.try_get("integration_id")?),
        integration_name: row.try_get("integration_name")?,
        kind: kind(row)?,
        destination: row.try_get("destination")?,
        attempt_count: count(row, "attempt_count")?,
        cycle_attempts: count(row, "cycle_attempts")?,
        lease_token: row.try_get("lease_owner")?,
        correlation_key: row.try_get("correlation_key")?,
        carried_by: row.try_get("carried_by")?,
        external_id: row.try_get("external_id")?,
    })
}

/// A lease token: the owner (one per process) and a part unique to this claim.
pub fn lease_token(owner: &str) -> String {
    format!("{owner}/{}", uuid::Uuid::now_v7().simple())
}

fn delivery_row(row: &AnyRow) -> Result<Delivery> {
    let status: String = row.try_get("status")?;
    Ok(Delivery {
        id: DeliveryId::from_trusted(row.try_get("id")?),
        event_id: EventId::from_trusted(row.try_get("event_id")?),
        integration_id: IntegrationId::from_trusted(row.try_get("integration_id")?),
        integration_name: row.try_get("integration_name")?,
        kind: kind(row)?,
        status: DeliveryStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("status {status}")))?,
        attempt_count: count(row, "attempt_count")?,
        next_attempt_at: opt_from_millis(row.try_get("next_attempt_at")?)?,
        last_status_code: status_code(row.try_get("last_status_code")?),
        last_error: row.try_get("last_error")?,
        external_id: row.try_get("external_id")?,
        created_at: from_millis(row.try_get("created_at")?)?,
        updated_at: from_millis(row.try_get("updated_at")?)?,
        replay: row.try_get::<i64, _>("replayed")? != 0,
        replay_of: row
            .try_get::<Option<String>, _>("replay_of")?
            .map(DeliveryId::from_trusted),
        event_type: None,
        event_title: None,
    })
}

/// A row of [`LISTED_COLUMNS`].
fn listed_delivery_row(row: &AnyRow) -> Result<Delivery> {
    Ok(Delivery {
        event_type: row.try_get("event_type")?,
        event_title: row.try_get("event_title")?,
        ..delivery_row(row)?
    })
}

fn attempt_row(row: &AnyRow) -> Result<Attempt> {
    let outcome: String = row.try_get("outcome")?;
    let duration: i64 = row.try_get("duration_ms")?;
    Ok(Attempt {
        number: count(row, "attempt_number")?,
        started_at: from_millis(row.try_get("started_at")?)?,
        duration_ms: u64::try_from(duration).unwrap_or_default(),
        outcome: AttemptOutcome::parse(&outcome)
            .ok_or_else(|| StoreError::Corrupt(format!("outcome {outcome}")))?,
        status_code: status_code(row.try_get("status_code")?),
        response_excerpt: row.try_get("response_excerpt")?,
        error: row.try_get("error")?,
    })
}

pub(crate) struct Applied<'a> {
    pub(crate) status: DeliveryStatus,
    pub(crate) next_attempt_at: Option<i64>,
    pub(crate) external_id: Option<&'a str>,
    pub(crate) outcome: AttemptOutcome,
}

pub(crate) fn applied(record: &AttemptRecord) -> Applied<'_> {
    let progress = record.external_id.as_deref();
    match &record.result {
        ResultKind::Delivered { external_id } => Applied {
            status: DeliveryStatus::Success,
            next_attempt_at: None,
            external_id: external_id.as_deref().or(progress),
            outcome: AttemptOutcome::Delivered,
        },
        ResultKind::RetryAt(at) => Applied {
            status: DeliveryStatus::Retrying,
            next_attempt_at: Some(to_millis(*at)),
            external_id: progress,
            outcome: AttemptOutcome::Retry,
        },
        ResultKind::Aborted => Applied {
            status: DeliveryStatus::Failed,
            next_attempt_at: None,
            external_id: progress,
            outcome: AttemptOutcome::Aborted,
        },
        ResultKind::Failed | ResultKind::Deferred(_) => Applied {
            status: DeliveryStatus::Failed,
            next_attempt_at: None,
            external_id: progress,
            outcome: AttemptOutcome::Failed,
        },
    }
}
