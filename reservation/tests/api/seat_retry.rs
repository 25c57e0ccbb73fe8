//! The seat-retry rule: a bundle that holds its room but is refused seats
//! retries them only while another saga on the flight really holds seats, and
//! a bounded number of times — not for the whole checkout budget. A refusal of
//! a departed flight ends the checkout FAILED with the service's reason.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tonic::{Code, Request, Response, Status};
use tonic_types::{ErrorDetails, StatusExt};
use travel::pb::flight::v1 as flight_pb;
use travel::pb::reservation::v1::ReservationState::Failed;
use travel::types::UnixMillis;
use travel_reservation::CrashPoint;

use crate::helpers;
use crate::helpers::{FakeFlight, World, bundle, checkout, flight_only, state};

/// A flight service with one seat left: holds of one seat are granted (for
/// 15 minutes), holds of more are refused with `reason`; every HoldSeats is counted.
#[derive(Clone)]
struct OneSeatLeft {
    reason: &'static str,
    holds: Arc<AtomicUsize>,
}

impl OneSeatLeft {
    fn new(reason: &'static str) -> Self {
        Self {
            reason,
            holds: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Serves on 127.0.0.1:0; its URL and the task (abort it to stop).
    async fn serve(&self) -> (String, tokio::task::JoinHandle<Result<(), tonic::transport::Error>>) {
        helpers::serve_flight(self.clone()).await
    }

    fn hold_calls(&self) -> usize {
        self.holds.load(Ordering::SeqCst)
    }
}

#[tonic::async_trait]
impl FakeFlight for OneSeatLeft {
    async fn hold_seats(
        &self,
        request: Request<flight_pb::HoldSeatsRequest>,
    ) -> Result<Response<flight_pb::HoldSeatsResponse>, Status> {
        self.holds.fetch_add(1, Ordering::SeqCst);
        let request = request.into_inner();
        if request.seats > 1 {
            let details = ErrorDetails::with_error_info(self.reason, "flight.travel", HashMap::new());
            return Err(Status::with_error_details(
                Code::FailedPrecondition,
                format!("flight {} cannot be held: {}", request.flight_id, self.reason),
                details,
            ));
        }
        let expires = UnixMillis::from_unix_millis(helpers::START_MS).plus(Duration::from_secs(15 * 60));
        Ok(Response::new(flight_pb::HoldSeatsResponse {
            hold: Some(flight_pb::SeatHold {
                hold_id: request.hold_id,
                flight_id: request.flight_id,
                seats: request.seats,
                total_price: Some(helpers::money(helpers::SEAT_PRICE, "EUR")),
                state: flight_pb::HoldState::Held.into(),
                expires_at: Some(expires.into()),
            }),
        }))
    }

    async fn release_seats(
        &self,
        _: Request<flight_pb::ReleaseSeatsRequest>,
    ) -> Result<Response<flight_pb::ReleaseSeatsResponse>, Status> {
        Ok(Response::new(flight_pb::ReleaseSeatsResponse { hold: None }))
    }
}

/// A world with a room type of 5 rooms and a sold-out flight (one seat left,
/// holds of more refused), on which another saga (customer user-a, one seat)
/// crashed right after persisting `point`; the reservation service it ran on is stopped.
async fn a_saga_stuck_at(
    point: CrashPoint,
) -> (
    World,
    helpers::RoomType,
    OneSeatLeft,
    String,
    tokio::task::JoinHandle<Result<(), tonic::transport::Error>>,
) {
    let world = World::start().await;
    let room_type = world.hotel.create(5, "EUR").await;
    let flight = OneSeatLeft::new("NOT_ENOUGH_SEATS");
    let (flight_url, fake) = flight.serve().await;
    let crashing = world
        .reservations_with(|c| {
            c.flight_url = flight_url.clone();
            c.crash_after = Some(point);
        })
        .await;
    assert!(
        checkout(&crashing.customer("user-a"), flight_only("req-a", "f1", 1))
            .await
            .is_err()
    );
    crashing.stop().await;
    (world, room_type, flight, flight_url, fake)
}

/// A bundle of 2 seats on `flight` (which has one left) and a room, with `budget`.
fn two_seat_bundle(
    room_type: &helpers::RoomType,
    budget: Duration,
) -> Request<travel::pb::reservation::v1::CheckoutRequest> {
    let mut request = Request::new(bundle("req-b", "f1", 2, room_type, 1, 2));
    request.set_timeout(budget);
    request
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_seat_retry_rule_does_not_retry_for_the_whole_budget_while_a_saga_holding_no_seats_is_in_flux() {
    // Arrange: a sold-out flight, and another saga on it stuck at HOLDING
    // before taking any hold (it holds no seats, and gives none back).
    let (world, room_type, flight, flight_url, fake) = a_saga_stuck_at(CrashPoint::Holding).await;
    let res = world.reservations_with(|c| c.flight_url = flight_url.clone()).await;

    // Act
    let answered = res
        .customer("user-b")
        .checkout(two_seat_bundle(&room_type, Duration::from_secs(3)))
        .await;

    // Assert: the first hold, and one more once nothing holding seats was seen.
    assert_eq!(flight.hold_calls(), 2, "HoldSeats calls against a sold-out flight");
    let r = answered
        .expect("the checkout answers")
        .into_inner()
        .reservation
        .expect("reservation");
    assert_eq!(state(&r), Failed);
    assert!(r.failure_reason.starts_with("the flight was refused"), "{r:?}");
    assert_eq!(
        world.hotel.inventory(&room_type, 0).await,
        (5, 0, 0),
        "the room went back"
    );
    fake.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_seat_retry_wait_is_capped_while_a_saga_really_holds_seats() {
    // Arrange: another saga holds the last seat and is stuck before its pivot.
    let (world, room_type, flight, flight_url, fake) = a_saga_stuck_at(CrashPoint::Held).await;
    let before = flight.hold_calls();
    let res = world.reservations_with(|c| c.flight_url = flight_url.clone()).await;

    // Act: a budget far longer than the cap.
    let r = res
        .customer("user-b")
        .checkout(two_seat_bundle(&room_type, Duration::from_secs(20)))
        .await
        .expect("the checkout answers")
        .into_inner()
        .reservation
        .expect("reservation");

    // Assert: the first hold and at most the capped number of retries.
    let calls = flight.hold_calls() - before;
    assert_eq!(
        calls,
        1 + travel_reservation::saga::SEAT_RETRIES as usize,
        "HoldSeats calls while another saga holds the seats"
    );
    assert_eq!(state(&r), Failed);
    assert_eq!(
        world.hotel.inventory(&room_type, 0).await,
        (5, 0, 0),
        "the room went back"
    );
    fake.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flight_that_has_departed_ends_the_checkout_failed_with_a_clear_reason() {
    // Arrange: the flight service refuses holds on a departed flight.
    let world = World::start().await;
    let room_type = world.hotel.create(5, "EUR").await;
    let flight = OneSeatLeft::new("FLIGHT_DEPARTED");
    let (flight_url, fake) = flight.serve().await;
    let res = world.reservations_with(|c| c.flight_url = flight_url.clone()).await;

    // Act
    let r = checkout(&res.customer("user-b"), bundle("req-b", "f1", 2, &room_type, 1, 2))
        .await
        .expect("the checkout answers");

    // Assert: refused once, not retried as if seats could come back.
    assert_eq!(state(&r), Failed);
    assert_eq!(
        r.failure_reason,
        "the flight was refused: flight f1 cannot be held: FLIGHT_DEPARTED"
    );
    assert_eq!(flight.hold_calls(), 1);
    assert_eq!(
        world.hotel.inventory(&room_type, 0).await,
        (5, 0, 0),
        "the room went back"
    );
    fake.abort();
}
