//! Where write transactions run.
//!
//! On PostgreSQL that is any connection of the shared pool (the server orders the writers),
//! except for the two committers, which write one batch at a time on a connection each, and
//! the claims, which run one at a time on a third (the results' and the claims' commits do
//! not wait for the WAL flush: see `Store::connect`). On SQLite it is one connection of its
//! own, behind the write turn, and for the hot writes a second one that SQLite's own API
//! drives (`direct`), behind the same turn.
//!
//! A connection held outside any pool:
//! - on SQLite, only sees its own writes, so it keeps its page cache, where one that another
//!   connection wrote behind discards it and reads the pages again;
//! - is not tested. A pool pings a connection when it hands it out and again when it takes it
//!   back: a round trip each, to SQLite's driver thread or to the server. A write transaction
//!   of four statements made six;
//! - alone runs its committer's statements, which are the largest Herald sends: the driver
//!   keeps each prepared statement's parameter types on every connection that ran it.
//!
//! On PostgreSQL the committers' statements go through the driver's own PostgreSQL connection
//! ([`Writer::fetch_all_native`]), not the generic one: only it binds arrays, which travel in
//! the binary protocol. Their rows used to travel as JSON text, and parsing it twice (to check
//! the `json` value, then to split it into rows) took about 13% of the server's CPU in the
//! end-to-end bench.

use std::borrow::Cow;
use std::sync::Arc;

use sqlx::any::{AnyConnectOptions, AnyRow, AnyTransactionManager};
use sqlx::postgres::{PgArguments, PgConnectOptions, PgConnection, PgRow};
use sqlx::{Any, AnyConnection, AnyPool, ConnectOptions, Connection, Postgres, TransactionManager};
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::{Backend, Result};

/// Whether an error means the connection itself is gone: anything but an answer from the
/// database, or an answer that says the session is over. A server shutting down (SQLSTATE
/// 57P01, class 57P) or a connection exception (class 08) arrives as an answer, and a kept
/// connection would fail the next statement too.
fn connection_lost(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(database) => database
            .code()
            .is_some_and(|code| code.starts_with("08") || code.starts_with("57P")),
        _ => true,
    }
}

/// Connects, as quick to give up as a pool: a server that does not answer gets a 503.
async fn connect_in_time<O>(options: &O) -> Result<O::Connection>
where
    O: ConnectOptions,
    O::Connection: Sized,
{
    let connecting = tokio::time::timeout(crate::ACQUIRE_TIMEOUT, options.connect());
    Ok(connecting.await.map_err(|_| sqlx::Error::PoolTimedOut)??)
}

#[derive(Clone)]
pub(crate) enum Writer {
    Pool(AnyPool),
    Held(Arc<Mutex<HeldConnection>>),
}

/// A connection of its own, opened again when lost; on SQLite, whoever holds it has the write
/// turn.
pub(crate) struct HeldConnection {
    connection: Option<AnyConnection>,
    /// On PostgreSQL, the driver's own connection, for statements that bind arrays (see the
    /// module docs); opened at its first use.
    native: Option<PgConnection>,
    /// On SQLite, the same writer through SQLite's own API, for the hot writes (see `direct`).
    direct: Option<crate::direct::DirectConnection>,
    options: AnyConnectOptions,
    backend: Backend,
    /// Run on each new connection, on PostgreSQL.
    setup: &'static [&'static str],
}

