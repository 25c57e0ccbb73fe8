//! Test harness: the real hotel service on 127.0.0.1:0 with a fresh database
//! (SQLite, or PostgreSQL when TRAVEL_TEST_POSTGRES_URL is set) and a manual
//! clock, plus builders for the requests the tests send.

use std::sync::Arc;
use std::time::Duration;

use tonic::transport::Channel;
use travel::jwt::Role;
use travel::metrics::Registry;
use travel::pb::common::v1::{Date, Money};
use travel::pb::hotel::v1 as pb;
use travel::pb::hotel::v1::hotel_service_client::HotelServiceClient;
use travel::testing::{Authed, Bearer, TestDatabase, TestServer, assert_conserved, bearer_as, manual_clock, test_keys};
pub use travel::testing::{START_MS, violated_fields};
use travel::types::UnixMillis;
use travel::{Clock, ManualClock};
use travel_hotel::store::Inventory;
use travel_hotel::{Application, Config, Store};

/// Hold TTL used by the tests.
pub const TTL: Duration = Duration::from_secs(600);
/// The first night the tests book: 2030-03-01, two months after the clock's start.
pub const FIRST_NIGHT: &str = "2030-03-01";

/// A hotel client that sends a fixed bearer token, or none.
pub type Client = HotelServiceClient<Authed>;

/// A running hotel service and what a test needs to drive and inspect it.
pub struct TestHotel {
    channel: Channel,
    pub store: Store,
    pub clock: ManualClock,
    pub config: Config,
    /// The service's metrics, as `/metrics` serves them.
    pub metrics: Registry,
    /// Serves until the harness is dropped.
    _server: TestServer,
    _db: TestDatabase,
}

impl TestHotel {
    /// Starts the service: bind first, then spawn, so the client can connect at once.
    pub async fn start() -> Self {
        let db = TestDatabase::new("hotel").await;
        let mut config = Config::new("127.0.0.1:0".parse().expect("addr"), db.url.clone());
        config.hold_ttl = TTL;
        config.sweep_interval = Duration::from_secs(3600); // tests sweep explicitly
        let clock = manual_clock();
        let app = Application::build_with(
            config.clone(),
            travel_hotel::Deps {
                clock: Arc::new(clock.clone()),
                keys: test_keys(),
            },
        )
        .await
        .expect("build the hotel service");
        let addr = app.local_addr();
        let store = app.store().clone();
        let metrics = app.metrics().clone();
        let server = TestServer::spawn(|shutdown| app.run_until_stopped(shutdown));
        Self {
            channel: travel::testing::connect(addr).await,
            store,
            clock,
            config,
            metrics,
            _server: server,
            _db: db,
        }
    }

    /// A client signed in as a service account: may hold, confirm and release
    /// (clients are cheap handles on one connection).
    pub fn client(&self) -> Client {
        self.client_as(Some(Role::Service))
    }

    /// A client signed in as an admin: may create hotels and room types.
    pub fn admin(&self) -> Client {
        self.client_as(Some(Role::Admin))
    }

    /// A client with a valid token for `role`, or with no credentials.
    pub fn client_as(&self, role: Option<Role>) -> Client {
        HotelServiceClient::with_interceptor(self.channel.clone(), bearer_as(role, self.clock.now()))
    }

    /// A client that sends `token`, or no credentials.
    pub fn client_with_token(&self, token: Option<&str>) -> Client {
        HotelServiceClient::with_interceptor(self.channel.clone(), Bearer::new(token))
    }

    /// Creates a hotel in `city`.
    pub async fn create_hotel(&self, name: &str, city: &str) -> pb::Hotel {
        self.admin()
            .create_hotel(hotel_request(name, city))
            .await
            .expect("create hotel")
            .into_inner()
            .hotel
            .expect("hotel in response")
    }

    /// Adds a room type sleeping `max_guests`, with `total_rooms` rooms at `price_minor` EUR a night.
    pub async fn add_room_type(
        &self,
        hotel_id: &str,
        max_guests: i32,
        total_rooms: i32,
        price_minor: i64,
    ) -> pb::RoomType {
        self.admin()
            .add_room_type(room_type_request(hotel_id, max_guests, total_rooms, price_minor))
            .await
            .expect("add room type")
            .into_inner()
            .room_type
            .expect("room type in response")
    }

    /// Gets a hotel with its room types.
    pub async fn get_hotel(&self, id: &str) -> pb::Hotel {
        self.client()
            .get_hotel(pb::GetHotelRequest { id: id.into() })
            .await
            .expect("get hotel")
            .into_inner()
            .hotel
            .expect("hotel in response")
    }

