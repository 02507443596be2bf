//! Providers turn an event into the requests a destination expects and classify its answers.
//! They never sleep, retry or touch the database; the shared [`Sender`] does the HTTP.

mod classify;
mod provider;
mod redact;
mod registry;
pub mod sender;
pub mod webhook;

pub use classify::{classify_status, parse_retry_after};
pub use provider::{
    parse_config, ExternalRef, Header, Method, OutboundRequest, Outcome, Provider, RenderContext,
    RenderError, Response, Target,
};
pub use redact::Redactor;
pub use registry::Registry;
pub use sender::{OutboundPolicy, SendError, Sender, SenderConfig};