impl HeldConnection {
    /// Opens the connection now on SQLite; on PostgreSQL at its first use, then runs `setup`.
    pub(crate) async fn open(
        options: AnyConnectOptions,
        backend: Backend,
        setup: &'static [&'static str],
    ) -> Result<Writer> {
        let mut held = Self {
            connection: None,
            native: None,
            direct: None,
            options,
            backend,
            setup,
        };
        if backend == Backend::Sqlite {
            held.connection = Some(Self::connect(&held.options, backend, setup).await?);
            held.direct = Some(crate::direct::DirectConnection::open(&held.options)?);
        }
        Ok(Writer::Held(Arc::new(Mutex::new(held))))
    }

    async fn connect(
        options: &AnyConnectOptions,
        backend: Backend,
        setup: &'static [&'static str],
    ) -> Result<AnyConnection> {
        let mut connection = connect_in_time(options).await?;
        match backend {
            Backend::Sqlite => crate::sqlite_session(&mut connection).await?,
            Backend::Postgres => {
                for statement in setup {
                    sqlx::query(statement).execute(&mut connection).await?;
                }
            }
        }
        Ok(connection)
    }

    /// The connection, opened afresh when the last one was lost or is stuck inside a
    /// transaction (on a full disk SQLite rolls back by itself, so the driver's ROLLBACK fails
    /// and the driver still counts the transaction open: every later BEGIN would be refused).
    async fn connection(&mut self) -> Result<&mut AnyConnection> {
        if self
            .connection
            .as_ref()
            .is_some_and(Connection::is_in_transaction)
        {
            tracing::warn!("closing a database connection left inside a failed transaction");
            // Dropping it ends the driver's thread, which closes the file handle; SQLite rolls
            // back whatever is left.
            self.connection = None;
        }
        if self.connection.is_none() {
            let connection = Self::connect(&self.options, self.backend, self.setup).await?;
            self.connection = Some(connection);
        }
        Ok(self.connection.as_mut().expect("opened above"))
    }

    /// The driver's own PostgreSQL connection, opened afresh when the last one was lost.
    async fn native(&mut self) -> Result<&mut PgConnection> {
        if self.native.is_none() {
            let options =
                PgConnectOptions::from_url(&self.options.database_url)?.disable_statement_logging();
            let mut connection = connect_in_time(&options).await?;
            for statement in self.setup {
                sqlx::query(statement).execute(&mut connection).await?;
            }
            self.native = Some(connection);
        }
        Ok(self.native.as_mut().expect("opened above"))
    }

    /// The writer through SQLite's own API; `None` on PostgreSQL.
    pub(crate) fn direct(&mut self) -> Option<&mut crate::direct::DirectConnection> {
        self.direct.as_mut()
    }

    /// After an error that may have broken the connection itself, the next user opens another.
    fn forget_if_broken(&mut self, error: &sqlx::Error) {
        if connection_lost(error) {
            self.connection = None;
        }
    }

    /// As [`HeldConnection::forget_if_broken`], for the native connection.
    fn forget_native_if_broken(&mut self, error: &sqlx::Error) {
        if connection_lost(error) {
            self.native = None;
        }
    }

    pub(crate) async fn close(&mut self) {
        self.direct = None;
        if let Some(connection) = self.native.take() {
            let _ = connection.close().await;
        }
        if let Some(connection) = self.connection.take() {
            let _ = connection.close().await;
        }
    }
}

impl Writer {
    /// Starts a write transaction. On SQLite it takes the write lock up front (`BEGIN
    /// IMMEDIATE`), so two writers queue on the busy timeout instead of failing on a lock
    /// upgrade.
    pub(crate) async fn begin(&self) -> Result<WriteTx> {
        match self {
            Writer::Pool(pool) => Ok(WriteTx::Pool(Some(pool.begin().await?))),
            Writer::Held(writer) => {
                let mut writer = writer.clone().lock_owned().await;
                let statement = match writer.backend {
                    Backend::Sqlite => Some(Cow::Borrowed("BEGIN IMMEDIATE")),
                    Backend::Postgres => None,
                };
                let connection = writer.connection().await?;
                let begun = AnyTransactionManager::begin(connection, statement).await;
                if let Err(error) = begun {
                    writer.forget_if_broken(&error);
                    return Err(error.into());
                }
                Ok(WriteTx::Held { writer, open: true })
            }
        }
    }

    /// Runs one statement outside a transaction (a claim), holding the connection.
    /// A held connection that the statement broke is opened afresh next time, as a pool would.
    pub(crate) async fn fetch_all<'q>(
        &self,
        query: sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>,
    ) -> Result<Vec<AnyRow>> {
        match self {
            Writer::Pool(pool) => Ok(query.fetch_all(pool).await?),
            Writer::Held(writer) => {
                let mut writer = writer.lock().await;
                let rows = query.fetch_all(writer.connection().await?).await;
                if let Err(error) = &rows {
                    writer.forget_if_broken(error);
                }
                Ok(rows?)
            }
        }
    }

    /// Runs one PostgreSQL statement outside a transaction on the held connection's native
    /// side (see the module docs), as [`Writer::fetch_all`] does.
    pub(crate) async fn fetch_all_native<'q>(
        &self,
        query: sqlx::query::Query<'q, Postgres, PgArguments>,
    ) -> Result<Vec<PgRow>> {
        let Writer::Held(writer) = self else {
            return Err(crate::StoreError::Corrupt(
                "a native statement needs a held PostgreSQL connection".into(),
            ));
        };
        let mut writer = writer.lock().await;
        let rows = query.fetch_all(writer.native().await?).await;
        if let Err(error) = &rows {
            writer.forget_native_if_broken(error);
        }
        Ok(rows?)
    }

    /// The SQLite write turn, for writes that run on the shared pool.
    pub(crate) async fn turn(&self) -> Option<OwnedMutexGuard<HeldConnection>> {
        match self {
            Writer::Pool(_) => None,
            Writer::Held(writer) => Some(writer.clone().lock_owned().await),
        }
    }

    pub(crate) async fn close(&self) {
        match self {
            Writer::Pool(pool) => pool.close().await,
            Writer::Held(writer) => writer.lock().await.close().await,
        }
    }

    /// Whether a held connection is open now, and idle. While someone holds it, it counts as
    /// open and busy (it is, or is being opened). SQLite's second connection to the same
    /// writer (`direct`) is not counted apart. `None` for the pool.
    pub(crate) fn held_use(&self) -> Option<HeldUse> {
        let Writer::Held(writer) = self else {
            return None;
        };
        Some(match writer.try_lock() {
            Ok(held) => {
                let open = u64::from(held.connection.is_some()) + u64::from(held.native.is_some());
                HeldUse { open, idle: open }
            }
            Err(_) => HeldUse { open: 1, idle: 0 },
        })
    }
}

