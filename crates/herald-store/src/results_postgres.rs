//! Recording a batch of results on PostgreSQL in one statement.
//!
//! The same reason as `events_postgres`: a transaction of BEGIN, two statements and COMMIT is
//! four round trips, each a wait for Herald's turn on a busy machine. Here the rows travel as
//! JSON arrays and every sub-statement sees the deliveries as they were before the statement,
//! so the attempts are logged only where the claim is still current, as the two statements
//! did in that order. The statement runs on the results' own connection, which keeps one
//! plan, made with scans and the other joins ruled out (see `Store::connect`): a plan kept
//! from while `deliveries` was small would join it by a full scan.

use serde::Serialize;
use sqlx::Row;

use crate::deliveries::{applied, millis, AttemptRecord, ResultKind};
use crate::events_postgres::json_array;
use crate::time::to_millis;
use crate::{Result, Store, StoreError};

/// Deferrals move their deliveries and end the claims; results log their attempts and apply
/// to their deliveries. Only rows whose claim is still current count: a stale result (another
/// worker claimed the delivery meanwhile) neither logs nor applies. Gives how many counted.
pub(crate) const RECORD_RESULTS: &str = "WITH deferral AS ( \
    SELECT * FROM json_to_recordset($1::json) AS x (id text, lease text, next_attempt_at bigint)), \
  result AS ( \
    SELECT * FROM json_to_recordset($2::json) AS r (id text, lease text, status text, \
      next_attempt_at bigint, attempt_number bigint, status_code bigint, error text, \
      external_id text, updated_at bigint, attempt_id text, started_at bigint, \
      duration_ms bigint, outcome text, response_excerpt text)), \
  deferred AS ( \
    UPDATE deliveries SET next_attempt_at = deferral.next_attempt_at, lease_owner = NULL \
    FROM deferral WHERE deliveries.id = deferral.id AND deliveries.lease_owner = deferral.lease \
    RETURNING 1), \
  logged AS ( \
    INSERT INTO attempts (id, delivery_id, attempt_number, started_at, duration_ms, outcome, \
      status_code, response_excerpt, error) \
    SELECT result.attempt_id, result.id, result.attempt_number, result.started_at, \
      result.duration_ms, result.outcome, result.status_code, result.response_excerpt, \
      result.error \
    FROM result JOIN deliveries ON deliveries.id = result.id \
      AND deliveries.lease_owner = result.lease), \
  applied AS ( \
    UPDATE deliveries SET status = result.status, next_attempt_at = result.next_attempt_at, \
      lease_owner = NULL, attempt_count = result.attempt_number, \
      cycle_attempts = deliveries.cycle_attempts + 1, last_status_code = result.status_code, \
      last_error = result.error, \
      external_id = COALESCE(result.external_id, deliveries.external_id), \
      updated_at = result.updated_at \
    FROM result WHERE deliveries.id = result.id AND deliveries.lease_owner = result.lease \
    RETURNING 1) \
  SELECT (SELECT count(*) FROM deferred) + (SELECT count(*) FROM applied) AS recorded";

#[derive(Serialize)]
struct DeferralRow<'a> {
    id: &'a herald_domain::DeliveryId,
    lease: &'a str,
    next_attempt_at: i64,
}

#[derive(Serialize)]
struct ResultRow<'a> {
    id: &'a herald_domain::DeliveryId,
    lease: &'a str,
    status: &'static str,
    next_attempt_at: Option<i64>,
    attempt_number: u32,
    status_code: Option<u16>,
    error: Option<&'a str>,
    external_id: Option<&'a str>,
    updated_at: i64,
    attempt_id: String,
    started_at: i64,
    duration_ms: i64,
    outcome: &'static str,
    response_excerpt: Option<&'a str>,
}

impl Store {
    /// [`Store::record_results`] on PostgreSQL.
    pub(crate) async fn record_results_in_one_statement(
        &self,
        records: &[AttemptRecord],
    ) -> Result<usize> {
        let mut deferrals = Vec::new();
        let mut results = Vec::with_capacity(records.len());
        for record in records {
            match record.result {
                ResultKind::Deferred(at) => deferrals.push(DeferralRow {
                    id: &record.delivery_id,
                    lease: &record.lease_token,
                    next_attempt_at: to_millis(at),
                }),
                _ => results.push(result_row(record)),
            }
        }
        let query = sqlx::query(RECORD_RESULTS)
            .bind(json_array(&deferrals, deferrals.len() * 128))
            .bind(json_array(&results, results.len() * 512));
        let rows = self.results.fetch_all(query).await?;
        let recorded: i64 = rows
            .first()
            .ok_or_else(|| StoreError::Corrupt("recording results returned no count".into()))?
            .try_get("recorded")?;
        Ok(recorded as usize)
    }
}

fn result_row(record: &AttemptRecord) -> ResultRow<'_> {
    let applied = applied(record);
    ResultRow {
        id: &record.delivery_id,
        lease: &record.lease_token,
        status: applied.status.as_str(),
        next_attempt_at: applied.next_attempt_at,
        attempt_number: record.attempt_number,
        status_code: record.status_code,
        error: record.error.as_deref(),
        external_id: applied.external_id,
        updated_at: to_millis(record.started_at) + millis(record.duration),
        attempt_id: herald_domain::AttemptId::generate().to_string(),
        started_at: to_millis(record.started_at),
        duration_ms: millis(record.duration),
        outcome: applied.outcome.as_str(),
        response_excerpt: record.response_excerpt.as_deref(),
    }
}
