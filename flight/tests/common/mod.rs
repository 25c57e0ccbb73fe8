//! Test harness: the real flight service on 127.0.0.1:0 with a fresh database
//! (SQLite, or PostgreSQL when TRAVEL_TEST_POSTGRES_URL is set) and a manual clock.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use prost_types::Timestamp;
use tokio::sync::oneshot;
use tonic::transport::Channel;
use travel::ManualClock;
use travel::pb::common::v1::{Date, Money};
use travel::pb::flight::v1 as pb;
use travel::pb::flight::v1::flight_service_client::FlightServiceClient;
use travel::testing::TestDatabase;
use travel::types::Instant;
use travel_flight::{Application, Config, Store};

/// Hold TTL used by the tests.
pub const TTL: Duration = Duration::from_secs(600);
/// The manual clock's start: 2030-01-01T00:00:00Z.
pub const START_MS: i64 = 1_893_456_000_000;

/// A running flight service and what a test needs to drive and inspect it.
pub struct TestFlight {
    pub client: FlightServiceClient<Channel>,
    pub store: Store,
    pub clock: ManualClock,
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    _db: TestDatabase,
}

impl TestFlight {
    /// Starts the service: bind first, then spawn, so the client can connect at once.
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// Starts the service with adjusted settings.
    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> Self {
        let db = TestDatabase::new("flight").await;
        let mut config = Config::new("127.0.0.1:0".parse().expect("addr"), db.url.clone());
        config.hold_ttl = TTL;
        config.sweep_interval = Duration::from_secs(3600); // tests sweep explicitly
        adjust(&mut config);
        let clock = ManualClock::new(Instant::from_unix_millis(START_MS));
        let app = Application::build_with_clock(config, Arc::new(clock.clone()))
            .await
            .expect("build the flight service");
        let addr = app.local_addr();
        let store = app.store().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until_stopped(async {
            let _ = stopped.await;
        }));
        let channel = Channel::from_shared(format!("http://{addr}"))
            .expect("uri")
            .connect()
            .await
            .expect("connect");
        Self {
            client: FlightServiceClient::new(channel),
            store,
            clock,
            addr,
            stop: Some(stop),
            server: Some(server),
            _db: db,
        }
    }

    /// Stops the service and waits for it to finish draining.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("server task").expect("server stopped cleanly");
        }
    }

    /// Creates a flight LIS→JFK with `capacity` seats at 120.00 EUR, departing at `departure_ms`.
    pub async fn create_flight(&self, capacity: i32, departure_ms: i64) -> pb::Flight {
        self.client
            .clone()
            .create_flight(flight_request("TP1234", "LIS", "JFK", departure_ms, capacity))
            .await
            .expect("create flight")
            .into_inner()
            .flight
            .expect("flight in response")
    }

    /// Holds `seats` on `flight_id` under `hold_id`.
    pub async fn hold(&self, hold_id: &str, flight_id: &str, seats: i32) -> Result<pb::SeatHold, tonic::Status> {
        let req = pb::HoldSeatsRequest {
            hold_id: hold_id.into(),
            flight_id: flight_id.into(),
            seats,
        };
        Ok(self
            .client
            .clone()
            .hold_seats(req)
            .await?
            .into_inner()
            .hold
            .expect("hold in response"))
    }

    /// Asserts `capacity = available + held + confirmed` for a flight, and returns the inventory.
    pub async fn assert_conserved(&self, flight_id: &str) -> travel_flight::store::Inventory {
        let inv = self.store.inventory(flight_id).await.expect("inventory");
        assert_eq!(
            inv.capacity,
            inv.available + inv.held + inv.confirmed,
            "conservation broken: {inv:?}"
        );
        assert!(
            inv.available >= 0 && inv.available <= inv.capacity,
            "availability out of range: {inv:?}"
        );
        inv
    }
}

/// A valid CreateFlightRequest; a 7-hour flight.
pub fn flight_request(
    number: &str,
    origin: &str,
    destination: &str,
    departure_ms: i64,
    capacity: i32,
) -> pb::CreateFlightRequest {
    pb::CreateFlightRequest {
        flight_number: number.into(),
        origin: origin.into(),
        destination: destination.into(),
        departure_time: Some(ts(departure_ms)),
        arrival_time: Some(ts(departure_ms + 7 * 3_600_000)),
        seat_price: Some(Money {
            amount_minor: 12_000,
            currency_code: "EUR".into(),
        }),
        capacity,
        request_id: String::new(),
    }
}

/// A timestamp from milliseconds.
pub fn ts(ms: i64) -> Timestamp {
    Timestamp::from(Instant::from_unix_millis(ms))
}

/// The UTC date of `ms`, as the contract's Date.
pub fn date_of(ms: i64) -> Date {
    Instant::from_unix_millis(ms).date().into()
}

/// The fields named in a status's BadRequest field violations.
pub fn violated_fields(status: &tonic::Status) -> Vec<String> {
    use tonic_types::StatusExt;
    status
        .get_error_details()
        .bad_request()
        .map(|b| b.field_violations.iter().map(|f| f.field.clone()).collect())
        .unwrap_or_default()
}
