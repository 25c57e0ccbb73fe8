//! The auth service's integration tests: one binary, one module per area.

mod accounts;
mod hardening;
mod keys;
mod login;
mod memory;
mod observability;
mod review;
mod sessions;
mod spray;

mod helpers;
