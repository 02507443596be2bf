//! What a follow-up knows of its run: the earlier events of its chain, for the renderer.

use herald_domain::{Event, Kind};
use herald_store::ClaimedDelivery;

use crate::Engine;

impl Engine {
    /// The earlier events of `delivery`'s chain, oldest first, for kinds that show people a
    /// message (machine payloads carry the event alone). A failed lookup renders the event on
    /// its own rather than hold the delivery back: the history adds to a message, it is not
    /// needed to send one.
    pub(crate) async fn chain_history(&self, delivery: &ClaimedDelivery, kind: Kind) -> Vec<Event> {
        if delivery.correlation_key.is_none() || !crate::attempt::shows_people(kind) {
            return Vec::new();
        }
        match self.store.chain_history(delivery).await {
            Ok(events) => events,
            Err(error) => {
                tracing::warn!(
                    delivery_id = %delivery.id,
                    error = %herald_domain::error::error_chain(&error),
                    "looking up a follow-up's earlier events failed; rendering the event alone"
                );
                Vec::new()
            }
        }
    }
}
