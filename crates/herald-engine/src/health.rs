//! What readiness reports: whether the database commits, and whether this process's workers run.
//! Store failures are logged when the database becomes unavailable and when it is back, not on
//! every failed statement.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use herald_domain::error::error_chain;
use herald_store::StoreError;
use serde::Serialize;

/// A readiness probe never waits longer than this for the database.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);
/// Probes closer together than this share one successful database write (a failure is
/// probed again at once, so recovery shows without delay).
const PROBE_REUSE: Duration = Duration::from_millis(500);

#[derive(Default)]
pub(crate) struct Health {
    /// Set while the database is known to be unavailable (since the first failure).
    unavailable: Mutex<Option<Instant>>,
    workers_running: AtomicBool,
    last_success: Mutex<Option<Instant>>,
}

impl Health {
    /// A statement failed; if it is because the database cannot serve, remember (and say so
    /// once).
    pub(crate) fn store_failed(&self, error: &StoreError, doing: &str) {
        if !error.is_unavailable() {
            return;
        }
        let mut unavailable = self.unavailable.lock().expect("not poisoned");
        if unavailable.is_none() {
            tracing::error!(error = %error_chain(error), doing, "the database is unavailable; answering 503 and retrying until it is back");
            *unavailable = Some(Instant::now());
        }
    }

    /// A statement succeeded: the database is back, if it was away.
    pub(crate) fn store_ok(&self) {
        let mut unavailable = self.unavailable.lock().expect("not poisoned");
        if let Some(since) = unavailable.take() {
            tracing::warn!(
                after_ms = since.elapsed().as_millis() as u64,
                "the database is available again"
            );
        }
    }

    pub(crate) fn set_workers_running(&self, running: bool) {
        self.workers_running.store(running, Ordering::Release);
    }

    pub(crate) fn workers_running(&self) -> bool {
        self.workers_running.load(Ordering::Acquire)
    }

    /// Whether a probe succeeded recently enough to reuse.
    fn probed_recently(&self) -> bool {
        let last = self.last_success.lock().expect("not poisoned");
        last.is_some_and(|at| at.elapsed() < PROBE_REUSE)
    }

    fn remember_probe(&self, result: &Result<(), String>) {
        let mut last = self.last_success.lock().expect("not poisoned");
        *last = result.is_ok().then(Instant::now);
    }
}

/// `/readyz`'s answer.
#[derive(Debug, Clone, Serialize)]
pub struct Readiness {
    pub ready: bool,
    pub database: Check,
    /// Absent where this process runs no workers (`--role api`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workers: Option<WorkerCheck>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct WorkerCheck {
    pub ok: bool,
    pub running: bool,
    pub busy: usize,
    pub workers: usize,
}

impl crate::Engine {
    /// Whether this process can take work now: the database commits a write within a second,
    /// and (if `expect_workers`) the worker loop runs.
    pub async fn readiness(&self, expect_workers: bool) -> Readiness {
        let database = match self.health.probed_recently() {
            true => Ok(()),
            false => {
                let result =
                    match tokio::time::timeout(PROBE_TIMEOUT, self.store.probe_write(self.now()))
                        .await
                    {
                        Ok(Ok(())) => {
                            self.health.store_ok();
                            Ok(())
                        }
                        // The reason goes to the log only: /readyz needs no token.
                        Ok(Err(error)) => {
                            self.health.store_failed(&error, "probing readiness");
                            tracing::debug!(error = %error_chain(&error), "readiness probe failed");
                            Err("the database cannot commit a write".to_owned())
                        }
                        Err(_) => Err("the database did not answer within 1s".to_owned()),
                    };
                self.health.remember_probe(&result);
                result
            }
        };
        let workers = expect_workers.then(|| {
            let running = self.health.workers_running();
            WorkerCheck {
                ok: running,
                running,
                busy: self.capacity.busy(),
                workers: self.capacity.workers(),
            }
        });
        let database = Check {
            ok: database.is_ok(),
            error: database.err(),
        };
        Readiness {
            ready: database.ok && workers.as_ref().is_none_or(|w| w.ok),
            database,
            workers,
        }
    }
}
