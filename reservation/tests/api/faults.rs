//! Fault isolation and deadlines: a hotel service that is down fails a bundle
//! fast with UNAVAILABLE and holds no seat, while flight-only checkouts and
//! flight searches carry on; a hanging dependency fails the checkout at the
//! caller's deadline — the outgoing calls get the remaining budget, not a
//! fresh timeout — and recovery leaves no seat held.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tonic::{Code, Request, Response, Status};
use travel::pb::hotel::v1 as hotel_pb;
use travel::pb::reservation::v1::ReservationState::{Confirmed, Failed};

use crate::helpers;
use crate::helpers::{FakeHotel, World, bundle, checkout, dead_url, flight_only, hanging_url, state};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_the_hotel_down_a_bundle_fails_with_unavailable_and_holds_no_seat() {
    // Arrange
    let world = World::start().await;
    let flight = world.flight.create(10, "EUR").await;
    let room_type = world.hotel.create(5, "EUR").await;
    let res = world.reservations_with(|c| c.hotel_url = dead_url()).await;
    let alice = res.customer("user-a");

    // Act
    let refused = checkout(&alice, bundle("req-1", &flight, 1, &room_type, 1, 2))
        .await
        .unwrap_err();

    // Assert
    assert_eq!(refused.code(), Code::Unavailable);
    assert!(
        refused.message().starts_with("the hotel service is unavailable"),
        "{refused:?}"
    );
    assert_eq!(world.flight.inventory(&flight).await, (10, 0, 0), "no seat held");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_the_hotel_down_flight_checkouts_and_searches_carry_on() {
    // Arrange
    let world = World::start().await;
    let flight = world.flight.create(10, "EUR").await;
    let res = world.reservations_with(|c| c.hotel_url = dead_url()).await;

    // Act
    let booked = checkout(&res.customer("user-a"), flight_only("req-1", &flight, 2))
        .await
        .unwrap();
    let found = world.flight.search().await;

    // Assert
    assert_eq!(state(&booked), Confirmed);
    assert_eq!(found.ok(), Some(1));
    assert_eq!(world.flight.inventory(&flight).await, (8, 0, 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hanging_hotel_fails_the_checkout_at_its_deadline_and_no_seat_stays_held() {
    // Arrange: the hotel accepts connections and never answers.
    let world = World::start().await;
    let flight = world.flight.create(10, "EUR").await;
    let room_type = world.hotel.create(5, "EUR").await;
    let (hotel_url, hanging) = hanging_url().await;
    let res = world
        .reservations_with(|c| {
            c.hotel_url = hotel_url;
            c.call_timeout = Duration::from_millis(500);
        })
        .await;
    let mut request = Request::new(bundle("req-1", &flight, 1, &room_type, 1, 2));
    request.set_timeout(Duration::from_millis(300));

    // Act
    let failed = res.customer("user-a").checkout(request).await.unwrap_err();
    world.leases_run_out();
    res.recover().await;

    // Assert
    // A tonic client reports its own deadline passing as CANCELLED "Timeout expired".
    assert!(
        matches!(
            failed.code(),
            Code::DeadlineExceeded | Code::Unavailable | Code::Cancelled
        ),
        "{failed:?}"
    );
    assert_eq!(world.flight.inventory(&flight).await, (10, 0, 0), "no seat held");
    hanging.abort();
}

/// A hotel service that records the `grpc-timeout` of each HoldRooms and never
/// answers it; releases succeed.
#[derive(Clone, Default)]
struct SilentHotel {
    hold_timeouts: Arc<Mutex<Vec<String>>>,
}

#[tonic::async_trait]
impl FakeHotel for SilentHotel {
    async fn hold_rooms(
        &self,
        request: Request<hotel_pb::HoldRoomsRequest>,
    ) -> Result<Response<hotel_pb::HoldRoomsResponse>, Status> {
        let timeout = request
            .metadata()
            .get("grpc-timeout")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("none")
            .to_owned();
        self.hold_timeouts.lock().expect("lock").push(timeout);
        std::future::pending().await
    }

    async fn release_rooms(
        &self,
        _: Request<hotel_pb::ReleaseRoomsRequest>,
    ) -> Result<Response<hotel_pb::ReleaseRoomsResponse>, Status> {
        Ok(Response::new(hotel_pb::ReleaseRoomsResponse { hold: None }))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn outgoing_calls_get_the_remaining_budget_not_a_fresh_timeout() {
    // Arrange: a silent hotel, and a per-call timeout far above the caller's deadline.
    let world = World::start().await;
    let flight = world.flight.create(10, "EUR").await;
    let silent = SilentHotel::default();
    let (hotel_url, fake) = helpers::serve_hotel(silent.clone()).await;
    let res = world
        .reservations_with(|c| {
            c.hotel_url = hotel_url;
            c.call_timeout = Duration::from_secs(15);
        })
        .await;
    let alice = res.customer("user-a");
    let room_type = helpers::RoomType {
        hotel_id: "h1".into(),
        id: "rt1".into(),
    };
    let mut request = Request::new(bundle("req-1", &flight, 1, &room_type, 1, 2));
    request.set_timeout(Duration::from_millis(300));

    // Act
    let failed = alice.clone().checkout(request).await;
    // A retry with the same request id waits for the first checkout to finish.
    let finished = checkout(&alice, bundle("req-1", &flight, 1, &room_type, 1, 2))
        .await
        .unwrap();

    // Assert
    assert!(failed.is_err(), "{failed:?}");
    let sent = silent.hold_timeouts.lock().unwrap().clone();
    assert!(!sent.is_empty(), "the hold reached the hotel");
    for timeout in &sent {
        let budget = travel::deadline::parse_grpc_timeout(timeout).expect("a grpc-timeout was sent");
        assert!(
            budget <= Duration::from_millis(300),
            "sent {timeout}, more than the caller had"
        );
    }
    assert_eq!(state(&finished), Failed, "{finished:?}");
    assert!(
        finished.failure_reason.contains("hotel service is unavailable"),
        "{finished:?}"
    );
    assert_eq!(
        world.flight.inventory(&flight).await,
        (10, 0, 0),
        "the seat was released"
    );
    fake.abort();
}
