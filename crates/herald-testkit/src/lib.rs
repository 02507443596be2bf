//! Test doubles for Herald's black-box tests.

mod chaos;
mod clock;
mod receiver;
pub mod smtp;

pub use chaos::{Chaos, ChaosRequest, ChaosSink, Fate};
pub use clock::TestClock;
pub use receiver::{Received, Receiver, Reply};
