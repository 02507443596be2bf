//! SQLite's hot writes (ingest, results and claims) through SQLite's own API, each transaction
//! run whole in the calling thread.
//!
//! Through sqlx, every statement is a message to its connection's driver thread and an answer
//! back, and every value is copied into the driver's arguments. An ingest transaction (BEGIN,
//! the events, the deliveries, COMMIT) made eight thread hand-offs, and on two busy cores each
//! one waited for its thread's turn: the driver's thread spent more of its time being switched
//! than in SQLite (docs/performance.md, ninth round). Here the committers' thread runs the
//! transaction itself, one row per execution of a statement prepared once and cached, its
//! values bound from the batch without a copy.
//!
//! The connection is the writer's second one, used only under the write turn (see `writer`),
//! so SQLite never sees two writers at once. The general writes (the API's) stay on sqlx: they
//! are few, and each makes this connection read its pages afresh, as SQLite does after another
//! connection wrote.

use std::path::PathBuf;
use std::time::Duration;

use herald_domain::{DeliveryId, DeliveryStatus, EventId, IntegrationId, Kind, OrgId};
use rusqlite::types::Type;
use rusqlite::{params, Connection, OpenFlags, Transaction, TransactionBehavior};
use sqlx::any::AnyConnectOptions;

use crate::deliveries::{applied, millis, AttemptRecord, ClaimedDelivery, ResultKind};
use crate::events::{EventInsert, InsertedEvent, NewDelivery};
use crate::time::to_millis;
use crate::{Result, StoreError};

/// As long as sqlx's own connections wait for a lock (its default).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The writer's connection through SQLite's API, opened again when lost or left inside a
/// failed transaction.
pub(crate) struct DirectConnection {
    connection: Option<Connection>,
    /// The connection's `synchronous` setting now (it opens with `FULL`).
    durability: Durability,
    filename: PathBuf,
    flags: OpenFlags,
}

impl DirectConnection {
    /// Opens the database file that `options` name, with the settings of every connection
    /// (see `sqlite_session`) and sqlx's own defaults: foreign keys enforced, a busy timeout.
    pub(crate) fn open(options: &AnyConnectOptions) -> Result<Self> {
        let sqlite = sqlx::sqlite::SqliteConnectOptions::try_from(options)?;
        let filename = sqlite.get_filename().to_path_buf();
        let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        // sqlx names an in-memory database this way and shares its cache between connections.
        if filename
            .to_string_lossy()
            .starts_with("file:sqlx-in-memory-")
        {
            flags |= OpenFlags::SQLITE_OPEN_MEMORY | OpenFlags::SQLITE_OPEN_SHARED_CACHE;
        }
        let mut direct = Self {
            connection: None,
            durability: Durability::Synced,
            filename,
            flags,
        };
        direct.connection()?;
        Ok(direct)
    }

    fn connect(&self) -> rusqlite::Result<Connection> {
        let connection = Connection::open_with_flags(&self.filename, self.flags)?;
        connection.busy_timeout(BUSY_TIMEOUT)?;
        connection.execute_batch(
            "PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL; PRAGMA temp_store = MEMORY;",
        )?;
        // Every statement below, and a claim's few shapes (by the size of its filter).
        connection.set_prepared_statement_cache_capacity(64);
        // Its writes append at the right edge of each index (ids and times grow), so the pages
        // it needs are few: half a megabyte of cache instead of SQLite's 2 MB default held
        // Herald's memory at 64 clients 2–3 MiB lower, with no loss of throughput measured.
        connection.execute_batch("PRAGMA cache_size = -512")?;
        Ok(connection)
    }

    /// The connection, opened afresh when the last one was lost or is stuck inside a
    /// transaction (on a full disk the rollback itself can fail).
    fn connection(&mut self) -> Result<&mut Connection> {
        if self
            .connection
            .as_ref()
            .is_some_and(|connection| !connection.is_autocommit())
        {
            tracing::warn!("closing a database connection left inside a failed transaction");
            self.connection = None;
        }
        if self.connection.is_none() {
            self.connection = Some(self.connect()?);
            self.durability = Durability::Synced;
        }
        Ok(self.connection.as_mut().expect("opened above"))
    }

