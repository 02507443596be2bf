//! Test doubles for Herald's black-box tests.

mod chaos;
mod clock;
mod prometheus;
mod receiver;
pub mod smtp;

pub use chaos::{Chaos, ChaosRequest, ChaosSink, Fate};
pub use clock::TestClock;
pub use prometheus::{parse_with_prometheus_client, prometheus_families};
pub use receiver::{Received, Receiver, Reply};
