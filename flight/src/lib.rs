//! The flight service: the catalog of flights, seat search, and seat holds that
//! expire unless confirmed. `Application` builds the service from its `Config`
//! for the binary, the local stack and the tests alike; the kit's hold-service
//! host (`travel::hold::service`) does the binding, sweeping and serving.
#![forbid(unsafe_code)]

pub mod api;
pub mod config;
pub mod convert;
pub mod domain;
pub mod error;
pub mod store;

use std::time::Duration;

use travel::SharedClock;
use travel::db::{Database, Migrations};
use travel::hold::service::{Inventory, Settings};
use travel::pb::flight::v1::flight_service_server::FlightServiceServer;

pub use config::Config;
pub use error::Error;
pub use store::Store;
pub use travel::host::Deps;

/// The flight service, bound and migrated, ready to run.
pub type Application = travel::hold::service::Application<Flights>;

/// What is the flight service's own in its host: its settings, store, API and migrations.
#[derive(Debug)]
pub struct Flights;

impl Inventory for Flights {
    const UNIT: &'static str = "seat";
    type Config = Config;
    type Store = Store;
    type Server = FlightServiceServer<api::FlightApi>;

    fn migrations() -> &'static Migrations {
        travel::migrations!()
    }

    fn settings(config: &Config) -> Settings<'_> {
        config.settings()
    }

    fn open(db: Database) -> Store {
        Store::new(db)
    }

    fn api(store: Store, clock: SharedClock, hold_ttl: Duration) -> Self::Server {
        FlightServiceServer::new(api::FlightApi::new(store, clock, hold_ttl))
    }
}
