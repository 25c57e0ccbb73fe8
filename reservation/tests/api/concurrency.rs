//! Invariants under concurrency: many bundles racing for little inventory never
//! oversell, and every reservation ends CONFIRMED or FAILED with the
//! conservation rule holding on both services.

use futures::future::join_all;
use travel::pb::reservation::v1::ReservationState::{Confirmed, Failed};

use crate::helpers::{Reservations, RoomType, World, bundle, checkout, state};

/// Fifty customers at once, each checking out one seat on `flight` and one room
/// of `room_type` for two nights.
async fn fifty_bundles(
    res: &Reservations,
    flight: &str,
    room_type: &RoomType,
) -> Vec<Result<travel::pb::reservation::v1::Reservation, tonic::Status>> {
    let customers: Vec<_> = (0..50).map(|i| res.customer(&format!("user-{i}"))).collect();
    let attempts = customers.iter().enumerate().map(|(i, customer)| {
        let request = bundle(&format!("req-{i}"), flight, 1, room_type, 1, 2);
        checkout(customer, request)
    });
    join_all(attempts).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_bundles_for_ten_seats_and_eight_rooms_confirm_exactly_eight() {
    // Arrange: 10 seats; 8 rooms on each of 2 nights; 50 customers.
    let world = World::start().await;
    let flight = world.flight.create(10, "EUR").await;
    let room_type = world.hotel.create(8, "EUR").await;
    let res = world.reservations().await;

    // Act
    let results = fifty_bundles(&res, &flight, &room_type).await;

    // Assert
    let reservations: Vec<_> = results.into_iter().map(|r| r.expect("checkout answers")).collect();
    let confirmed = reservations.iter().filter(|r| state(r) == Confirmed).count();
    let failed = reservations.iter().filter(|r| state(r) == Failed).count();
    assert_eq!((confirmed, failed), (8, 42), "exactly the rooms are sold");
    assert!(
        reservations
            .iter()
            .filter(|r| state(r) == Failed)
            .all(|r| !r.failure_reason.is_empty())
    );
    assert_eq!(world.flight.inventory(&flight).await, (2, 0, 8));
    for night in 0..2 {
        assert_eq!(world.hotel.inventory(&room_type, night).await, (0, 0, 8));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_bundles_for_eight_seats_and_ten_rooms_confirm_exactly_eight() {
    // Arrange: now the seats are the scarcer part.
    let world = World::start().await;
    let flight = world.flight.create(8, "EUR").await;
    let room_type = world.hotel.create(10, "EUR").await;
    let res = world.reservations().await;

    // Act
    let results = fifty_bundles(&res, &flight, &room_type).await;

    // Assert
    let reservations: Vec<_> = results.into_iter().map(|r| r.expect("checkout answers")).collect();
    let confirmed = reservations.iter().filter(|r| state(r) == Confirmed).count();
    assert_eq!(confirmed, 8, "exactly the seats are sold");
    assert_eq!(world.flight.inventory(&flight).await, (0, 0, 8));
    for night in 0..2 {
        assert_eq!(world.hotel.inventory(&room_type, night).await, (2, 0, 8));
    }
}
