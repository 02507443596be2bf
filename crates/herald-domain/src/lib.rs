//! Herald's domain: events, integrations and routing. Pure code, no I/O.

pub mod access;
pub mod attachment;
pub mod catalogue;
pub mod delivery;
pub mod demand;
pub mod duration;
pub mod error;
pub mod event;
pub mod ids;
pub mod integration;
pub mod limits;
pub mod link;
pub mod retry;
pub mod routing;
pub mod scope;
pub mod severity;
pub mod status;
pub mod template;
pub mod time;

pub use access::{Grants, IntegrationRole, OrgRole, Permission, PrincipalKind};
pub use catalogue::{Catalogue, CompiledType, EventTypeDef};
pub use delivery::{Attempt, AttemptOutcome, Delivery, DeliveryStatus};
pub use demand::{IntegrationEvent, Trigger};
pub use error::FieldError;
pub use event::{Event, EventInput, EventType, NewEvent};
pub use ids::{
    AttemptId, AuditId, DeliveryId, EventId, IntegrationEventId, IntegrationId, OrgId, PrincipalId,
    RoleAssignmentId, ScopeId, SupplyId, TokenId,
};
pub use integration::{Filters, Integration, IntegrationName, Kind};
pub use retry::RetrySchedule;
pub use routing::{
    route, route_supply_demand, Routed, RoutingIndex, RoutingModel, SkipReason, Verdict,
};
pub use scope::{Location, Scope, ScopeKind, ScopeTree, Supply};
pub use severity::Severity;
pub use status::{Phase, Stage};
pub use template::MessageTemplate;
