//! Events in the local stack, delivered in process: the airline moves, then
//! cancels, a flight with 50 confirmed bundles on it, and the reservation
//! service, told by the flight service's FlightCancelled, cancels all 50 — the
//! rooms go back on sale, the seats are released, and each customer sees why.
//! The FlightRescheduled before it, which no queue of the stack takes, does
//! not hold it back.

use std::time::Duration;

use travel::access::Bearer;
use travel::pb::flight::v1::flight_service_client::FlightServiceClient;
use travel::pb::flight::v1::{CancelFlightRequest, FlightState, GetFlightRequest, RescheduleFlightRequest};
use travel::pb::reservation::v1 as pb;
use travel::pb::reservation::v1::reservation_service_client::ReservationServiceClient;
use travel_stack::Stack;

use crate::helpers::{open_flight, open_hotel, stack_config};
use crate::shutdown::{ROOMS, SEATS, bundle, catalog, lazy, nights, tokens};

/// Bundles confirmed on the flight before it is cancelled.
const BUNDLES: usize = 50;
/// How long the cancellations may take to be applied before the test fails.
const PATIENCE: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cancelled_flight_cancels_every_reservation_on_it_and_gives_the_rooms_back() {
    // Arrange: 50 confirmed bundles of a seat and a room on one flight.
    let dir = tempfile::tempdir().expect("temp dir");
    let stack = Stack::start(&stack_config(dir.path())).await.expect("start");
    let (admin, customer) = tokens(stack.auth_addr).await;
    let (flight_id, hotel_id, room_type_id) = catalog(stack.flight_addr, stack.hotel_addr, &admin).await;
    let reservations =
        ReservationServiceClient::with_interceptor(lazy(stack.reservation_addr), Bearer::new(Some(&customer)));
    let checkouts = (0..BUNDLES).map(|i| {
        let mut client = reservations.clone();
        let request = bundle(format!("cancelled-flight-{i}"), &flight_id, &hotel_id, &room_type_id);
        async move {
            client
                .checkout(request)
                .await
                .expect("checkout")
                .into_inner()
                .reservation
                .expect("reservation")
        }
    });
    let booked = futures::future::join_all(checkouts).await;
    for r in &booked {
        assert_eq!(r.state, pb::ReservationState::Confirmed as i32, "{r:?}");
    }

    // Act: the airline moves the flight an hour later (a FlightRescheduled, which
    // no queue of the stack takes), then cancels it.
    let mut flights = FlightServiceClient::with_interceptor(lazy(stack.flight_addr), Bearer::new(Some(&admin)));
    let planned = flights
        .get_flight(GetFlightRequest { id: flight_id.clone() })
        .await
        .expect("get flight")
        .into_inner()
        .flight
        .expect("flight");
    let an_hour_later = |t: Option<prost_types::Timestamp>| {
        t.map(|t| prost_types::Timestamp {
            seconds: t.seconds + 3600,
            nanos: t.nanos,
        })
    };
    flights
        .reschedule_flight(RescheduleFlightRequest {
            id: flight_id.clone(),
            departure_time: an_hour_later(planned.departure_time),
            arrival_time: an_hour_later(planned.arrival_time),
            reason: "late inbound aircraft".into(),
        })
        .await
        .expect("reschedule flight");
    let cancelled = flights
        .cancel_flight(CancelFlightRequest {
            id: flight_id.clone(),
            reason: "crew shortage".into(),
        })
        .await
        .expect("cancel flight")
        .into_inner()
        .flight
        .expect("flight");

    // Assert: the flight is cancelled (once)…
    assert_eq!(cancelled.state, FlightState::Cancelled as i32);
    assert_eq!(cancelled.cancel_reason, "crew shortage");
    let again = flights
        .cancel_flight(CancelFlightRequest {
            id: flight_id.clone(),
            reason: "something else".into(),
        })
        .await
        .expect("cancel again")
        .into_inner()
        .flight
        .expect("flight");
    assert_eq!(again.cancel_reason, "crew shortage", "a second cancel changes nothing");
    // …and every reservation on it ends CANCELLED, with the reason.
    let mut reader = reservations.clone();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    for r in &booked {
        loop {
            let now = reader
                .get_reservation(pb::GetReservationRequest { id: r.id.clone() })
                .await
                .expect("get reservation")
                .into_inner()
                .reservation
                .expect("reservation");
            if now.state == pb::ReservationState::Cancelled as i32 {
                assert_eq!(now.cancel_reason, "flight cancelled by the airline", "{now:?}");
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "reservation {} still {:?} after {PATIENCE:?}",
                r.id,
                now.state
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    stack.stop().await;

    // The seats were released and the rooms are back on sale: nothing held,
    // nothing confirmed, everything conserved.
    let db = |service: &str| {
        format!(
            "sqlite://{}?mode=rwc",
            dir.path().join(format!("{service}.db")).display()
        )
    };
    let seats = open_flight(db("flight"))
        .await
        .store()
        .inventory(&flight_id)
        .await
        .expect("seat inventory");
    assert_eq!(
        (seats.capacity, seats.available, seats.held, seats.confirmed),
        (SEATS, SEATS, 0, 0)
    );
    let (check_in, _) = nights();
    let hotels = open_hotel(db("hotel")).await;
    for night in [check_in, check_in.next().expect("the second night")] {
        let rooms = hotels
            .store()
            .inventory(&room_type_id, night)
            .await
            .expect("room inventory");
        assert_eq!(
            (rooms.total_rooms, rooms.available, rooms.held, rooms.confirmed),
            (ROOMS, ROOMS, 0, 0),
            "night {night:?}"
        );
    }
}
