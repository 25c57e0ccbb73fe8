//! Test harness: the real flight, hotel and reservation services on
//! 127.0.0.1:0, each with its own fresh database (SQLite, or PostgreSQL when
//! TRAVEL_TEST_POSTGRES_URL is set), manual clocks, and the helpers the tests
//! use to book, break things, restart, and check inventory on both services.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tonic::transport::Channel;
use travel::jwt::{Claims, Role};
use travel::pb::common::v1::{Date, Money};
use travel::pb::flight::v1 as flight_pb;
use travel::pb::flight::v1::flight_service_client::FlightServiceClient;
use travel::pb::flight::v1::flight_service_server::{FlightService, FlightServiceServer};
use travel::pb::hotel::v1 as hotel_pb;
use travel::pb::hotel::v1::hotel_service_client::HotelServiceClient;
use travel::pb::hotel::v1::hotel_service_server::{HotelService, HotelServiceServer};
use travel::pb::reservation::v1 as pb;
use travel::pb::reservation::v1::reservation_service_client::ReservationServiceClient;
use travel::testing::{
    Authed, Bearer, Killable, Serving, TestDatabase, assert_conserved, bearer_as, channel, hotel_with_one_room_type,
    manual_clock, sign_token, test_key, test_keys as keys,
};
pub use travel::testing::{START_MS, TestServer as Server, violated_fields};
use travel::types::UnixMillis;
use travel::{Clock, ManualClock};
use travel_reservation::{Application, Config, CrashPoint, Deps, Recovery, ServiceToken};

/// Departure of the test flights: 2030-02-01T10:00:00Z.
pub const DEPARTURE_MS: i64 = START_MS + 31 * 86_400_000 + 10 * 3_600_000;
/// The first night the tests book.
pub const FIRST_NIGHT: &str = "2030-03-01";
/// Price of one seat on the test flights: 120.00 EUR.
pub const SEAT_PRICE: i64 = 12_000;
/// Price of one room for one night: 90.00.
pub const NIGHT_PRICE: i64 = 9_000;
/// The reservation service's lease in tests.
pub const LEASE: Duration = Duration::from_secs(60);

/// A reservation client that sends a fixed bearer token, or none.
pub type Client = ReservationServiceClient<Authed>;
type FlightClient = FlightServiceClient<Authed>;
type HotelClient = HotelServiceClient<Authed>;

/// The flight service.
pub struct Flight {
    pub store: travel_flight::Store,
    pub url: String,
    admin: FlightClient,
    anonymous: FlightClient,
    /// Serves until the world is dropped.
    _server: Server,
    /// Its database (replicas share it).
    pub db: TestDatabase,
}

/// The hotel service.
pub struct Hotel {
    pub store: travel_hotel::Store,
    pub url: String,
    admin: HotelClient,
    /// Serves until the world is dropped.
    _server: Server,
    /// Its database (replicas share it).
    pub db: TestDatabase,
}

/// A running reservation service.
pub struct Reservations {
    pub store: travel_reservation::Store,
    pub recovery: Recovery,
    /// The service's metrics registry, as `/metrics` serves it.
    pub metrics: travel::metrics::Registry,
    channel: Channel,
    clock: ManualClock,
    pub server: Server,
}

/// The three services, and the reservation service's database and clock
/// (which outlive one reservation process, for restarts).
pub struct World {
    pub flight: Flight,
    pub hotel: Hotel,
    pub clock: ManualClock,
    pub db: TestDatabase,
    /// How the flight service's events reach the reservation services: a bus
    /// they share in process, or a broker with a queue of this world's own.
    pub events: travel::config::EventArgs,
    /// The reservation services' queue on the broker.
    pub events_queue: String,
}

impl World {
    /// Starts the flight and hotel services; the reservation service is started
    /// with [`World::reservations`].
    pub async fn start() -> Self {
        Self::start_with_hold_ttl(Duration::from_secs(15 * 60)).await
    }

    /// As [`World::start`], with the flight and hotel services keeping holds for `hold_ttl`.
    pub async fn start_with_hold_ttl(hold_ttl: Duration) -> Self {
        let events = travel::config::EventArgs {
            local: Some(travel::events::bus::Bus::default()),
            ..travel::config::EventArgs::default()
        };
        Self::start_full(hold_ttl, events).await
    }

