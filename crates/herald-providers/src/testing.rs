//! Helpers for providers' tests: events, contexts, canned responses and a sender that may
//! reach loopback fakes.
// Not every helper is used by every provider's tests.
#![allow(dead_code)]

use chrono::{TimeZone, Utc};
use herald_domain::{Event, EventId, EventInput, Kind};
use serde_json::Value;

use crate::{
    Endpoints, ExternalRef, OutboundPolicy, Purpose, RenderContext, Response, Sender, SenderConfig,
    Target,
};

/// A stored event from the JSON an API client would post.
pub fn event(input: Value) -> Event {
    let new = serde_json::from_value::<EventInput>(input)
        .expect("a valid event input")
        .parse()
        .expect("a valid event");
    Event::from_new(&EventId::generate(), &new, Utc::now())
}

pub fn target(kind: Kind) -> Target {
    Target {
        delivery_id: "dlv_0193a1b2c3d4e5f6a7b8c9d0e1f2a3b4".into(),
        integration_id: "int_0193a1b2c3d4e5f6a7b8c9d0e1f2a3b4".into(),
        integration_name: "ops alerts".into(),
        kind,
    }
}

/// Owns what a [`RenderContext`] borrows.
pub struct Fixture {
    pub event: Event,
    pub target: Target,
    pub prior: Option<ExternalRef>,
    /// The chain's earlier events, for follow-ups.
    pub earlier: Vec<Event>,
    pub purpose: Purpose,
    pub endpoints: Endpoints,
    pub destination: Option<String>,
}

impl Fixture {
    pub fn new(kind: Kind, event_input: Value) -> Self {
        Self {
            event: event(event_input),
            target: target(kind),
            prior: None,
            earlier: Vec::new(),
            purpose: Purpose::Delivery,
            endpoints: Endpoints::default(),
            destination: None,
        }
    }

    /// Sends to this destination instead of the config's (a workspace override).
    pub fn to(mut self, destination: &str) -> Self {
        self.destination = Some(destination.to_owned());
        self
    }

    pub fn with_prior(mut self, prior: &str) -> Self {
        self.prior = Some(ExternalRef(prior.to_owned()));
        self
    }

    /// A follow-up of these earlier events of the same run.
    pub fn after(mut self, earlier: &[Value]) -> Self {
        self.earlier = earlier.iter().cloned().map(event).collect();
        self
    }

    pub fn for_test(mut self) -> Self {
        self.purpose = Purpose::ConnectionTest;
        self
    }

    /// Points every fixed-address service at `base` (a local fake).
    pub fn at(mut self, base: &str) -> Self {
        self.endpoints = Endpoints::all_at(base);
        self
    }

    pub fn ctx(&self) -> RenderContext<'_> {
        RenderContext {
            event: &self.event,
            target: &self.target,
            prior: self.prior.as_ref(),
            earlier: &self.earlier,
            now: Utc.timestamp_opt(1_750_000_000, 0).unwrap(),
            purpose: self.purpose,
            endpoints: &self.endpoints,
            destination: self.destination.as_deref(),
            prepared: None,
        }
    }
}

pub fn response(status: u16, headers: &[(&str, &str)], body: &str) -> Response {
    Response {
        status,
        headers: headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect(),
        body: body.as_bytes().to_vec(),
        received_at: Utc.timestamp_opt(1_750_000_000, 0).unwrap(),
    }
}

/// The real sender, allowed to reach loopback so tests can talk to local fakes.
pub fn loopback_sender() -> Sender {
    Sender::new(SenderConfig {
        policy: OutboundPolicy::new(
            OutboundPolicy::parse_allow_list("127.0.0.0/8").expect("a valid CIDR"),
        ),
        ..SenderConfig::default()
    })
}
