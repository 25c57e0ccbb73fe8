//! The stack's integration tests: one binary, one module per area.

mod auth_down;
mod contracts;
mod events;
mod hold_ttl;
mod metrics;
mod migrations;
mod replicas;
mod shutdown;
mod stack;

mod helpers;
