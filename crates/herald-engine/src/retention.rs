//! The retention task: prunes events and their delivery log older than the configured age,
//! in small batches with pauses between them, so delivery never waits behind it.

use std::time::Duration;

use herald_domain::error::error_chain;
use herald_store::{Pruned, StoreError};
use tokio_util::sync::CancellationToken;

use crate::Engine;

/// Events per batch: one short write transaction each.
const BATCH: u32 = 500;
/// The pause between batches, leaving the database to the workers.
const BETWEEN_BATCHES: Duration = Duration::from_millis(100);
/// How often the task looks for what has aged out.
const EVERY: Duration = Duration::from_secs(10 * 60);
/// The first look, soon after the start.
const FIRST: Duration = Duration::from_secs(30);

impl Engine {
    /// Prunes everything that has aged out, batch after batch; returns the totals. Nothing
    /// when retention is off.
    pub async fn prune_expired(&self) -> Result<Pruned, StoreError> {
        let Some(age) = self.config.retention else {
            return Ok(Pruned::default());
        };
        let cutoff = self.now() - chrono::Duration::from_std(age).unwrap_or(chrono::Duration::MAX);
        let mut total = Pruned::default();
        loop {
            let pruned = self.store.prune_before(cutoff, BATCH).await?;
            total.events += pruned.events;
            total.deliveries += pruned.deliveries;
            total.attempts += pruned.attempts;
            if pruned.events < u64::from(BATCH) {
                return Ok(total);
            }
            tokio::time::sleep(BETWEEN_BATCHES).await;
        }
    }

    /// Runs [`Engine::prune_expired`] every ten minutes until `shutdown`.
    pub async fn run_retention(self, shutdown: CancellationToken) {
        if self.config.retention.is_none() {
            return;
        }
        let mut wait = FIRST;
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
            wait = EVERY;
            match self.prune_expired().await {
                Ok(pruned) if pruned.events > 0 => tracing::info!(
                    events = pruned.events,
                    deliveries = pruned.deliveries,
                    attempts = pruned.attempts,
                    "retention pruned what had aged out"
                ),
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(error = %error_chain(&error), "retention could not prune; trying again later")
                }
            }
        }
    }
}