    /// As [`World::start`], the services' events going through the RabbitMQ at
    /// `broker_url`, on a queue of this world's own.
    pub async fn start_on_broker(broker_url: &str) -> Self {
        let events = travel::config::EventArgs {
            broker_url: Some(broker_url.to_owned()),
            ..travel::config::EventArgs::default()
        };
        Self::start_full(Duration::from_secs(15 * 60), events).await
    }

    async fn start_full(hold_ttl: Duration, events: travel::config::EventArgs) -> Self {
        Self {
            flight: start_flight(hold_ttl, &events).await,
            hotel: start_hotel(hold_ttl).await,
            clock: manual_clock(),
            db: TestDatabase::new("reservation").await,
            events,
            events_queue: format!("test.reservation.{}", uuid::Uuid::new_v4()),
        }
    }

    /// Starts a reservation service on the world's database and clock, calling
    /// the world's flight and hotel services.
    pub async fn reservations(&self) -> Reservations {
        self.reservations_with(|_| {}).await
    }

    /// As [`World::reservations`], with adjusted settings.
    pub async fn reservations_with(&self, adjust: impl FnOnce(&mut Config)) -> Reservations {
        let config = self.config_with(adjust);
        let app = self
            .build(config, self.service_token())
            .await
            .expect("build the reservation service");
        let addr = app.local_addr();
        let store = app.store().clone();
        let recovery = app.recovery();
        let metrics = app.metrics().clone();
        let server = Server::spawn(|shutdown| app.run_until_stopped(shutdown));
        Reservations {
            store,
            recovery,
            metrics,
            channel: channel(&format!("http://{addr}")).await,
            clock: self.clock.clone(),
            server,
        }
    }

    /// The settings of the reservation services the tests start, `adjust`ed:
    /// the world's services and database, the test lease, no recovery timer
    /// (tests recover explicitly).
    pub fn config_with(&self, adjust: impl FnOnce(&mut Config)) -> Config {
        let mut config = self.bare_config();
        config.flight_url = self.flight.url.clone();
        config.hotel_url = self.hotel.url.clone();
        config.events = self.events.clone();
        config.events_queue = self.events_queue.clone();
        config.lease = LEASE;
        config.recovery_interval = Duration::from_secs(600);
        // At least lease + recovery interval + call timeout, as start-up checks.
        config.min_hold_ttl_at_pivot = Duration::from_secs(12 * 60);
        adjust(&mut config);
        config
    }

    /// The service token the tests' reservation services call with.
    pub fn service_token(&self) -> ServiceToken {
        ServiceToken::fixed(sign_token(&test_key(), self.clock.now(), Role::Service, 86_400))
    }

    /// A reservation service as [`World::reservations_with`] starts one, on a
    /// runtime of its own so that a test can kill it (its recovery timer off).
    pub async fn reservation_replica(&self, adjust: impl FnOnce(&mut Config)) -> Killable {
        let config = self.config_with(adjust);
        let deps = Deps {
            clock: Arc::new(self.clock.clone()),
            keys: keys(),
            service_token: self.service_token(),
        };
        Killable::start(move |shutdown| async move {
            let app = Application::build_with(config, deps).await?;
            let addr = app.local_addr();
            let serving: Serving = Box::pin(app.run_until_stopped(shutdown));
            Ok((addr, serving))
        })
        .await
    }

    /// The reservation service's default settings on the world's database.
    pub fn bare_config(&self) -> Config {
        Config::new("127.0.0.1:0".parse().expect("addr"), self.db.url.clone())
    }

    /// Builds (binds, not yet serving) a reservation service with `config`, on
    /// the world's clock, trusting the test key and calling with `service_token`.
    pub async fn build(&self, config: Config, service_token: ServiceToken) -> anyhow::Result<Application> {
        let deps = Deps {
            clock: Arc::new(self.clock.clone()),
            keys: keys(),
            service_token,
        };
        Application::build_with(config, deps).await
    }

    /// Starts a reservation service whose saga crashes right after persisting `point`.
    pub async fn crashing_at(&self, point: CrashPoint) -> Reservations {
        self.reservations_with(|c| c.crash_after = Some(point)).await
    }

    /// Lets every lease run out, as if the time of a restart passed.
    pub fn leases_run_out(&self) {
        self.clock.advance(LEASE + Duration::from_secs(1));
    }
}

