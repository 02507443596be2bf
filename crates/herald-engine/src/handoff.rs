//! In-process handoff of fresh deliveries. While this process's workers run, ingest admits a
//! new delivery to a free worker (within its destination's and organisation's shares), writes
//! it already leased to this process, and starts it right after the commit with its event and
//! integration in memory: no claim query and no reload. A delivery that finds no free worker is
//! written unleased and claimed from the store like any other, so nothing waits on a lease
//! unless the process dies.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use herald_store::AttemptRecord;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::attempt::Job;
use crate::capacity::Admission;
use crate::Engine;

/// What a started attempt needs from the running worker loop.
#[derive(Clone)]
pub(crate) struct Dispatch {
    pub engine: Engine,
    /// Where attempts run: the runtime of the worker loop (handoffs are started from the
    /// committers' thread).
    pub runtime: tokio::runtime::Handle,
    pub results: mpsc::Sender<AttemptRecord>,
    /// Cancels attempts still running when the shutdown grace is over.
    pub abort: CancellationToken,
    /// Makes attempts drop a result the committer cannot take any more.
    pub abandon: CancellationToken,
}

#[derive(Default)]
pub(crate) struct Handoff {
    active: AtomicBool,
    dispatch: Mutex<Option<Dispatch>>,
}

impl Handoff {
    /// Whether a worker loop runs to take fresh deliveries.
    pub(crate) fn is_active(&self) -> bool {
        self.active.load(Ordering::Acquire)
    }

    pub(crate) fn activate(&self, dispatch: Dispatch) {
        *self.dispatch.lock().expect("not poisoned") = Some(dispatch);
        self.active.store(true, Ordering::Release);
    }

    /// After this, nothing more is started; jobs still handed over are given back.
    pub(crate) fn deactivate(&self) {
        self.active.store(false, Ordering::Release);
        self.dispatch.lock().expect("not poisoned").take();
    }

    /// Starts the admitted jobs of a committed event. Called by the ingest committer right
    /// after the commit, so a client that hangs up cannot strand them. Jobs that arrive after
    /// the worker loop stopped come back, to be released in the store.
    pub(crate) fn hand_over(&self, jobs: Vec<(Job, Admission)>) -> Vec<Job> {
        let dispatch = self.dispatch.lock().expect("not poisoned");
        match dispatch.as_ref() {
            Some(dispatch) => {
                for (job, admission) in jobs {
                    dispatch.engine.spawn_attempt(job, admission, dispatch);
                }
                Vec::new()
            }
            None => jobs.into_iter().map(|(job, _)| job).collect(),
        }
    }
}
