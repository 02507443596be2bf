//! In-process handoff of fresh deliveries. While this process's workers run, ingest writes a new
//! delivery already leased to this process and passes it, with its event and integration in
//! memory, straight to a worker: no claim query and no reload. If the process dies first, the
//! lease runs out and any instance claims the delivery from the store as usual.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};

use crate::attempt::Job;

/// A job waiting for a worker slot, holding its place in the bounded queue.
pub(crate) struct HandedJob {
    pub job: Job,
    _place: OwnedSemaphorePermit,
}

pub(crate) struct Handoff {
    active: AtomicBool,
    places: Arc<Semaphore>,
    sender: mpsc::UnboundedSender<HandedJob>,
    receiver: Mutex<Option<mpsc::UnboundedReceiver<HandedJob>>>,
}

/// Places reserved for one event's deliveries; released if they are not handed over.
pub(crate) struct Reservation(OwnedSemaphorePermit);

impl Handoff {
    pub(crate) fn new(capacity: usize) -> Self {
        let (sender, receiver) = mpsc::unbounded_channel();
        Self {
            active: AtomicBool::new(false),
            places: Arc::new(Semaphore::new(capacity)),
            sender,
            receiver: Mutex::new(Some(receiver)),
        }
    }

    /// Room for `count` jobs, if a worker loop is running and the queue has space.
    pub(crate) fn reserve(&self, count: usize) -> Option<Reservation> {
        if count == 0 || !self.active.load(Ordering::Acquire) {
            return None;
        }
        let count = u32::try_from(count).ok()?;
        self.places
            .clone()
            .try_acquire_many_owned(count)
            .ok()
            .map(Reservation)
    }

    /// Hands over the jobs of a committed event, one reserved place each. Called by the ingest
    /// committer right after the commit, so a client that hangs up cannot strand them.
    pub(crate) fn hand_over(&self, mut reservation: Reservation, jobs: Vec<Job>) {
        for job in jobs {
            let Some(place) = reservation.0.split(1) else {
                return;
            };
            // The receiver lives as long as the engine; if it is gone, the lease covers the job.
            let _ = self.sender.send(HandedJob { job, _place: place });
        }
    }

    /// Taken by the worker loop for as long as it runs.
    pub(crate) fn attach(&self) -> Option<mpsc::UnboundedReceiver<HandedJob>> {
        let receiver = self.receiver.lock().expect("not poisoned").take();
        self.active.store(receiver.is_some(), Ordering::Release);
        receiver
    }

    pub(crate) fn detach(&self, receiver: Option<mpsc::UnboundedReceiver<HandedJob>>) {
        if let Some(receiver) = receiver {
            self.active.store(false, Ordering::Release);
            *self.receiver.lock().expect("not poisoned") = Some(receiver);
        }
    }
}
