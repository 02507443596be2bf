//! Herald's storage: one set of portable SQL over SQLite (embedded default) or PostgreSQL,
//! chosen by the database URL at run time.

mod access;
mod attachments;
mod chain;
mod console;
mod deliveries;
mod demands;
mod direct;
mod event_log;
mod events;
mod events_postgres;
mod gauges;
mod integration_changes;
mod integration_health;
mod integrations;
mod key_rotation;
mod orgs;
mod recovery;
mod results_postgres;
mod retention;
mod scopes;
mod slack;
mod time;
mod tokens;
mod writer;

use std::str::FromStr;
use std::sync::Arc;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, ConnectOptions};

pub use access::{AuditEntry, AuditFilter, MembershipError, Principal, RoleAssignment};
pub use chain::CHAIN_HISTORY_MAX;
pub use console::{ConsoleSession, HourlyDeliveries, LastDelivery, QueueDepth};
pub use deliveries::{
    lease_token, AttemptRecord, ClaimFilter, ClaimedDelivery, DeliveryFilter, RequeueError,
    ResultKind,
};
pub use demands::{DemandFilter, EventTypeRow};
pub use event_log::EventFilter;
pub use events::{EventInsert, InsertedEvent, Lease, NewDelivery, StoredEvent};
pub use gauges::QueueGauges;
pub use integration_changes::{IntegrationChange, IntegrationChanges, INTEGRATIONS_CHANNEL};
pub use integrations::IntegrationRow;
pub use key_rotation::RotationReport;
pub use recovery::{NewReplay, OriginalDelivery, RetryNowError};
pub use retention::Pruned;
pub use scopes::{ScopeDeleteError, ScopeFilter, ScopeRow, SupplyRow};
pub use slack::{
    ApprovalDecision, SlackInstallation, SlackLinkCode, SlackOAuthState, SlackSubscription,
    SlackUserLink,
};
pub use tokens::{NewToken, TokenInfo, TokenRecord};
pub use writer::HeldUse;

