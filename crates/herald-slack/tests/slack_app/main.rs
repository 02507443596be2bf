//! Black-box tests of the Slack app: the real server on an ephemeral port (SQLite and
//! PostgreSQL), a fake Slack, and requests signed exactly as Slack signs them.

#[path = "../support/mod.rs"]
mod support;

mod approvals;
mod commands;
mod inbound;
mod oauth;