async fn start_flight(hold_ttl: Duration, events: &travel::config::EventArgs) -> Flight {
    let db = TestDatabase::new("flight").await;
    let mut config = travel_flight::Config::new("127.0.0.1:0".parse().expect("addr"), db.url.clone());
    config.hold_ttl = hold_ttl;
    config.events = events.clone();
    config.sweep_interval = Duration::from_secs(3600);
    let clock = manual_clock();
    let app = travel_flight::Application::build_with(
        config,
        travel_flight::Deps {
            clock: Arc::new(clock.clone()),
            keys: keys(),
        },
    )
    .await
    .expect("build the flight service");
    let url = format!("http://{}", app.local_addr());
    let store = app.store().clone();
    let server = Server::spawn(|shutdown| app.run_until_stopped(shutdown));
    let channel = channel(&url).await;
    Flight {
        store,
        admin: FlightServiceClient::with_interceptor(channel.clone(), bearer_as(Some(Role::Admin), clock.now())),
        anonymous: FlightServiceClient::with_interceptor(channel, bearer_as(None, clock.now())),
        url,
        _server: server,
        db,
    }
}

async fn start_hotel(hold_ttl: Duration) -> Hotel {
    let db = TestDatabase::new("hotel").await;
    let mut config = travel_hotel::Config::new("127.0.0.1:0".parse().expect("addr"), db.url.clone());
    config.hold_ttl = hold_ttl;
    config.sweep_interval = Duration::from_secs(3600);
    let clock = manual_clock();
    let app = travel_hotel::Application::build_with(
        config,
        travel_hotel::Deps {
            clock: Arc::new(clock.clone()),
            keys: keys(),
        },
    )
    .await
    .expect("build the hotel service");
    let url = format!("http://{}", app.local_addr());
    let store = app.store().clone();
    let server = Server::spawn(|shutdown| app.run_until_stopped(shutdown));
    Hotel {
        store,
        admin: HotelServiceClient::with_interceptor(channel(&url).await, bearer_as(Some(Role::Admin), clock.now())),
        url,
        _server: server,
        db,
    }
}

/// Another replica of the world's flight service, on its database, at
/// `listen` (`127.0.0.1:0` for any port), set up by `adjust`: on a runtime of
/// its own, so that a test can kill it.
pub async fn flight_replica(world: &World, listen: SocketAddr, adjust: fn(&mut travel_flight::Config)) -> Killable {
    observed_flight_replica(world, listen, adjust).await.0
}

/// As [`flight_replica`], with the replica's metrics registry.
pub async fn observed_flight_replica(
    world: &World,
    listen: SocketAddr,
    adjust: fn(&mut travel_flight::Config),
) -> (Killable, travel::metrics::Registry) {
    let database_url = world.flight.db.url.clone();
    let (registry, metrics) = tokio::sync::oneshot::channel();
    let replica = Killable::start(move |shutdown| async move {
        let mut config = travel_flight::Config::new(listen, database_url);
        config.sweep_interval = Duration::from_secs(3600);
        adjust(&mut config);
        let deps = travel_flight::Deps {
            clock: Arc::new(manual_clock()),
            keys: keys(),
        };
        let app = travel_flight::Application::build_with(config, deps).await?;
        let _ = registry.send(app.metrics().clone());
        let addr = app.local_addr();
        let serving: Serving = Box::pin(app.run_until_stopped(shutdown));
        Ok((addr, serving))
    })
    .await;
    (replica, metrics.await.expect("the replica's metrics"))
}

/// Another replica of the world's hotel service, as [`flight_replica`].
pub async fn hotel_replica(world: &World, listen: SocketAddr, adjust: fn(&mut travel_hotel::Config)) -> Killable {
    let database_url = world.hotel.db.url.clone();
    Killable::start(move |shutdown| async move {
        let mut config = travel_hotel::Config::new(listen, database_url);
        config.sweep_interval = Duration::from_secs(3600);
        adjust(&mut config);
        let deps = travel_hotel::Deps {
            clock: Arc::new(manual_clock()),
            keys: keys(),
        };
        let app = travel_hotel::Application::build_with(config, deps).await?;
        let addr = app.local_addr();
        let serving: Serving = Box::pin(app.run_until_stopped(shutdown));
        Ok((addr, serving))
    })
    .await
}

