//! The reservation service's integration tests: one binary, one module per area.

mod access;
mod admin;
mod breaker;
mod checkout;
mod concurrency;
mod crash;
mod events;
mod faults;
mod idempotency;
mod metrics;
mod pivot;
mod recovery_scan;
mod replicas;
mod seat_retry;
mod service_token;
mod token_renewal;
mod traces;
mod two_replicas;

mod helpers;
