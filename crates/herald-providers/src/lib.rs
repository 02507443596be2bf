//! Providers turn an event into the requests a destination expects and classify its answers.
//! They never sleep, retry or touch the database; the shared [`Sender`] does the I/O.

mod classify;
pub mod config_schema;
#[cfg(test)]
mod conformance;
mod endpoints;
pub mod examples;
mod exchange;
pub mod markup;
#[cfg(test)]
mod overrides;
pub mod present;
mod provider;
mod redact;
mod registry;
#[cfg(test)]
mod render_snapshots;
pub mod sender;
#[cfg(test)]
pub(crate) mod testing;
mod urls;

pub mod custom;
pub mod discord;
pub mod email;
pub mod github;
pub mod google_chat;
pub mod jira;
pub mod opsgenie;
pub mod pagerduty;
pub mod script;
pub mod slack;
pub mod splunk;
pub mod teams;
pub mod telegram;
pub mod webex;
pub mod webhook;

pub use classify::{classify_status, parse_retry_after, receiver_aborted, ABORTED_REASON};
pub use endpoints::{join, Endpoints};
pub use exchange::{exchange, Exchanged, Transport};
pub use provider::{
    parse_config, Destination, ExecRequest, ExternalRef, Header, MailRequest, Method, Outbound,
    OutboundRequest, Outcome, Prepared, Provider, Purpose, Rate, RenderContext, RenderError,
    Response, SmtpSecurity, SmtpServer, Step, Target,
};
pub use redact::Redactor;
pub use registry::{Registry, RegistryOptions};
pub use sender::{OutboundPolicy, SendError, Sender, SenderConfig};
