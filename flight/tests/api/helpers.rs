//! Test harness: the real flight service on 127.0.0.1:0 with a fresh database
//! (SQLite, or PostgreSQL when TRAVEL_TEST_POSTGRES_URL is set) and a manual clock.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use prost_types::Timestamp;
use tonic::transport::Channel;
use travel::jwt::{KeyPair, Role};
use travel::key_ring::KeyRing;
use travel::metrics::Registry;
use travel::pb::common::v1::{Date, Money};
use travel::pb::flight::v1 as pb;
use travel::pb::flight::v1::flight_service_client::FlightServiceClient;
use travel::testing::{
    Authed, TestDatabase, TestServer, assert_conserved, bearer_as, manual_clock, test_key, test_keys,
};
pub use travel::testing::{START_MS, violated_fields};
use travel::types::UnixMillis;
use travel::{Clock, ManualClock};
use travel_flight::{Application, Config, Store};

/// Hold TTL used by the tests.
pub const TTL: Duration = Duration::from_secs(600);

/// A flight client that sends a fixed bearer token, or none.
pub type Client = FlightServiceClient<Authed>;

/// A running flight service and what a test needs to drive and inspect it.
pub struct TestFlight {
    /// Signed in as a service account: may hold, confirm and release.
    pub client: Client,
    /// Signed in as an admin: may create flights.
    pub admin: Client,
    /// No credentials.
    pub anonymous: Client,
    /// The key the service trusts, to mint tokens with.
    pub key: KeyPair,
    pub store: Store,
    pub clock: ManualClock,
    pub addr: SocketAddr,
    /// The service's metrics, as `/metrics` serves them.
    pub metrics: Registry,
    channel: Channel,
    server: TestServer,
    db: TestDatabase,
}

impl TestFlight {
    /// Starts the service: bind first, then spawn, so the client can connect at once.
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// Starts the service with adjusted settings.
    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> Self {
        Self::start_full(adjust, test_keys()).await
    }

    /// Starts the service trusting exactly `keys`.
    pub async fn start_with_keys(keys: Arc<KeyRing>) -> Self {
        Self::start_full(|_| {}, keys).await
    }

    async fn start_full(adjust: impl FnOnce(&mut Config), keys: Arc<KeyRing>) -> Self {
        let db = TestDatabase::new("flight").await;
        let mut config = Config::new("127.0.0.1:0".parse().expect("addr"), db.url.clone());
        config.hold_ttl = TTL;
        config.sweep_interval = Duration::from_secs(3600); // tests sweep explicitly
        adjust(&mut config);
        let clock = manual_clock();
        let app = Application::build_with(
            config,
            travel_flight::Deps {
                clock: Arc::new(clock.clone()),
                keys,
            },
        )
        .await
        .expect("build the flight service");
        let addr = app.local_addr();
        let store = app.store().clone();
        let metrics = app.metrics().clone();
        let server = TestServer::spawn(|shutdown| app.run_until_stopped(shutdown));
        let channel = travel::testing::connect(addr).await;
        let client_as =
            |role: Option<Role>| FlightServiceClient::with_interceptor(channel.clone(), bearer_as(role, clock.now()));
        Self {
            client: client_as(Some(Role::Service)),
            admin: client_as(Some(Role::Admin)),
            anonymous: client_as(None),
            key: test_key(),
            channel: channel.clone(),
            store,
            clock,
            addr,
            metrics,
            server,
            db,
        }
    }

    /// A client that sends `token` (or nothing).
    pub fn client_with_token(&self, token: Option<&str>) -> Client {
        FlightServiceClient::with_interceptor(self.channel.clone(), travel::testing::Bearer::new(token))
    }

    /// A token for `role` from the trusted key, valid for `valid_secs` from now.
    pub fn token(&self, role: Role, valid_secs: i64) -> String {
        sign(&self.key, &self.clock, role, valid_secs)
    }

    /// The URL of this test's database, for tests that drive it from outside.
    pub fn database_url(&self) -> &str {
        &self.db.url
    }

    /// True when this test runs on PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        self.db.is_postgres()
    }

    /// Stops the service and waits for it to finish draining.
    pub async fn stop(self) {
        self.server.stop().await;
    }

    /// Creates a flight LIS→JFK with `capacity` seats at 120.00 EUR, departing at `departure_ms`.
    pub async fn create_flight(&self, capacity: i32, departure_ms: i64) -> pb::Flight {
        self.admin
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
        assert_conserved(inv.capacity, [inv.available, inv.held, inv.confirmed], "", &inv);
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
    Timestamp::from(UnixMillis::from_unix_millis(ms))
}

/// The UTC date of `ms`, as the contract's Date.
pub fn date_of(ms: i64) -> Date {
    UnixMillis::from_unix_millis(ms).date().into()
}

/// Signs a token for `role` with the defaults the services expect.
pub fn sign(key: &KeyPair, clock: &ManualClock, role: Role, valid_secs: i64) -> String {
    travel::testing::sign_token(key, clock.now(), role, valid_secs)
}