    /// Runs `work` in one write transaction, taking the write lock up front (`BEGIN
    /// IMMEDIATE`), and commits it with `durability`. On an error nothing of it stays.
    pub(crate) fn transaction<T>(
        &mut self,
        durability: Durability,
        work: impl FnOnce(&Transaction<'_>) -> rusqlite::Result<T>,
    ) -> Result<T> {
        if durability != self.durability {
            let setting = match durability {
                Durability::Synced => "FULL",
                Durability::UntilNextSync => "NORMAL",
            };
            let switched = self
                .connection()?
                .pragma_update(None, "synchronous", setting);
            if let Err(error) = switched {
                // Opened again, it starts from `FULL`.
                self.connection = None;
                return Err(StoreError::Sqlite(error));
            }
            self.durability = durability;
        }
        let connection = self.connection()?;
        let run = || -> rusqlite::Result<T> {
            let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let done = work(&tx)?;
            tx.commit()?;
            Ok(done)
        };
        // Dropped uncommitted, the transaction rolls back; one that could not is found by the
        // next `connection`.
        run().map_err(StoreError::Sqlite)
    }
}

/// When a commit reaches the disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Durability {
    /// Before the commit returns (`synchronous = FULL`): what an acknowledged event needs.
    Synced,
    /// At the next synced commit or checkpoint (`synchronous = NORMAL`, which in WAL mode
    /// skips only the commit's `fsync`). The commit survives a crash of Herald at once, since
    /// its pages are in the WAL file, and a crash of the machine from the next synced commit
    /// on, since that `fsync`s the same WAL file and so every frame before its own. What a
    /// machine crash can lose meanwhile is a record that a delivery was made or claimed:
    /// the delivery is then made again, which at-least-once delivery allows.
    UntilNextSync,
}

/// Stores a batch of events with their deliveries (see `Store::insert_events`).
pub(crate) fn insert_events(
    tx: &Transaction<'_>,
    batch: &[(EventInsert, Vec<NewDelivery>)],
) -> rusqlite::Result<Vec<InsertedEvent>> {
    let mut event = tx.prepare_cached(
        "INSERT INTO events (id, org_id, event_type, idempotency_key, correlation_key, envelope, \
         received_at, target_id, title) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) \
         ON CONFLICT (org_id, idempotency_key) DO NOTHING",
    )?;
    let mut delivery = tx.prepare_cached(
        "INSERT INTO deliveries (id, org_id, event_id, integration_id, integration_name, kind, \
         destination, status, next_attempt_at, lease_owner, created_at, updated_at, \
         correlation_key, carried_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11, \
         ?12, ?13)",
    )?;
    let mut results = Vec::with_capacity(batch.len());
    for (insert, deliveries) in batch {
        let envelope = serde_json::to_string(&insert.event).expect("events serialise");
        let created = to_millis(insert.received_at);
        let inserted = event.execute(params![
            insert.id.as_str(),
            insert.org_id.as_str(),
            insert.event.event_type,
            insert.idempotency_key,
            insert.event.correlation_key,
            envelope,
            created,
            insert.event.target_id,
            insert.event.title,
        ])?;
        if inserted == 0 {
            // The idempotency key is taken, in the store or earlier in this batch.
            results.push(InsertedEvent::Replayed(holder_of_key(tx, insert)?));
            continue;
        }
        for new in deliveries {
            let (due, owner) = match &new.lease {
                Some(lease) => (to_millis(lease.until), Some(lease.token.as_str())),
                None => (created, None),
            };
            delivery.execute(params![
                new.id.as_str(),
                insert.org_id.as_str(),
                insert.id.as_str(),
                new.integration_id.as_str(),
                new.integration_name,
                new.kind.as_str(),
                new.destination,
                DeliveryStatus::Pending.as_str(),
                due,
                owner,
                created,
                insert.event.correlation_key,
                new.carried_by,
            ])?;
        }
        results.push(InsertedEvent::Created);
    }
    Ok(results)
}