/// A real auth service on its own database and a manual clock, with `adjust`ed
/// settings: its URL, its server, and the database it must outlive.
pub async fn start_auth(adjust: impl FnOnce(&mut travel_auth::Config)) -> (String, Server, TestDatabase) {
    let db = TestDatabase::new("auth").await;
    let mut config = travel_auth::Config::new("127.0.0.1:0".parse().expect("addr"), db.url.clone());
    adjust(&mut config);
    let auth = travel_auth::Application::build_with(
        config,
        travel_auth::Deps {
            clock: Arc::new(manual_clock()),
        },
    )
    .await
    .expect("build the auth service");
    let url = format!("http://{}", auth.local_addr());
    let server = Server::spawn(|shutdown| auth.run_until_stopped(shutdown));
    (url, server, db)
}

impl Flight {
    /// Creates a flight LIS→JFK with `capacity` seats at [`SEAT_PRICE`] in `currency`.
    pub async fn create(&self, capacity: i32, currency: &str) -> String {
        let request = flight_pb::CreateFlightRequest {
            flight_number: "TP1234".into(),
            origin: "LIS".into(),
            destination: "JFK".into(),
            departure_time: Some(UnixMillis::from_unix_millis(DEPARTURE_MS).into()),
            arrival_time: Some(UnixMillis::from_unix_millis(DEPARTURE_MS + 7 * 3_600_000).into()),
            seat_price: Some(money(SEAT_PRICE, currency)),
            capacity,
            request_id: String::new(),
        };
        let flight = self.admin.clone().create_flight(request).await.expect("create flight");
        flight.into_inner().flight.expect("flight in response").id
    }

    /// Cancels a flight as the airline (an admin).
    pub async fn cancel(&self, flight_id: &str, reason: &str) -> flight_pb::Flight {
        let request = flight_pb::CancelFlightRequest {
            id: flight_id.into(),
            reason: reason.into(),
        };
        let flight = self.admin.clone().cancel_flight(request).await.expect("cancel flight");
        flight.into_inner().flight.expect("flight in response")
    }

    /// Moves a flight one hour later as the airline (an admin): a FlightRescheduled event.
    pub async fn reschedule_an_hour_later(&self, flight_id: &str) -> flight_pb::Flight {
        let flight = self
            .admin
            .clone()
            .get_flight(flight_pb::GetFlightRequest { id: flight_id.into() })
            .await
            .expect("get flight")
            .into_inner()
            .flight
            .expect("flight in response");
        let later = |t: Option<prost_types::Timestamp>| {
            t.map(|t| prost_types::Timestamp {
                seconds: t.seconds + 3600,
                nanos: t.nanos,
            })
        };
        let request = flight_pb::RescheduleFlightRequest {
            id: flight_id.into(),
            departure_time: later(flight.departure_time),
            arrival_time: later(flight.arrival_time),
            reason: "late inbound aircraft".into(),
        };
        let flight = self
            .admin
            .clone()
            .reschedule_flight(request)
            .await
            .expect("reschedule flight");
        flight.into_inner().flight.expect("flight in response")
    }

    /// Asserts `capacity = available + held + confirmed` and returns `(available, held, confirmed)`.
    pub async fn inventory(&self, flight_id: &str) -> (i64, i64, i64) {
        let inv = self.store.inventory(flight_id).await.expect("flight inventory");
        assert_eq!(
            inv.capacity,
            inv.available + inv.held + inv.confirmed,
            "seat conservation broken: {inv:?}"
        );
        assert!(
            (0..=inv.capacity).contains(&inv.available),
            "availability out of range: {inv:?}"
        );
        (inv.available, inv.held, inv.confirmed)
    }

    /// Flights LIS→JFK on the test day with a seat, as an anonymous searcher sees them.
    pub async fn search(&self) -> Result<usize, tonic::Status> {
        let request = flight_pb::SearchFlightsRequest {
            origin: "LIS".into(),
            destination: "JFK".into(),
            departure_date: Some(UnixMillis::from_unix_millis(DEPARTURE_MS).date().into()),
            passengers: 1,
            page_size: 0,
            page_token: String::new(),
        };
        Ok(self
            .anonymous
            .clone()
            .search_flights(request)
            .await?
            .into_inner()
            .flights
            .len())
    }
}

