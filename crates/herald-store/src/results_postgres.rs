//! Recording a batch of results on PostgreSQL in one statement.
//!
//! The same reason as `events_postgres`: a transaction of BEGIN, two statements and COMMIT is
//! four round trips, each a wait for Herald's turn on a busy machine. Here the rows travel as
//! one array per column, in the binary protocol (see `writer`), and every sub-statement sees
//! the deliveries as they were before the statement, so the attempts are logged only where the
//! claim is still current, as the two statements did in that order. The statement runs on the
//! results' own connection, which keeps one plan, made with scans and the other joins ruled out
//! (see `Store::connect`): a plan kept from while `deliveries` was small would join it by a
//! full scan.

use sqlx::Row;

use crate::deliveries::{applied, millis, AttemptRecord, ResultKind};
use crate::time::to_millis;
use crate::{Result, Store, StoreError};

/// Deferrals move their deliveries and end the claims; results log their attempts and apply
/// to their deliveries. Only rows whose claim is still current count: a stale result (another
/// worker claimed the delivery meanwhile) neither logs nor applies. Gives how many counted.
pub(crate) const RECORD_RESULTS: &str = "WITH deferral AS ( \
    SELECT * FROM unnest($1::text[], $2::text[], $3::int8[]) AS x (id, lease, next_attempt_at)), \
  result AS ( \
    SELECT * FROM unnest($4::text[], $5::text[], $6::text[], $7::int8[], $8::int8[], \
      $9::int8[], $10::text[], $11::text[], $12::int8[], $13::text[], $14::int8[], \
      $15::int8[], $16::text[], $17::text[]) AS r (id, lease, status, next_attempt_at, \
      attempt_number, status_code, error, external_id, updated_at, attempt_id, started_at, \
      duration_ms, outcome, response_excerpt)), \
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

/// Deferrals, one array per column.
#[derive(Default)]
struct DeferralColumns<'a> {
    id: Vec<&'a str>,
    lease: Vec<&'a str>,
    next_attempt_at: Vec<i64>,
}

/// Results, one array per column.
#[derive(Default)]
struct ResultColumns<'a> {
    id: Vec<&'a str>,
    lease: Vec<&'a str>,
    status: Vec<&'static str>,
    next_attempt_at: Vec<Option<i64>>,
    attempt_number: Vec<i64>,
    status_code: Vec<Option<i64>>,
    error: Vec<Option<&'a str>>,
    external_id: Vec<Option<&'a str>>,
    updated_at: Vec<i64>,
    attempt_id: Vec<String>,
    started_at: Vec<i64>,
    duration_ms: Vec<i64>,
    outcome: Vec<&'static str>,
    response_excerpt: Vec<Option<&'a str>>,
}

impl Store {
    /// [`Store::record_results`] on PostgreSQL.
    pub(crate) async fn record_results_in_one_statement(
        &self,
        records: &[AttemptRecord],
    ) -> Result<usize> {
        let mut deferrals = DeferralColumns::default();
        let mut results = ResultColumns::default();
        for record in records {
            match record.result {
                ResultKind::Deferred(at) => deferrals.push(record, at),
                _ => results.push(record),
            }
        }
        let query = sqlx::query(RECORD_RESULTS)
            .bind(deferrals.id)
            .bind(deferrals.lease)
            .bind(deferrals.next_attempt_at)
            .bind(results.id)
            .bind(results.lease)
            .bind(results.status)
            .bind(results.next_attempt_at)
            .bind(results.attempt_number)
            .bind(results.status_code)
            .bind(results.error)
            .bind(results.external_id)
            .bind(results.updated_at)
            .bind(results.attempt_id)
            .bind(results.started_at)
            .bind(results.duration_ms)
            .bind(results.outcome)
            .bind(results.response_excerpt);
        let rows = self.results.fetch_all_native(query).await?;
        let recorded: i64 = rows
            .first()
            .ok_or_else(|| StoreError::Corrupt("recording results returned no count".into()))?
            .try_get("recorded")?;
        Ok(recorded as usize)
    }
}

impl<'a> DeferralColumns<'a> {
    fn push(&mut self, record: &'a AttemptRecord, at: chrono::DateTime<chrono::Utc>) {
        self.id.push(record.delivery_id.as_str());
        self.lease.push(&record.lease_token);
        self.next_attempt_at.push(to_millis(at));
    }
}

impl<'a> ResultColumns<'a> {
    fn push(&mut self, record: &'a AttemptRecord) {
        let applied = applied(record);
        self.id.push(record.delivery_id.as_str());
        self.lease.push(&record.lease_token);
        self.status.push(applied.status.as_str());
        self.next_attempt_at.push(applied.next_attempt_at);
        self.attempt_number.push(i64::from(record.attempt_number));
        self.status_code.push(record.status_code.map(i64::from));
        self.error.push(record.error.as_deref());
        self.external_id.push(applied.external_id);
        self.updated_at
            .push(to_millis(record.started_at) + millis(record.duration));
        self.attempt_id
            .push(herald_domain::AttemptId::generate().to_string());
        self.started_at.push(to_millis(record.started_at));
        self.duration_ms.push(millis(record.duration));
        self.outcome.push(applied.outcome.as_str());
        self.response_excerpt
            .push(record.response_excerpt.as_deref());
    }
}
