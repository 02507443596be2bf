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

/// Lets the other committers on this thread have their turn. A committer with a queue that is
/// never empty (ingest under load) does not wait at any of its awaits, and this runtime looks at
/// its timers only when no task is ready (or every few dozen polls): the results committer's
/// short linger then never ended, and neither did a claim's wait for the thread. In a 10-way
/// fan-out, ingest committed about 100 groups for every 5 result batches and claims, so the
/// results queue filled and the workers stood still until ingest stopped. A yielded task runs
/// again only after the runtime has looked at its timers and I/O.
pub(crate) async fn take_turns() {
    tokio::task::yield_now().await;
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    /// A task on the committers' thread that always has work, and takes turns between groups,
    /// does not hold off another task's timer until it runs out of work.
    #[tokio::test]
    async fn a_busy_committer_lets_a_sleeping_one_wake() {
        const GROUPS: usize = 200;
        let committed = Arc::new(AtomicUsize::new(0));
        let counting = committed.clone();
        let busy = super::spawn(async move {
            for _ in 0..GROUPS {
                // A group's commit: the thread is busy and nothing is awaited.
                std::thread::sleep(Duration::from_micros(500));
                counting.fetch_add(1, Ordering::Relaxed);
                super::take_turns().await;
            }
        });
        let seen = committed.clone();
        let sleeper = super::spawn(async move {
            tokio::time::sleep(Duration::from_millis(5)).await;
            seen.load(Ordering::Relaxed)
        });
        let committed_when_woken = sleeper.await.unwrap();
        busy.await.unwrap();
        assert!(
            committed_when_woken < GROUPS / 2,
            "the sleeper woke only after {committed_when_woken} of {GROUPS} groups"
        );
    }
}
