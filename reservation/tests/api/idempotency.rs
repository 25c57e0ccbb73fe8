//! Idempotent checkout: the same request id with the same request — in
//! sequence or at once — returns one reservation and takes inventory once;
//! with a different request it is refused.

use futures::future::join_all;
use tonic::Code;
use travel::pb::reservation::v1::ReservationState::Confirmed;

use crate::helpers::{World, bundle, checkout, flight_only, hotel_only};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_request_id_sent_five_times_at_once_books_once() {
    // Arrange: 3 seats and 2 rooms for 2 nights.
    let world = World::start().await;
    let flight = world.flight.create(10, "EUR").await;
    let room_type = world.hotel.create(5, "EUR").await;
    let res = world.reservations().await;
    let alice = res.customer("user-a");
    let request = bundle("same-request", &flight, 3, &room_type, 2, 2);

    // Act
    let results = join_all((0..5).map(|_| checkout(&alice, request.clone()))).await;

    // Assert
    let reservations: Vec<_> = results.into_iter().map(|r| r.expect("checkout")).collect();
    assert!(
        reservations.iter().all(|r| r.id == reservations[0].id),
        "one reservation"
    );
    assert!(
        reservations.iter().all(|r| r.state == Confirmed as i32),
        "{reservations:?}"
    );
    assert_eq!(world.flight.inventory(&flight).await, (7, 0, 3), "3 seats taken once");
    assert_eq!(
        world.hotel.inventory(&room_type, 0).await,
        (3, 0, 2),
        "2 rooms taken once"
    );
    assert_eq!(world.hotel.inventory(&room_type, 1).await, (3, 0, 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_retry_returns_the_same_reservation_without_booking_again() {
    // Arrange
    let world = World::start().await;
    let flight = world.flight.create(10, "EUR").await;
    let res = world.reservations().await;
    let alice = res.customer("user-a");
    let first = checkout(&alice, flight_only("req-1", &flight, 2)).await.unwrap();

    // Act
    let again = checkout(&alice, flight_only("req-1", &flight, 2)).await.unwrap();

    // Assert
    assert_eq!(again, first);
    assert_eq!(world.flight.inventory(&flight).await, (8, 0, 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_request_id_with_a_different_request_is_refused() {
    // Arrange
    let world = World::start().await;
    let flight = world.flight.create(10, "EUR").await;
    let res = world.reservations().await;
    let alice = res.customer("user-a");
    checkout(&alice, flight_only("req-1", &flight, 2)).await.unwrap();

    // Act
    let refused = checkout(&alice, flight_only("req-1", &flight, 3)).await.unwrap_err();

    // Assert
    assert_eq!(refused.code(), Code::AlreadyExists);
    assert_eq!(world.flight.inventory(&flight).await, (8, 0, 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_retry_after_the_check_in_day_returns_the_reservation() {
    // Arrange: a stay checked out with req-1.
    let world = World::start().await;
    let room_type = world.hotel.create(5, "EUR").await;
    let res = world.reservations().await;
    let first = checkout(&res.customer("user-a"), hotel_only("req-1", &room_type, 1, 2))
        .await
        .unwrap();

    // Act: the same request is retried after its check-in day (2030-03-01).
    world.clock.advance(std::time::Duration::from_secs(60 * 86_400));
    let again = checkout(&res.customer("user-a"), hotel_only("req-1", &room_type, 1, 2)).await;
    let new = checkout(&res.customer("user-a"), hotel_only("req-2", &room_type, 1, 2)).await;

    // Assert: the replay returns the first result; a new request is refused.
    assert_eq!(again.expect("the replay of the first checkout"), first);
    assert_eq!(new.expect_err("a stay in the past").code(), Code::FailedPrecondition);
}
