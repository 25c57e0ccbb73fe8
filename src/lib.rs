//! The `travel` kit: the generated gRPC code of every contract under `proto/`, and
//! what every service shares — the service host (database and migrations,
//! serving with health, reflection, limits and graceful shutdown, background
//! tasks), the periodic loops, configuration, the database, telemetry, error
//! helpers, paging, the clock, and the value types of the contracts (money,
//! dates, hold ids).
#![forbid(unsafe_code)]

pub mod access;
pub mod background;
pub mod breaker;
pub mod clock;
pub mod config;
pub mod db;
pub mod deadline;
pub mod discovery;
pub mod error;
pub mod events;
pub mod hold;
pub mod host;
pub mod jwt;
pub mod key_ring;
pub mod metrics;
pub mod page;
pub mod pb;
pub mod request_store;
pub mod retry;
pub mod server;
pub mod shed;
pub mod stored;
pub mod telemetry;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod types;

pub use clock::{Clock, ManualClock, SharedClock, SystemClock};
pub use error::Violations;