    /// Holds `rooms` rooms of `room_type` for the nights `from..to` (numbered from
    /// [`FIRST_NIGHT`]), for as many guests as rooms.
    pub async fn hold(
        &self,
        hold_id: &str,
        room_type: &pb::RoomType,
        from: i64,
        to: i64,
        rooms: i32,
    ) -> Result<pb::RoomHold, tonic::Status> {
        let req = hold_request(hold_id, room_type, from, to, rooms, rooms);
        Ok(self
            .client()
            .hold_rooms(req)
            .await?
            .into_inner()
            .hold
            .expect("hold in response"))
    }

    /// Confirms a hold.
    pub async fn confirm(&self, hold_id: &str) -> Result<pb::RoomHold, tonic::Status> {
        let req = pb::ConfirmRoomsRequest {
            hold_id: hold_id.into(),
        };
        Ok(self
            .client()
            .confirm_rooms(req)
            .await?
            .into_inner()
            .hold
            .expect("hold in response"))
    }

    /// Releases a hold; `None` when the id was unknown (a tombstone was recorded).
    pub async fn release(&self, hold_id: &str) -> Result<Option<pb::RoomHold>, tonic::Status> {
        let req = pb::ReleaseRoomsRequest {
            hold_id: hold_id.into(),
        };
        Ok(self.client().release_rooms(req).await?.into_inner().hold)
    }

    /// Asserts `total_rooms = available + held + confirmed` and `0 <= available <= total_rooms`
    /// for one room type on night number `night`, and returns the inventory.
    pub async fn assert_conserved(&self, room_type_id: &str, night: i64) -> Inventory {
        let inv = self
            .store
            .inventory(room_type_id, night_date(night))
            .await
            .expect("inventory");
        assert_conserved(
            inv.total_rooms,
            [inv.available, inv.held, inv.confirmed],
            &format!(" on night {night}"),
            &inv,
        );
        inv
    }
}

/// A valid CreateHotelRequest.
pub fn hotel_request(name: &str, city: &str) -> pb::CreateHotelRequest {
    pb::CreateHotelRequest {
        name: name.into(),
        city: city.into(),
        address: "Rua Augusta 1".into(),
        request_id: String::new(),
    }
}

/// A valid AddRoomTypeRequest.
pub fn room_type_request(
    hotel_id: &str,
    max_guests: i32,
    total_rooms: i32,
    price_minor: i64,
) -> pb::AddRoomTypeRequest {
    pb::AddRoomTypeRequest {
        hotel_id: hotel_id.into(),
        name: format!("Room for {max_guests}"),
        max_guests,
        total_rooms,
        nightly_price: Some(eur(price_minor)),
        request_id: String::new(),
    }
}

/// A HoldRoomsRequest for the nights `from..to`.
pub fn hold_request(
    hold_id: &str,
    room_type: &pb::RoomType,
    from: i64,
    to: i64,
    rooms: i32,
    guests: i32,
) -> pb::HoldRoomsRequest {
    pb::HoldRoomsRequest {
        hold_id: hold_id.into(),
        room_type_id: room_type.id.clone(),
        hotel_id: room_type.hotel_id.clone(),
        check_in: Some(night(from)),
        check_out: Some(night(to)),
        rooms,
        guests,
    }
}

/// A SearchHotelsRequest for one room, nights `from..to`.
pub fn search_request(city: &str, from: i64, to: i64, guests: i32) -> pb::SearchHotelsRequest {
    pb::SearchHotelsRequest {
        city: city.into(),
        check_in: Some(night(from)),
        check_out: Some(night(to)),
        guests,
        rooms: 0,
        page_size: 0,
        page_token: String::new(),
    }
}

/// An amount in euros.
pub fn eur(amount_minor: i64) -> Money {
    Money {
        amount_minor,
        currency_code: "EUR".into(),
    }
}

/// Night number `n` after [`FIRST_NIGHT`] (0 is the first night).
pub fn night_date(n: i64) -> travel::types::Date {
    let first = travel::types::Date::parse_iso(FIRST_NIGHT).expect("first night");
    UnixMillis::from_unix_millis(first.start().unix_millis() + n * 86_400_000).date()
}

/// Night number `n`, as the contract's Date.
pub fn night(n: i64) -> Date {
    night_date(n).into()
}

/// The ErrorInfo reason of a status, if it has one.
pub fn reason(status: &tonic::Status) -> Option<String> {
    use tonic_types::StatusExt;
    status.get_error_details().error_info().map(|i| i.reason.clone())
}
