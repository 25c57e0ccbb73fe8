//! The hotel service's integration tests: one binary, one module per area.

mod access;
mod catalog;
mod concurrency;
mod holds;
mod observability;
mod search;
mod validation;

mod helpers;
