//! Where write transactions and claims run.
//!
//! On PostgreSQL that is any connection of the shared pool: the server orders the writers. On
//! SQLite it is one connection of its own, outside any pool, behind the write turn. Two reasons:
//! - a connection that only sees its own writes keeps its page cache, where one that another
//!   connection wrote behind discards it and reads the pages again;
//! - a pool tests a connection when it hands it out and again when it takes it back. For
//!   SQLite each test is a round trip to the driver's thread, so a write transaction of four
//!   statements made six, and each round trip is two context switches.

use std::borrow::Cow;
use std::sync::Arc;

use sqlx::any::{AnyConnectOptions, AnyTransactionManager};
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, ConnectOptions, Connection, TransactionManager};
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::Result;

#[derive(Clone)]
pub(crate) enum Writer {
    Pool(AnyPool),
    Sqlite(Arc<Mutex<SqliteWriter>>),
}

/// SQLite's write connection; whoever holds it has the write turn.
pub(crate) struct SqliteWriter {
    connection: Option<AnyConnection>,
    options: AnyConnectOptions,
}

impl SqliteWriter {
    pub(crate) async fn open(options: AnyConnectOptions) -> Result<Arc<Mutex<Self>>> {
        let connection = Some(Self::connect(&options).await?);
        Ok(Arc::new(Mutex::new(Self {
            connection,
            options,
        })))
    }

    async fn connect(options: &AnyConnectOptions) -> Result<AnyConnection> {
        let mut connection = options.connect().await?;
        crate::sqlite_session(&mut connection).await?;
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
            self.connection = Some(Self::connect(&self.options).await?);
        }
        Ok(self.connection.as_mut().expect("opened above"))
    }

    /// After an error that may have broken the connection itself, the next user opens another.
    fn forget_if_broken(&mut self, error: &sqlx::Error) {
        if !matches!(error, sqlx::Error::Database(_)) {
            self.connection = None;
        }
    }

    pub(crate) async fn close(&mut self) {
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
            Writer::Sqlite(writer) => {
                let mut writer = writer.clone().lock_owned().await;
                let connection = writer.connection().await?;
                let begun = AnyTransactionManager::begin(
                    connection,
                    Some(Cow::Borrowed("BEGIN IMMEDIATE")),
                )
                .await;
                if let Err(error) = begun {
                    writer.forget_if_broken(&error);
                    return Err(error.into());
                }
                Ok(WriteTx::Sqlite { writer, open: true })
            }
        }
    }

    /// A connection for one write outside a transaction (a claim), holding the write turn.
    pub(crate) async fn connection(&self) -> Result<WriterConnection> {
        match self {
            Writer::Pool(pool) => Ok(WriterConnection::Pool(pool.acquire().await?)),
            Writer::Sqlite(writer) => {
                let mut writer = writer.clone().lock_owned().await;
                writer.connection().await?;
                Ok(WriterConnection::Sqlite(writer))
            }
        }
    }

    /// The SQLite write turn, for writes that run on the shared pool.
    pub(crate) async fn turn(&self) -> Option<OwnedMutexGuard<SqliteWriter>> {
        match self {
            Writer::Pool(_) => None,
            Writer::Sqlite(writer) => Some(writer.clone().lock_owned().await),
        }
    }

    pub(crate) async fn close(&self) {
        match self {
            Writer::Pool(pool) => pool.close().await,
            Writer::Sqlite(writer) => writer.lock().await.close().await,
        }
    }
}

/// A write transaction, holding the SQLite write turn (if any) until it ends. Dropped
/// without a commit, it rolls back.
pub(crate) enum WriteTx {
    /// Taken out only by `commit`.
    Pool(Option<sqlx::Transaction<'static, Any>>),
    Sqlite {
        writer: OwnedMutexGuard<SqliteWriter>,
        open: bool,
    },
}

impl WriteTx {
    pub(crate) async fn commit(mut self) -> Result<()> {
        match &mut self {
            WriteTx::Pool(tx) => Ok(tx.take().expect("committed once").commit().await?),
            WriteTx::Sqlite { writer, open } => {
                let connection = writer.connection.as_mut().expect("held by the transaction");
                // As sqlx's own transaction does: a failed commit stays open, and the drop
                // below starts its rollback.
                AnyTransactionManager::commit(connection).await?;
                *open = false;
                Ok(())
            }
        }
    }
}

impl Drop for WriteTx {
    fn drop(&mut self) {
        if let WriteTx::Sqlite { writer, open: true } = self {
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
            WriteTx::Sqlite { writer, .. } => {
                writer.connection.as_ref().expect("held by the transaction")
            }
        }
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut Self::Target {
        match self {
            WriteTx::Pool(tx) => tx.as_mut().expect("open until committed"),
            WriteTx::Sqlite { writer, .. } => {
                writer.connection.as_mut().expect("held by the transaction")
            }
        }
    }
}

/// The writer's connection for one statement, holding the SQLite write turn.
pub(crate) enum WriterConnection {
    Pool(PoolConnection<Any>),
    Sqlite(OwnedMutexGuard<SqliteWriter>),
}

impl std::ops::Deref for WriterConnection {
    type Target = AnyConnection;
    fn deref(&self) -> &Self::Target {
        match self {
            WriterConnection::Pool(connection) => connection,
            WriterConnection::Sqlite(writer) => {
                writer.connection.as_ref().expect("opened when taken")
            }
        }
    }
}

impl std::ops::DerefMut for WriterConnection {
    fn deref_mut(&mut self) -> &mut Self::Target {
        match self {
            WriterConnection::Pool(connection) => connection,
            WriterConnection::Sqlite(writer) => {
                writer.connection.as_mut().expect("opened when taken")
            }
        }
    }
}
