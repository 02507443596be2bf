//! Test doubles for Herald's black-box tests.

mod clock;
mod receiver;
pub mod smtp;

pub use clock::TestClock;
pub use receiver::{Received, Receiver, Reply};