/// A room type as the tests use it.
#[derive(Debug, Clone)]
pub struct RoomType {
    pub hotel_id: String,
    pub id: String,
}

impl Hotel {
    /// Creates a hotel with one room type of `rooms` rooms sleeping 2, at [`NIGHT_PRICE`] in `currency`.
    pub async fn create(&self, rooms: i32, currency: &str) -> RoomType {
        let (hotel_id, id) = hotel_with_one_room_type(
            &self.admin,
            "Hotel Avenida",
            "Lisbon",
            rooms,
            money(NIGHT_PRICE, currency),
        )
        .await;
        RoomType { hotel_id, id }
    }

    /// Asserts conservation on night number `n` and returns `(available, held, confirmed)`.
    pub async fn inventory(&self, room_type: &RoomType, n: i64) -> (i64, i64, i64) {
        let inv = self
            .store
            .inventory(&room_type.id, night_date(n))
            .await
            .expect("hotel inventory");
        assert_conserved(
            inv.total_rooms,
            [inv.available, inv.held, inv.confirmed],
            &format!(" on night {n}"),
            &inv,
        );
        (inv.available, inv.held, inv.confirmed)
    }
}

impl Reservations {
    /// A client signed in as customer `user`.
    pub fn customer(&self, user: &str) -> Client {
        self.client(Some(&user_token(&self.clock, user, Role::Customer)))
    }

    /// A client signed in as admin `user`.
    pub fn admin(&self, user: &str) -> Client {
        self.client(Some(&user_token(&self.clock, user, Role::Admin)))
    }

    /// A client signed in as a service account.
    pub fn service(&self) -> Client {
        ReservationServiceClient::with_interceptor(
            self.channel.clone(),
            bearer_as(Some(Role::Service), self.clock.now()),
        )
    }

    /// A client without credentials.
    pub fn anonymous(&self) -> Client {
        self.client(None)
    }

    fn client(&self, token: Option<&str>) -> Client {
        ReservationServiceClient::with_interceptor(self.channel.clone(), Bearer::new(token))
    }

    /// One recovery pass.
    pub async fn recover(&self) -> travel_reservation::recovery::Pass {
        self.recovery.run_once().await.expect("recovery pass")
    }

    /// Stops the service (a restart is a new [`World::reservations`] on the same database).
    pub async fn stop(self) {
        self.server.stop().await;
    }
}

/// A client of the reservation service at `url`, signed in as customer `user`
/// with a token of `clock`'s time.
pub fn customer_at(url: &str, clock: &ManualClock, user: &str) -> Client {
    let channel = Channel::from_shared(url.to_owned()).expect("uri").connect_lazy();
    ReservationServiceClient::with_interceptor(channel, Bearer::new(Some(&user_token(clock, user, Role::Customer))))
}

/// A token for `user` with `role`.
pub fn user_token(clock: &ManualClock, user: &str, role: Role) -> String {
    let now = clock.now().unix_millis() / 1000;
    test_key().sign(&Claims {
        iss: "travel-auth".into(),
        aud: "travel".into(),
        sub: user.into(),
        role,
        iat: now,
        exp: now + 86_400,
    })
}

/// A checkout of `seats` seats on `flight_id`.
pub fn flight_only(request_id: &str, flight_id: &str, seats: i32) -> pb::CheckoutRequest {
    pb::CheckoutRequest {
        request_id: request_id.into(),
        flight: Some(pb::FlightSelection {
            flight_id: flight_id.into(),
            seats,
        }),
        hotel: None,
    }
}

/// A checkout of `rooms` rooms of `room_type` for the nights 0..`nights`, for as many guests as rooms.
pub fn hotel_only(request_id: &str, room_type: &RoomType, rooms: i32, nights: i64) -> pb::CheckoutRequest {
    pb::CheckoutRequest {
        request_id: request_id.into(),
        flight: None,
        hotel: Some(pb::HotelSelection {
            hotel_id: room_type.hotel_id.clone(),
            room_type_id: room_type.id.clone(),
            check_in: Some(night(0)),
            check_out: Some(night(nights)),
            rooms,
            guests: rooms,
        }),
    }
}

