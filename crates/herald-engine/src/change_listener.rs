//! On PostgreSQL, listens for integration changes made by any instance and drops what this one
//! caches about them, so routing and credentials follow a change at once.

use std::sync::{Arc, Weak};
use std::time::Duration;

use herald_domain::error::error_chain;
use herald_store::Store;

use crate::credential_cache::CredentialCache;
use crate::routing_cache::RoutingCache;

const MIN_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Held weakly, so the task ends once the engine is gone (at its next event).
pub(crate) struct Caches {
    pub routing: Weak<RoutingCache<crate::routing::OrgRouting>>,
    pub credentials: Weak<CredentialCache>,
}

impl Caches {
    fn upgrade(
        &self,
    ) -> Option<(
        Arc<RoutingCache<crate::routing::OrgRouting>>,
        Arc<CredentialCache>,
    )> {
        Some((self.routing.upgrade()?, self.credentials.upgrade()?))
    }

    /// Forgets everything: changes may have gone unheard. Returns false once the engine is gone.
    fn forget_all(&self, hearing: bool) -> bool {
        let Some((routing, credentials)) = self.upgrade() else {
            return false;
        };
        routing.clear();
        credentials.clear();
        routing.set_hearing(hearing);
        true
    }
}

pub(crate) fn spawn(store: Store, caches: Caches) {
    tokio::spawn(run(store, caches));
}

async fn run(store: Store, caches: Caches) {
    let mut backoff = MIN_BACKOFF;
    loop {
        let mut changes = match store.listen_integration_changes().await {
            Ok(Some(changes)) => changes,
            Ok(None) => return,
            Err(error) => {
                tracing::warn!(error = %error_chain(&error), retry_in = ?backoff, "cannot listen for integration changes; caches expire quickly meanwhile");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                if caches.upgrade().is_none() {
                    return;
                }
                continue;
            }
        };
        // Subscribed: from now on every change is heard, and what came before may not have been.
        if !caches.forget_all(true) {
            return;
        }
        backoff = MIN_BACKOFF;
        loop {
            match changes.recv().await {
                Ok(Some(change)) => {
                    let Some((routing, credentials)) = caches.upgrade() else {
                        return;
                    };
                    routing.invalidate(&change.org_id);
                    credentials.invalidate(&change.integration_id);
                }
                Ok(None) => {
                    tracing::warn!("lost the integration change listener; reconnecting");
                    break;
                }
                Err(error) => {
                    tracing::warn!(error = %error_chain(&error), "integration change listener failed; reconnecting");
                    break;
                }
            }
        }
        if !caches.forget_all(false) {
            return;
        }
    }
}

#[cfg(test)]
mod tests;
