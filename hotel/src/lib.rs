//! The hotel service: hotels and their room types, room search over every night
//! of a stay, and room holds that expire unless confirmed. `Application` builds
//! the service from its `Config` for the binary, the local stack and the tests
//! alike; the kit's hold-service host (`travel::hold::service`) does the
//! binding, sweeping and serving.
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
use travel::hold::service::NoEvents;
use travel::pb::hotel::v1::hotel_service_server::HotelServiceServer;
use travel::types::UnixMillis;

pub use error::Error;
pub use store::Store;
pub use travel::host::Deps;

/// The hotel service's settings: command-line flags, each with an environment twin.
pub type Config = travel::hold::service::Config<Hotels>;

/// The hotel service, bound and migrated, ready to run.
pub type Application = travel::hold::service::Application<Hotels>;

/// What is the hotel service's own in its host: its settings, store, API and migrations.
#[derive(Debug, Clone)]
pub struct Hotels;

impl Inventory for Hotels {
    const UNIT: &'static str = "room";
    const BINARY: &'static str = "travel-hotel";
    const ABOUT: &'static str = "The hotel service: hotels, room search and room holds over gRPC.";
    const LISTEN_ENV: &'static str = "HOTEL_LISTEN_ADDR";
    const METRICS_LISTEN_ENV: &'static str = "HOTEL_METRICS_LISTEN_ADDR";
    const DEFAULT_METRICS_LISTEN: &'static str = "0.0.0.0:9053";
    const DEFAULT_LISTEN: &'static str = "0.0.0.0:50053";
    const DATABASE_URL_ENV: &'static str = "HOTEL_DATABASE_URL";
    const DEFAULT_DATABASE_URL: &'static str = "sqlite://data/hotel.db?mode=rwc";
    const HOLD_TTL_ENV: &'static str = "HOTEL_HOLD_TTL";
    const SWEEP_INTERVAL_ENV: &'static str = "HOTEL_SWEEP_INTERVAL";
    const SWEEP_BATCH_ENV: &'static str = "HOTEL_SWEEP_BATCH";
    const INVENTORY_METRICS_INTERVAL_ENV: &'static str = "HOTEL_INVENTORY_METRICS_INTERVAL";
    const AVAILABLE_GAUGE: (&'static str, &'static str) = (
        "travel_hotel_room_nights_available",
        "Room-nights free to hold over the next 30 nights (UTC, tonight included), summed over every room type.",
    );
    type Store = Store;
    type Server = HotelServiceServer<api::HotelApi>;
    type Events = NoEvents;

    fn events(_: &NoEvents) -> Option<&EventArgs> {
        None
    }

    fn migrations() -> &'static Migrations {
        travel::migrations!()
    }

    fn open(db: Database, holds: HoldMetrics) -> Store {
        Store::new(db, holds)
    }

    fn api(store: Store, clock: SharedClock, hold_ttl: Duration) -> Self::Server {
        HotelServiceServer::new(api::HotelApi::new(store, clock, hold_ttl))
    }

    async fn available(store: &Store, now: UnixMillis) -> Result<i64, Error> {
        store.room_nights_available(now).await
    }
}