/// A bundle of both.
pub fn bundle(
    request_id: &str,
    flight_id: &str,
    seats: i32,
    room_type: &RoomType,
    rooms: i32,
    nights: i64,
) -> pb::CheckoutRequest {
    pb::CheckoutRequest {
        flight: flight_only(request_id, flight_id, seats).flight,
        ..hotel_only(request_id, room_type, rooms, nights)
    }
}

/// Checks out and returns the reservation the call answered with.
pub async fn checkout(client: &Client, request: pb::CheckoutRequest) -> Result<pb::Reservation, tonic::Status> {
    let response = client.clone().checkout(request).await?;
    Ok(response.into_inner().reservation.expect("reservation in response"))
}

/// Gets a reservation.
pub async fn get(client: &Client, id: &str) -> Result<pb::Reservation, tonic::Status> {
    let response = client
        .clone()
        .get_reservation(pb::GetReservationRequest { id: id.into() })
        .await?;
    Ok(response.into_inner().reservation.expect("reservation in response"))
}

/// Cancels a reservation.
pub async fn cancel(client: &Client, id: &str) -> Result<pb::Reservation, tonic::Status> {
    let response = client
        .clone()
        .cancel_reservation(pb::CancelReservationRequest { id: id.into() })
        .await?;
    Ok(response.into_inner().reservation.expect("reservation in response"))
}

/// The state of a reservation, as the enum.
pub fn state(r: &pb::Reservation) -> pb::ReservationState {
    pb::ReservationState::try_from(r.state).expect("known state")
}

/// An amount of money.
pub fn money(amount_minor: i64, currency: &str) -> Money {
    Money {
        amount_minor,
        currency_code: currency.into(),
    }
}

/// Night number `n` after [`FIRST_NIGHT`].
pub fn night_date(n: i64) -> travel::types::Date {
    let first = travel::types::Date::parse_iso(FIRST_NIGHT).expect("first night");
    UnixMillis::from_unix_millis(first.start().unix_millis() + n * 86_400_000).date()
}

/// Night number `n`, as the contract's Date.
pub fn night(n: i64) -> Date {
    night_date(n).into()
}

/// A URL where nothing listens: a port bound and let go.
pub fn dead_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

/// A URL where a server accepts connections and never answers, kept alive by
/// the returned task (abort it to stop).
pub async fn hanging_url() -> (String, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    (url, task)
}

fn unimplemented<T>() -> Result<tonic::Response<T>, tonic::Status> {
    Err(tonic::Status::unimplemented("not in this fake"))
}

type Answer<T> = Result<tonic::Response<T>, tonic::Status>;

/// What the reservation service calls on a hotel, for fakes of it: the calls a
/// fake does not write, and the catalog's, answer UNIMPLEMENTED.
#[tonic::async_trait]
pub trait FakeHotel: Clone + Send + Sync + 'static {
    async fn hold_rooms(&self, _: tonic::Request<hotel_pb::HoldRoomsRequest>) -> Answer<hotel_pb::HoldRoomsResponse> {
        unimplemented()
    }
    async fn confirm_rooms(
        &self,
        _: tonic::Request<hotel_pb::ConfirmRoomsRequest>,
    ) -> Answer<hotel_pb::ConfirmRoomsResponse> {
        unimplemented()
    }
    async fn release_rooms(
        &self,
        _: tonic::Request<hotel_pb::ReleaseRoomsRequest>,
    ) -> Answer<hotel_pb::ReleaseRoomsResponse> {
        unimplemented()
    }
}

/// Serves `fake` as a hotel service on 127.0.0.1:0 (bound before it is
/// spawned): its URL, and the serving task (abort it to stop).
pub async fn serve_hotel(
    fake: impl FakeHotel,
) -> (String, tokio::task::JoinHandle<Result<(), tonic::transport::Error>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let task = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(HotelServiceServer::new(AsHotel(fake)))
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );
    (url, task)
}

#[derive(Clone)]
struct AsHotel<T>(T);

