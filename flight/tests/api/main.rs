//! The flight service's integration tests: one binary, one module per area.

mod access;
mod cancel;
mod catalog;
mod health;
mod holds;
mod locking;
mod observability;
mod reflection;
mod reschedule;
mod shedding;
mod traces;

mod helpers;