/// Open and idle connections held outside the pool (see [`Writer::held_use`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HeldUse {
    pub open: u64,
    pub idle: u64,
}

/// A write transaction, holding the SQLite write turn (if any) until it ends. Dropped
/// without a commit, it rolls back.
pub(crate) enum WriteTx {
    /// Taken out only by `commit`.
    Pool(Option<sqlx::Transaction<'static, Any>>),
    Held {
        writer: OwnedMutexGuard<HeldConnection>,
        open: bool,
    },
}

impl WriteTx {
    pub(crate) async fn commit(self) -> Result<()> {
        self.end(true).await
    }

    /// Rolls back now, and waits for it: what a dropped transaction does in the background.
    pub(crate) async fn rollback(self) -> Result<()> {
        self.end(false).await
    }

    /// On PostgreSQL, makes this transaction read committed whatever the server's or role's
    /// default, for statements that must each see what committed before they started (a
    /// replay's lock and retention's second look: see `retention`).
    pub(crate) async fn read_committed(&mut self) -> Result<()> {
        sqlx::query("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
            .execute(&mut **self)
            .await?;
        Ok(())
    }

    async fn end(mut self, commit: bool) -> Result<()> {
        match &mut self {
            WriteTx::Pool(tx) => {
                let tx = tx.take().expect("ended once");
                Ok(if commit {
                    tx.commit().await
                } else {
                    tx.rollback().await
                }?)
            }
            WriteTx::Held { writer, open } => {
                let connection = writer.connection.as_mut().expect("held by the transaction");
                let ended = if commit {
                    AnyTransactionManager::commit(connection).await
                } else {
                    AnyTransactionManager::rollback(connection).await
                };
                // As sqlx's own transaction does: a failed end stays open, and the drop below
                // starts its rollback (unless the connection itself broke).
                if let Err(error) = ended {
                    writer.forget_if_broken(&error);
                    return Err(error.into());
                }
                *open = false;
                Ok(())
            }
        }
    }
}

impl Drop for WriteTx {
    fn drop(&mut self) {
        if let WriteTx::Held { writer, open: true } = self {
            if let Some(connection) = writer.connection.as_mut() {
                AnyTransactionManager::start_rollback(connection);
            }
        }
    }
}

impl std::ops::Deref for WriteTx {
    type Target = AnyConnection;
    fn deref(&self) -> &Self::Target {
        match self {
            WriteTx::Pool(tx) => tx.as_ref().expect("open until committed"),
            WriteTx::Held { writer, .. } => {
                writer.connection.as_ref().expect("held by the transaction")
            }
        }
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut Self::Target {
        match self {
            WriteTx::Pool(tx) => tx.as_mut().expect("open until committed"),
            WriteTx::Held { writer, .. } => {
                writer.connection.as_mut().expect("held by the transaction")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use sqlx::error::{DatabaseError, ErrorKind};

    use super::connection_lost;

    /// A database's answer with a SQLSTATE, as a driver reports it.
    #[derive(Debug, thiserror::Error)]
    #[error("{0}")]
    struct Answer(&'static str);

    impl DatabaseError for Answer {
        fn message(&self) -> &str {
            self.0
        }
        fn code(&self) -> Option<Cow<'_, str>> {
            Some(Cow::Borrowed(self.0))
        }
        fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
            self
        }
        fn kind(&self) -> ErrorKind {
            ErrorKind::Other
        }
    }

    fn answer(code: &'static str) -> sqlx::Error {
        sqlx::Error::Database(Box::new(Answer(code)))
    }

    #[test]
    fn a_server_shutting_down_or_a_broken_link_loses_the_connection_and_a_refused_row_does_not() {
        // The server is shutting down (a restart), or the link broke.
        assert!(connection_lost(&answer("57P01")));
        assert!(connection_lost(&answer("08006")));
        assert!(connection_lost(&sqlx::Error::PoolTimedOut));
        // A unique violation or a value out of range: the connection is fine.
        assert!(!connection_lost(&answer("23505")));
        assert!(!connection_lost(&answer("22003")));
    }
}