#[tonic::async_trait]
impl<T: FakeHotel> HotelService for AsHotel<T> {
    async fn create_hotel(
        &self,
        _: tonic::Request<hotel_pb::CreateHotelRequest>,
    ) -> Answer<hotel_pb::CreateHotelResponse> {
        unimplemented()
    }
    async fn add_room_type(
        &self,
        _: tonic::Request<hotel_pb::AddRoomTypeRequest>,
    ) -> Answer<hotel_pb::AddRoomTypeResponse> {
        unimplemented()
    }
    async fn get_hotel(&self, _: tonic::Request<hotel_pb::GetHotelRequest>) -> Answer<hotel_pb::GetHotelResponse> {
        unimplemented()
    }
    async fn search_hotels(
        &self,
        _: tonic::Request<hotel_pb::SearchHotelsRequest>,
    ) -> Answer<hotel_pb::SearchHotelsResponse> {
        unimplemented()
    }
    async fn hold_rooms(
        &self,
        request: tonic::Request<hotel_pb::HoldRoomsRequest>,
    ) -> Answer<hotel_pb::HoldRoomsResponse> {
        self.0.hold_rooms(request).await
    }
    async fn confirm_rooms(
        &self,
        request: tonic::Request<hotel_pb::ConfirmRoomsRequest>,
    ) -> Answer<hotel_pb::ConfirmRoomsResponse> {
        self.0.confirm_rooms(request).await
    }
    async fn release_rooms(
        &self,
        request: tonic::Request<hotel_pb::ReleaseRoomsRequest>,
    ) -> Answer<hotel_pb::ReleaseRoomsResponse> {
        self.0.release_rooms(request).await
    }
}

/// What the reservation service calls on a flight, for fakes of it: the calls a
/// fake does not write, and the catalog's, answer UNIMPLEMENTED.
#[tonic::async_trait]
pub trait FakeFlight: Clone + Send + Sync + 'static {
    async fn hold_seats(&self, _: tonic::Request<flight_pb::HoldSeatsRequest>) -> Answer<flight_pb::HoldSeatsResponse> {
        unimplemented()
    }
    async fn confirm_seats(
        &self,
        _: tonic::Request<flight_pb::ConfirmSeatsRequest>,
    ) -> Answer<flight_pb::ConfirmSeatsResponse> {
        unimplemented()
    }
    async fn release_seats(
        &self,
        _: tonic::Request<flight_pb::ReleaseSeatsRequest>,
    ) -> Answer<flight_pb::ReleaseSeatsResponse> {
        unimplemented()
    }
}

/// Serves `fake` as a flight service on 127.0.0.1:0 (bound before it is
/// spawned): its URL, and the serving task (abort it to stop).
pub async fn serve_flight(
    fake: impl FakeFlight,
) -> (String, tokio::task::JoinHandle<Result<(), tonic::transport::Error>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let task = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(FlightServiceServer::new(AsFlight(fake)))
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );
    (url, task)
}

#[derive(Clone)]
struct AsFlight<T>(T);

#[tonic::async_trait]
impl<T: FakeFlight> FlightService for AsFlight<T> {
    async fn create_flight(
        &self,
        _: tonic::Request<flight_pb::CreateFlightRequest>,
    ) -> Answer<flight_pb::CreateFlightResponse> {
        unimplemented()
    }
    async fn get_flight(&self, _: tonic::Request<flight_pb::GetFlightRequest>) -> Answer<flight_pb::GetFlightResponse> {
        unimplemented()
    }
    async fn cancel_flight(
        &self,
        _: tonic::Request<flight_pb::CancelFlightRequest>,
    ) -> Answer<flight_pb::CancelFlightResponse> {
        unimplemented()
    }
    async fn reschedule_flight(
        &self,
        _: tonic::Request<flight_pb::RescheduleFlightRequest>,
    ) -> Answer<flight_pb::RescheduleFlightResponse> {
        unimplemented()
    }
    async fn search_flights(
        &self,
        _: tonic::Request<flight_pb::SearchFlightsRequest>,
    ) -> Answer<flight_pb::SearchFlightsResponse> {
        unimplemented()
    }
    async fn hold_seats(
        &self,
        request: tonic::Request<flight_pb::HoldSeatsRequest>,
    ) -> Answer<flight_pb::HoldSeatsResponse> {
        self.0.hold_seats(request).await
    }
    async fn confirm_seats(
        &self,
        request: tonic::Request<flight_pb::ConfirmSeatsRequest>,
    ) -> Answer<flight_pb::ConfirmSeatsResponse> {
        self.0.confirm_seats(request).await
    }
    async fn release_seats(
        &self,
        request: tonic::Request<flight_pb::ReleaseSeatsRequest>,
    ) -> Answer<flight_pb::ReleaseSeatsResponse> {
        self.0.release_seats(request).await
    }
}
