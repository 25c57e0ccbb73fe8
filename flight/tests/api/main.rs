//! The flight service's integration tests: one binary, one module per area.

mod access;
mod catalog;
mod holds;
mod locking;
mod reflection;

mod helpers;
