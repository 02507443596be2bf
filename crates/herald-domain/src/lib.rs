//! Herald's domain: events, integrations and routing. Pure code, no I/O.

pub mod access;
pub mod attachment;
pub mod delivery;
pub mod duration;
pub mod error;
pub mod event;
pub mod ids;
pub mod integration;
pub mod retry;
pub mod routing;
pub mod severity;
pub mod template;

pub use access::{Grants, IntegrationRole, OrgRole, Permission, PrincipalKind};
pub use delivery::{Attempt, AttemptOutcome, Delivery, DeliveryStatus};
pub use error::FieldError;
pub use event::{Event, EventInput, EventType, NewEvent};
pub use ids::{
    AttemptId, AuditId, DeliveryId, EventId, IntegrationId, OrgId, PrincipalId, RoleAssignmentId,
    TokenId,
};
pub use integration::{Filters, Integration, IntegrationName, Kind};
pub use retry::RetrySchedule;
pub use routing::{route, SkipReason, Verdict};
pub use severity::Severity;
pub use template::MessageTemplate;