/// The event that holds `insert`'s idempotency key.
fn holder_of_key(tx: &Transaction<'_>, insert: &EventInsert) -> rusqlite::Result<EventId> {
    let mut holder =
        tx.prepare_cached("SELECT id FROM events WHERE org_id = ?1 AND idempotency_key = ?2")?;
    let id = holder.query_row(
        params![insert.org_id.as_str(), insert.idempotency_key],
        |row| row.get(0),
    )?;
    Ok(EventId::from_trusted(id))
}

/// Records finished attempts (see `Store::record_results`); gives how many counted. Each
/// applies only under its delivery's current claim, and only then is its attempt logged.
pub(crate) fn record_results(
    tx: &Transaction<'_>,
    records: &[AttemptRecord],
) -> rusqlite::Result<usize> {
    let mut defer = tx.prepare_cached(
        "UPDATE deliveries SET next_attempt_at = ?3, lease_owner = NULL \
         WHERE id = ?1 AND lease_owner = ?2",
    )?;
    let mut apply = tx.prepare_cached(
        "UPDATE deliveries SET status = ?3, next_attempt_at = ?4, lease_owner = NULL, \
         attempt_count = ?5, cycle_attempts = cycle_attempts + 1, last_status_code = ?6, \
         last_error = ?7, external_id = COALESCE(?8, external_id), updated_at = ?9 \
         WHERE id = ?1 AND lease_owner = ?2",
    )?;
    let mut log = tx.prepare_cached(
        "INSERT INTO attempts (id, delivery_id, attempt_number, started_at, duration_ms, outcome, \
         status_code, response_excerpt, error) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    let mut recorded = 0;
    for record in records {
        let id = record.delivery_id.as_str();
        if let ResultKind::Deferred(at) = record.result {
            recorded += defer.execute(params![id, record.lease_token, to_millis(at)])?;
            continue;
        }
        let applied = applied(record);
        let started_at = to_millis(record.started_at);
        let duration = millis(record.duration);
        let status_code = record.status_code.map(i64::from);
        let attempt_number = i64::from(record.attempt_number);
        if apply.execute(params![
            id,
            record.lease_token,
            applied.status.as_str(),
            applied.next_attempt_at,
            attempt_number,
            status_code,
            record.error,
            applied.external_id,
            started_at + duration,
        ])? == 0
        {
            continue;
        }
        log.execute(params![
            herald_domain::AttemptId::generate().as_str(),
            id,
            attempt_number,
            started_at,
            duration,
            applied.outcome.as_str(),
            status_code,
            record.response_excerpt,
            record.error,
        ])?;
        recorded += 1;
    }
    Ok(recorded)
}

/// Runs a claim (see `Store::claim_due_except`): `sql` numbers its parameters `?1, ?2, …`,
/// and `values` are theirs in that order.
pub(crate) fn claim(
    tx: &Transaction<'_>,
    sql: &str,
    values: &[&dyn rusqlite::ToSql],
) -> rusqlite::Result<Vec<ClaimedDelivery>> {
    let mut claim = tx.prepare_cached(sql)?;
    let rows = claim.query_map(values, claimed)?;
    rows.collect()
}

/// A row of `CLAIMED_COLUMNS`, in their order.
fn claimed(row: &rusqlite::Row<'_>) -> rusqlite::Result<ClaimedDelivery> {
    let kind: String = row.get(5)?;
    let kind = Kind::parse(&kind).ok_or_else(|| {
        let corrupt = StoreError::Corrupt(format!("kind {kind}"));
        rusqlite::Error::FromSqlConversionFailure(5, Type::Text, Box::new(corrupt))
    })?;
    let count = |index: usize| -> rusqlite::Result<u32> {
        let value: i64 = row.get(index)?;
        u32::try_from(value).map_err(|_| rusqlite::Error::IntegralValueOutOfRange(index, value))
    };
    Ok(ClaimedDelivery {
        id: DeliveryId::from_trusted(row.get(0)?),
        org_id: OrgId::from_trusted(row.get(1)?),
        event_id: EventId::from_trusted(row.get(2)?),
        integration_id: IntegrationId::from_trusted(row.get(3)?),
        integration_name: row.get(4)?,
        kind,
        destination: row.get(6)?,
        attempt_count: count(7)?,
        cycle_attempts: count(8)?,
        lease_token: row.get(9)?,
        correlation_key: row.get(10)?,
        carried_by: row.get(11)?,
        external_id: row.get(12)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::sqlite_url;
    use crate::Store;

    async fn sqlite_store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::connect(&sqlite_url(dir.path())).await.unwrap();
        (dir, store)
    }

    #[tokio::test]
    async fn the_direct_connection_opens_fully_synced_and_enforces_foreign_keys() {
        let (_dir, store) = sqlite_store().await;
        let mut turn = store.write_turn().await.unwrap();
        let connection = turn.direct().unwrap().connection().unwrap();
        let pragma = |name: &str| -> String {
            connection
                .query_row(&format!("PRAGMA {name}"), [], |row| {
                    row.get::<_, rusqlite::types::Value>(0)
                })
                .map(|value| match value {
                    rusqlite::types::Value::Integer(n) => n.to_string(),
                    rusqlite::types::Value::Text(text) => text.to_lowercase(),
                    other => format!("{other:?}"),
                })
                .unwrap()
        };
        assert_eq!(pragma("journal_mode"), "wal");
        assert_eq!(pragma("synchronous"), "2", "FULL");
        assert_eq!(pragma("foreign_keys"), "1");
        assert_eq!(pragma("temp_store"), "2", "MEMORY");
        let orphan = connection
            .execute(
                "INSERT INTO attempts (id, delivery_id, attempt_number, started_at, duration_ms, \
                 outcome) VALUES ('a', 'no such delivery', 1, 0, 0, 'delivered')",
                [],
            )
            .map_err(StoreError::Sqlite)
            .unwrap_err();
        assert!(orphan.is_data_error(), "{orphan:?}");
    }

    /// Results and claims skip their commit's `fsync`; the next ingest, which acknowledges
    /// events, must sync again (and with it every frame before its own).
    #[tokio::test]
    async fn a_transaction_that_may_wait_for_the_next_sync_leaves_the_next_one_synced() {
        let (_dir, store) = sqlite_store().await;
        let mut turn = store.write_turn().await.unwrap();
        let direct = turn.direct().unwrap();
        let setting =
            |tx: &Transaction<'_>| tx.query_row("PRAGMA synchronous", [], |row| row.get(0));
        let unsynced: i64 = direct
            .transaction(Durability::UntilNextSync, setting)
            .unwrap();
        assert_eq!(unsynced, 1, "NORMAL");
        let synced: i64 = direct.transaction(Durability::Synced, setting).unwrap();
        assert_eq!(synced, 2, "FULL");
    }

    #[test]
    fn a_full_disk_or_a_lock_is_unavailable_and_a_constraint_is_about_the_data() {
        let failure = |code| {
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(code),
                None,
            ))
        };
        for code in [
            rusqlite::ffi::SQLITE_FULL,
            rusqlite::ffi::SQLITE_BUSY,
            rusqlite::ffi::SQLITE_IOERR_WRITE,
        ] {
            assert!(failure(code).is_unavailable(), "{code}");
            assert!(!failure(code).is_data_error(), "{code}");
        }
        let unique = failure(rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE);
        assert!(!unique.is_unavailable());
        assert!(unique.is_data_error());
    }
}
