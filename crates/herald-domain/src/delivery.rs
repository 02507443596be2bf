//! Deliveries (one event to one integration) and their attempts, as the delivery log shows them.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::{DeliveryId, EventId, IntegrationId, Kind};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Not attempted yet.
    Pending,
    /// Attempted, failed retryably, and scheduled again.
    Retrying,
    Success,
    /// Permanently failed or out of attempts. Can be re-queued.
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Retrying => "retrying",
            DeliveryStatus::Success => "success",
            DeliveryStatus::Failed => "failed",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Pending, Self::Retrying, Self::Success, Self::Failed]
            .into_iter()
            .find(|s| s.as_str() == raw)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Delivery {
    #[schema(value_type = String)]
    pub id: DeliveryId,
    #[schema(value_type = String)]
    pub event_id: EventId,
    #[schema(value_type = String)]
    pub integration_id: IntegrationId,
    /// The integration's name when the event arrived (it is part of what is sent).
    pub integration_name: String,
    pub kind: Kind,
    pub status: DeliveryStatus,
    pub attempt_count: u32,
    /// When the next attempt is due; null once the delivery has ended.
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_status_code: Option<u16>,
    pub last_error: Option<String>,
    /// The destination's id for what was created (a message id, an issue key).
    pub external_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// A replay: the event sent again on request, as a new delivery with its own id.
    pub replay: bool,
    /// The delivery a replay repeats, when the integration had one for the event.
    #[schema(value_type = Option<String>)]
    pub replay_of: Option<DeliveryId>,
    /// The event's type, so that the log reads without fetching each event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_type: Option<String>,
    /// The event's title, when it had one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_title: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AttemptOutcome {
    Delivered,
    Retry,
    Failed,
    /// The receiver asked for no more attempts of this message (`webhook-delivery:
    /// abort-message`); the delivery ends failed.
    Aborted,
}

impl AttemptOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptOutcome::Delivered => "delivered",
            AttemptOutcome::Retry => "retry",
            AttemptOutcome::Failed => "failed",
            AttemptOutcome::Aborted => "aborted",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Delivered, Self::Retry, Self::Failed, Self::Aborted]
            .into_iter()
            .find(|s| s.as_str() == raw)
    }
}

/// One try at sending a delivery. Excerpts and errors are truncated and scrubbed of secrets.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Attempt {
    pub number: u32,
    pub started_at: DateTime<Utc>,
    pub duration_ms: u64,
    pub outcome: AttemptOutcome,
    pub status_code: Option<u16>,
    pub response_excerpt: Option<String>,
    pub error: Option<String>,
}
