//! The committers' own thread. The ingest and result committers hand SQL to the database
//! driver one statement at a time and wait for each answer; on the shared runtime each of those
//! hand-offs waited behind the HTTP tasks for a core, and on SQLite, where one writer at a time
//! commits, that wait was the whole pipeline's. On a thread of their own they are woken at once.

use std::future::Future;
use std::sync::OnceLock;

use tokio::runtime::{Builder, Handle};
use tokio::task::JoinHandle;

static COMMIT_RUNTIME: OnceLock<Handle> = OnceLock::new();

/// Runs `future` on the committers' thread, started on first use.
pub(crate) fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    COMMIT_RUNTIME.get_or_init(start).spawn(future)
}

fn start() -> Handle {
    let runtime = Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("the committers' runtime starts");
    let handle = runtime.handle().clone();
    std::thread::Builder::new()
        .name("herald-commit".into())
        .spawn(move || runtime.block_on(std::future::pending::<()>()))
        .expect("the committers' thread starts");
    handle
}
