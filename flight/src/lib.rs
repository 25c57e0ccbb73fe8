//! The flight service: the catalog of flights, seat search, and seat holds that
//! expire unless confirmed. `Application` builds the service from its `Config`
//! for the binary, the local stack and the tests alike; the kit's hold-service
//! host (`travel::hold::service`) does the binding, sweeping and serving.
#![forbid(unsafe_code)]

pub mod api;
pub mod convert;
pub mod domain;
pub mod error;
pub mod store;

use std::time::Duration;

use travel::SharedClock;
use travel::config::EventArgs;
use travel::db::{Database, Migrations};
use travel::hold::HoldMetrics;
use travel::hold::service::Inventory;
use travel::pb::flight::v1::flight_service_server::FlightServiceServer;
use travel::types::UnixMillis;

pub use error::Error;
pub use store::Store;
pub use travel::host::Deps;

/// The flight service's settings: command-line flags, each with an environment twin.
pub type Config = travel::hold::service::Config<Flights>;

/// The flight service, bound and migrated, ready to run.
pub type Application = travel::hold::service::Application<Flights>;

/// What is the flight service's own in its host: its settings, store, API and migrations.
#[derive(Debug, Clone)]
pub struct Flights;

impl Inventory for Flights {
    const UNIT: &'static str = "seat";
    const BINARY: &'static str = "travel-flight";
    const ABOUT: &'static str = "The flight service: flights, seat search and seat holds over gRPC.";
    const LISTEN_ENV: &'static str = "FLIGHT_LISTEN_ADDR";
    const METRICS_LISTEN_ENV: &'static str = "FLIGHT_METRICS_LISTEN_ADDR";
    const DEFAULT_METRICS_LISTEN: &'static str = "0.0.0.0:9052";
    const DEFAULT_LISTEN: &'static str = "0.0.0.0:50052";
    const DATABASE_URL_ENV: &'static str = "FLIGHT_DATABASE_URL";
    const DEFAULT_DATABASE_URL: &'static str = "sqlite://data/flight.db?mode=rwc";
    const HOLD_TTL_ENV: &'static str = "FLIGHT_HOLD_TTL";
    const SWEEP_INTERVAL_ENV: &'static str = "FLIGHT_SWEEP_INTERVAL";
    const SWEEP_BATCH_ENV: &'static str = "FLIGHT_SWEEP_BATCH";
    const INVENTORY_METRICS_INTERVAL_ENV: &'static str = "FLIGHT_INVENTORY_METRICS_INTERVAL";
    const AVAILABLE_GAUGE: (&'static str, &'static str) = (
        "travel_flight_seats_available",
        "Seats free to hold, summed over every flight that has not departed.",
    );
    type Store = Store;
    type Server = FlightServiceServer<api::FlightApi>;
    type Events = EventArgs;

    fn events(events: &EventArgs) -> Option<&EventArgs> {
        Some(events)
    }

    fn migrations() -> &'static Migrations {
        travel::migrations!()
    }

    fn open(db: Database, holds: HoldMetrics) -> Store {
        Store::new(db, holds)
    }

    fn api(store: Store, clock: SharedClock, hold_ttl: Duration) -> Self::Server {
        FlightServiceServer::new(api::FlightApi::new(store, clock, hold_ttl))
    }

    async fn available(store: &Store, now: UnixMillis) -> Result<i64, Error> {
        store.seats_available(now).await
    }
}