/// How long a statement waits for a pooled connection before the store reports itself
/// unavailable.
const ACQUIRE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unsupported database URL (use sqlite:… or postgres://…)")]
    UnsupportedUrl,
    #[error("a row with the same {0} already exists")]
    Conflict(&'static str),
    #[error("database error")]
    Database(#[source] sqlx::Error),
    /// From SQLite's hot writes, which bypass sqlx (see `direct`).
    #[error("database error")]
    Sqlite(#[source] rusqlite::Error),
    #[error("migration failed")]
    Migration(#[source] sqlx::migrate::MigrateError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        StoreError::Database(error)
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        StoreError::Sqlite(error)
    }
}

impl StoreError {
    /// An error about the data of a statement (a constraint, a value the database refuses),
    /// as opposed to the database being unreachable or full: retrying other rows alone may
    /// succeed.
    pub fn is_data_error(&self) -> bool {
        matches!(
            self,
            StoreError::Database(sqlx::Error::Database(_))
                | StoreError::Sqlite(rusqlite::Error::SqliteFailure(..))
        ) && !self.is_unavailable()
    }

    /// The database cannot serve now, whatever the statement: unreachable, shutting down, out
    /// of disk, memory or connections, or busy. The same request may succeed later, so the API
    /// answers 503 and the engine retries, rather than treating it as a fault of the data.
    pub fn is_unavailable(&self) -> bool {
        if let StoreError::Sqlite(rusqlite::Error::SqliteFailure(failure, _)) = self {
            return sqlite_unavailable(failure.extended_code);
        }
        let StoreError::Database(error) = self else {
            return false;
        };
        match error {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::BeginFailed => true,
            sqlx::Error::Database(db) => {
                if let Some(sqlite) = db.try_downcast_ref::<sqlx::sqlite::SqliteError>() {
                    use sqlx::error::DatabaseError;
                    let code = sqlite.code().and_then(|c| c.parse::<i32>().ok());
                    code.is_some_and(sqlite_unavailable)
                } else {
                    // PostgreSQL's SQLSTATE classes: connection exceptions, insufficient
                    // resources (disk full, out of memory, too many connections), operator
                    // intervention (shutdown, cannot connect now), system errors, and
                    // serialization failures and deadlocks, which a retry resolves.
                    db.code().is_some_and(|code| {
                        ["08", "53", "57P", "58", "40001", "40P01"]
                            .iter()
                            .any(|prefix| code.starts_with(prefix))
                    })
                }
            }
            _ => false,
        }
    }
}

/// Whether a SQLite result code (extended or primary) means "not now" rather than "not this".
fn sqlite_unavailable(code: i32) -> bool {
    // The primary code is the low byte of the extended one.
    matches!(
        code & 0xff,
        SQLITE_BUSY
            | SQLITE_LOCKED
            | SQLITE_NOMEM
            | SQLITE_READONLY
            | SQLITE_IOERR
            | SQLITE_FULL
            | SQLITE_CANTOPEN
            | SQLITE_PROTOCOL
    )
}

// SQLite's primary result codes that mean "not now" rather than "not this".
const SQLITE_BUSY: i32 = 5;
const SQLITE_LOCKED: i32 = 6;
const SQLITE_NOMEM: i32 = 7;
const SQLITE_READONLY: i32 = 8;
const SQLITE_IOERR: i32 = 10;
const SQLITE_FULL: i32 = 13;
const SQLITE_CANTOPEN: i32 = 14;
const SQLITE_PROTOCOL: i32 = 15;

/// Turns a unique violation into `Conflict(what)`; any other error stays a database error.
pub(crate) fn conflict_as(what: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |error| match &error {
        sqlx::Error::Database(db) if db.kind() == sqlx::error::ErrorKind::UniqueViolation => {
            StoreError::Conflict(what)
        }
        _ => StoreError::Database(error),
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A page of a newest-first listing; pass `next_cursor` back to get the next page.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    /// Where write transactions run: one connection of its own on SQLite, `pool` on
    /// PostgreSQL. SQLite has one writer at a time: writers take turns for that connection,
    /// queueing in tokio rather than in SQLite's busy handler, which sleeps in coarse, growing
    /// steps. SQLite's hot writes (ingest, results, claims) take the same turn and run on the
    /// writer's second connection, through SQLite's own API (see `direct`).
    writer: writer::Writer,
    /// Where the ingest committer's statement runs on PostgreSQL: a connection of its own
    /// (see `writer` for why). On SQLite the writer, unused.
    ingest: writer::Writer,
    /// Where the result committer's statement runs on PostgreSQL: a connection of its own.
    /// On SQLite the writer, unused.
    results: writer::Writer,
    /// Where claims run on PostgreSQL: a connection of its own whose commits do not wait for
    /// the WAL flush (see `Store::connect`). On SQLite the writer, unused.
    claims: writer::Writer,
    backend: Backend,
    /// Where a change listener connects, on PostgreSQL. Never printed: it may hold a password.
    postgres_url: Option<Arc<str>>,
}

pub(crate) use writer::WriteTx;

/// Opens all of a SQLite pool's connections now, one after another, while nothing else uses
/// the database. Opened later, beside the first connection's work, a new connection now and
/// then failed with "unable to open database file" (SQLITE_CANTOPEN) although no file call
/// failed; a request that needed it got a 503.
async fn open_every_connection(pool: &AnyPool) -> Result<()> {
    let count = pool.options().get_max_connections();
    let mut held = Vec::with_capacity(count as usize);
    for _ in 0..count {
        held.push(pool.acquire().await?);
    }
    Ok(())
}

/// How every pool connects: quick to give up when none is free, never handing out a connection
/// left inside a failed transaction, and on SQLite syncing every commit.
fn pool_options(backend: Backend, max_connections: u32) -> AnyPoolOptions {
    let mut options = AnyPoolOptions::new().max_connections(max_connections);
    if backend == Backend::Sqlite {
        // SQLite's connections are opened once, at start (see `open_every_connection`), and
        // kept: nothing is gained by closing a local file's connection when it idles.
        options = options.idle_timeout(None).max_lifetime(None);
    }
    options
        // Waiting longer for a connection only hangs clients: an API call gets a quick 503
        // with Retry-After instead, and the workers try again on their next round.
        .acquire_timeout(ACQUIRE_TIMEOUT)
        // A connection whose transaction could neither commit nor roll back (SQLite rolls
        // back by itself on a full disk, so the driver's ROLLBACK fails and it still counts
        // the transaction open) would refuse every later BEGIN. Such a connection is closed
        // here, before anyone gets it; the idle check before it has drained its queue.
        .before_acquire(|conn, _| {
            Box::pin(async move {
                use sqlx::Connection;
                let clean = !conn.is_in_transaction();
                if !clean {
                    tracing::warn!(
                        "closing a database connection left inside a failed transaction"
                    );
                }
                Ok(clean)
            })
        })
        .after_connect(move |conn, _| {
            Box::pin(async move {
                if backend == Backend::Sqlite {
                    sqlite_session(conn).await?;
                }
                Ok(())
            })
        })
}

/// Every SQLite connection's settings.
pub(crate) async fn sqlite_session(conn: &mut sqlx::AnyConnection) -> sqlx::Result<()> {
    // FULL syncs the WAL on every commit, so an acknowledged event survives power loss, not
    // just a crash. (A per-connection setting; takes no lock.)
    sqlx::query("PRAGMA synchronous = FULL")
        .execute(&mut *conn)
        .await?;
    // A multi-row insert journals every page it first touches, so that the statement alone
    // can be undone; past 64 KiB that journal went to a temporary file (an open, writes and an
    // unlink per large statement).
    sqlx::query("PRAGMA temp_store = MEMORY")
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The settings of PostgreSQL's results connection (see [`Store::connect`]).
const RESULTS_SESSION: &[&str] = &[
    "SET plan_cache_mode = force_generic_plan",
    "SET enable_seqscan = off",
    "SET enable_hashjoin = off",
    "SET enable_mergejoin = off",
    "SET synchronous_commit = off",
];

impl Store {
    /// Which back-end a database URL names, without connecting.
    pub fn backend_of(url: &str) -> Result<Backend> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(StoreError::UnsupportedUrl)
        }
    }

    /// Connects and runs the migrations. For SQLite the file and its folder are created.
    pub async fn connect(url: &str) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let backend = Self::backend_of(url)?;
        let url = match backend {
            Backend::Sqlite => {
                create_sqlite_parent(url);
                creating_sqlite_url(url)
            }
            Backend::Postgres => url.to_owned(),
        };
        let options = AnyConnectOptions::from_str(&url)?.disable_statement_logging();
        // SQLite has one writer at a time; a few connections let reads overlap with it. Each
        // connection keeps its own page cache and prepared statements, so more of them cost
        // memory without adding throughput.
        let max_connections = match backend {
            Backend::Sqlite => 5,
            Backend::Postgres => 16,
        };
        let pool = pool_options(backend, max_connections)
            .connect_with(options.clone())
            .await?;
        if backend == Backend::Sqlite {
            // WAL lets reads proceed beside the writer. The mode is stored in the database file,
            // so it is set once here, before the pool has any other connection that could hold
            // a lock, rather than on every new connection.
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&pool)
                .await?;
        }
        let (writer, ingest, results, claims) = match backend {
            Backend::Sqlite => {
                let writer = writer::HeldConnection::open(options, backend, &[]).await?;
                (writer.clone(), writer.clone(), writer.clone(), writer)
            }
            Backend::Postgres => (
                writer::Writer::Pool(pool.clone()),
                writer::HeldConnection::open(options.clone(), backend, &[]).await?,
                // One connection runs every result statement, and nothing else. Its one plan
                // is made once and kept: planning it afresh cost about 0.4 ms a statement,
                // 4 µs a result. A plan made while `deliveries` was small would join it by a
                // hash over a full scan, and would serve for good once kept; with scans and
                // the other joins ruled out, the only plan is the one by the primary key,
                // however small the table is when it is made.
                // Its commits do not wait for the WAL flush: a result lost in a crash of the
                // server only makes its delivery go again when the lease runs out, which
                // at-least-once delivery allows (see `direct::Durability` for SQLite's).
                writer::HeldConnection::open(options.clone(), backend, RESULTS_SESSION).await?,
                // A claim lost in a crash of the server leaves its deliveries unleased, to be
                // claimed again: at least once still holds, and the first attempt's result
                // no longer matches the claim, so only one is recorded.
                writer::HeldConnection::open(options, backend, &["SET synchronous_commit = off"])
                    .await?,
            ),
        };
        if backend == Backend::Sqlite {
            open_every_connection(&pool).await?;
        }
        let store = Self {
            pool,
            writer,
            ingest,
            results,
            claims,
            backend,
            postgres_url: (backend == Backend::Postgres).then(|| Arc::from(url.as_str())),
        };
        store.migrate().await?;
        Ok(store)
    }

    /// Brings the schema up to date: the portable migrations, then on PostgreSQL its own
    /// (`migrations_postgres`, numbered from 5000 so the two sets never share a version).
    /// Each set passes over the other's versions in the table of applied migrations.
    async fn migrate(&self) -> Result<()> {
        let postgres = self.backend == Backend::Postgres;
        let mut sets = vec![sqlx::migrate!("./migrations")];
        if postgres {
            sets.push(sqlx::migrate!("./migrations_postgres"));
        }
        for mut set in sets {
            set.set_ignore_missing(postgres);
            set.run(&self.pool).await.map_err(StoreError::Migration)?;
        }
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The connections this process holds outside the pool, for `/metrics`: on PostgreSQL the
    /// ingest and result committers' and the claims' (each opened at its first use), on SQLite
    /// the writer.
    pub fn held_connections(&self) -> HeldUse {
        // On SQLite the four roles share the writer; on PostgreSQL the writer is the pool.
        let held: &[&writer::Writer] = match self.backend {
            Backend::Sqlite => &[&self.writer],
            Backend::Postgres => &[&self.ingest, &self.results, &self.claims],
        };
        held.iter()
            .filter_map(|role| role.held_use())
            .fold(HeldUse::default(), |total, used| HeldUse {
                open: total.open + used.open,
                idle: total.idle + used.idle,
            })
    }

    /// Starts a write transaction (see [`writer::Writer::begin`]).
    pub(crate) async fn begin_write(&self) -> Result<WriteTx> {
        self.writer.begin().await
    }

    /// This process's turn to write, on SQLite, for a write on the shared pool; nothing to wait
    /// for on PostgreSQL.
    pub(crate) async fn write_turn(
        &self,
    ) -> Option<tokio::sync::OwnedMutexGuard<writer::HeldConnection>> {
        self.writer.turn().await
    }

    /// Runs `work` as one write transaction on SQLite's writer, through SQLite's own API (see
    /// `direct`), in this thread once the write turn is ours.
    pub(crate) async fn sqlite_transaction<T>(
        &self,
        durability: crate::direct::Durability,
        work: impl FnOnce(&rusqlite::Transaction<'_>) -> rusqlite::Result<T>,
    ) -> Result<T> {
        let mut turn = self.write_turn().await.expect("SQLite has a write turn");
        let direct = turn
            .direct()
            .expect("SQLite's writer has its direct connection");
        direct.transaction(durability, work)
    }

    pub async fn close(&self) {
        // On SQLite both are the writer, closed below.
        if self.backend == Backend::Postgres {
            self.ingest.close().await;
            self.results.close().await;
            self.claims.close().await;
        }
        self.writer.close().await;
        self.pool.close().await;
    }
}

fn create_sqlite_parent(url: &str) {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return;
    }
    if let Some(parent) = std::path::Path::new(path).parent() {
        // If this fails, connecting fails with the real reason.
        let _ = std::fs::create_dir_all(parent);
    }
}

impl Store {
    /// Runs `select` (a query ending in `WHERE id IN`) over `ids`.
    pub(crate) async fn fetch_by_ids(
        &self,
        select: &str,
        ids: &[String],
    ) -> Result<Vec<sqlx::any::AnyRow>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut rows = Vec::with_capacity(ids.len());
        for chunk in pow2_chunks(ids, 256) {
            let sql = format!("{select} ({})", parameters(self.backend, chunk.len()));
            let mut query = sqlx::query(&sql);
            for id in chunk {
                query = query.bind(id.clone());
            }
            rows.extend(query.fetch_all(&self.pool).await?);
        }
        Ok(rows)
    }
}

/// A SQLite URL that creates its file when missing, unless it names a mode of its own.
fn creating_sqlite_url(url: &str) -> String {
    match url.split_once('?') {
        Some((_, query)) if query.split('&').any(|p| p.starts_with("mode=")) => url.to_owned(),
        Some(_) => format!("{url}&mode=rwc"),
        None => format!("{url}?mode=rwc"),
    }
}

/// `$start, $start+1, …` for `count` values, for IN lists.
pub(crate) fn placeholders(start: usize, count: usize) -> String {
    (start..start + count)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `count` parameters for a statement that has no others and binds them in order: `$1, $2, …`,
/// or on SQLite anonymous `?`s. SQLite resolves each named `$n` by a linear search over the
/// names seen before it, in the parser and again when binding, which made a statement of
/// thousands of parameters quadratic: 40% of Herald's instructions under load went there.
pub(crate) fn parameters(backend: Backend, count: usize) -> String {
    match backend {
        Backend::Sqlite => vec!["?"; count].join(", "),
        Backend::Postgres => placeholders(1, count),
    }
}

/// Splits `items` into runs of at most `max` whose lengths are powers of two, largest first.
/// A multi-row statement then comes in a few sizes only, each prepared once per connection and
/// reused from the statement cache, instead of one new statement (parsed, planned and cached)
/// for every batch size.
pub(crate) fn pow2_chunks<T>(mut items: &[T], max: usize) -> Vec<&[T]> {
    let mut chunks = Vec::new();
    while !items.is_empty() {
        let n = items.len().min(max.max(1));
        let size = 1 << (usize::BITS - 1 - n.leading_zeros());
        let (head, tail) = items.split_at(size);
        chunks.push(head);
        items = tail;
    }
    chunks
}

pub mod testing;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod upgrade_tests;

impl Store {
    /// A round trip to the database, for health checks.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// A small durable write, for readiness: on a full disk SQLite still reads (and so answers
    /// a ping) while every commit fails.
    pub async fn probe_write(&self, now: chrono::DateTime<chrono::Utc>) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE health_probe SET probed_at = $1 WHERE id = 1")
            .bind(time::to_millis(now))
            .execute(&mut *tx)
            .await?;
        tx.commit().await
    }
}

#[cfg(test)]
mod statement_shape_tests {
    use super::*;

    #[test]
    fn chunks_are_powers_of_two_largest_first_and_cover_everything() {
        let items: Vec<usize> = (0..300).collect();
        let sizes: Vec<usize> = pow2_chunks(&items, 256).iter().map(|c| c.len()).collect();
        assert_eq!(sizes, [256, 32, 8, 4]);
        let joined: Vec<usize> = pow2_chunks(&items, 256).concat();
        assert_eq!(joined, items);
        assert!(pow2_chunks::<u8>(&[], 256).is_empty());
        assert_eq!(
            pow2_chunks(&items[..7], 4)
                .iter()
                .map(|c| c.len())
                .collect::<Vec<_>>(),
            [4, 2, 1]
        );
    }

    #[test]
    fn sqlite_gets_anonymous_parameters_and_postgres_numbered_ones() {
        assert_eq!(parameters(Backend::Sqlite, 3), "?, ?, ?");
        assert_eq!(parameters(Backend::Postgres, 3), "$1, $2, $3");
    }
}
