//! Crash recovery: the saga stops dead right after each persisted step (the
//! test seam), the service restarts on the same database, and one recovery pass
//! drives every reservation to CONFIRMED, FAILED or CANCELLED — with no seat or
//! room held or confirmed for a reservation that is not CONFIRMED.

use travel::pb::reservation::v1 as pb;
use travel::pb::reservation::v1::ReservationState::{Cancelled, Confirmed, Failed, Pending};
use travel_reservation::CrashPoint;

use crate::helpers;
use crate::helpers::{World, bundle, checkout, get, state};

/// Checks out a bundle (1 seat, 1 room for 2 nights) on a service that crashes
/// at `point`, restarts, recovers, and returns the reservation as it ended.
async fn crash_checkout_and_recover(
    world: &World,
    flight: &str,
    room_type: &helpers::RoomType,
    point: CrashPoint,
    seats: i32,
) -> pb::Reservation {
    let crashing = world.crashing_at(point).await;
    let crashed = checkout(
        &crashing.customer("user-a"),
        bundle("req-1", flight, seats, room_type, 1, 2),
    )
    .await;
    assert!(crashed.is_err(), "the crashed call fails: {crashed:?}");
    let ids = crashing.store.list(None, None, 10).await.expect("list");
    assert_eq!(ids.len(), 1, "the reservation was persisted before the crash");
    assert_eq!(ids[0].state, travel_reservation::domain::State::Pending);
    crashing.stop().await;

    let restarted = world.reservations().await;
    world.leases_run_out();
    // The restarted service's own start-up pass may get there first; either
    // way, once this pass returns, the saga is finished.
    restarted.recover().await;
    get(&restarted.customer("user-a"), &ids[0].id)
        .await
        .expect("get after recovery")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_crash_right_after_pending_is_persisted_ends_failed_with_nothing_held() {
    // Arrange
    let world = World::start().await;
    let flight = world.flight.create(10, "EUR").await;
    let room_type = world.hotel.create(5, "EUR").await;

    // Act
    let r = crash_checkout_and_recover(&world, &flight, &room_type, CrashPoint::Holding, 1).await;

    // Assert
    assert_eq!(state(&r), Failed);
    assert_eq!(
        r.failure_reason,
        "interrupted before both parts were held; nothing was booked"
    );
    assert_eq!(world.flight.inventory(&flight).await, (10, 0, 0));
    assert_eq!(world.hotel.inventory(&room_type, 0).await, (5, 0, 0));
    assert_eq!(world.hotel.inventory(&room_type, 1).await, (5, 0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_crash_after_both_holds_ends_failed_and_releases_them() {
    // Arrange
    let world = World::start().await;
    let flight = world.flight.create(10, "EUR").await;
    let room_type = world.hotel.create(5, "EUR").await;

    // Act
    let r = crash_checkout_and_recover(&world, &flight, &room_type, CrashPoint::Held, 1).await;

    // Assert
    assert_eq!(state(&r), Failed);
    assert_eq!(world.flight.inventory(&flight).await, (10, 0, 0));
    assert_eq!(world.hotel.inventory(&room_type, 0).await, (5, 0, 0));
    assert_eq!(world.hotel.inventory(&room_type, 1).await, (5, 0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_crash_while_compensating_ends_failed_and_releases_the_held_part() {
    // Arrange: the flight refuses (2 seats wanted, 1 left); the room gets held.
    let world = World::start().await;
    let flight = world.flight.create(1, "EUR").await;
    let room_type = world.hotel.create(5, "EUR").await;

    // Act
    let r = crash_checkout_and_recover(&world, &flight, &room_type, CrashPoint::Compensating, 2).await;

    // Assert
    assert_eq!(state(&r), Failed);
    assert!(
        r.failure_reason.starts_with("the flight was refused"),
        "{}",
        r.failure_reason
    );
    assert_eq!(world.flight.inventory(&flight).await, (1, 0, 0));
    assert_eq!(world.hotel.inventory(&room_type, 0).await, (5, 0, 0));
    assert_eq!(world.hotel.inventory(&room_type, 1).await, (5, 0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_crash_after_the_pivot_ends_confirmed() {
    // Arrange
    let world = World::start().await;
    let flight = world.flight.create(10, "EUR").await;
    let room_type = world.hotel.create(5, "EUR").await;

    // Act
    let r = crash_checkout_and_recover(&world, &flight, &room_type, CrashPoint::Confirming, 1).await;

    // Assert
    assert_eq!(state(&r), Confirmed);
    assert_eq!(
        r.total_price,
        Some(helpers::money(helpers::SEAT_PRICE + 2 * helpers::NIGHT_PRICE, "EUR"))
    );
    assert_eq!(world.flight.inventory(&flight).await, (9, 0, 1));
    assert_eq!(world.hotel.inventory(&room_type, 0).await, (4, 0, 1));
    assert_eq!(world.hotel.inventory(&room_type, 1).await, (4, 0, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_crash_while_cancelling_ends_cancelled_with_everything_given_back() {
    // Arrange: a confirmed bundle.
    let world = World::start().await;
    let flight = world.flight.create(10, "EUR").await;
    let room_type = world.hotel.create(5, "EUR").await;
    let crashing = world.crashing_at(CrashPoint::Cancelling).await;
    let alice = crashing.customer("user-a");
    let booked = checkout(&alice, bundle("req-1", &flight, 1, &room_type, 1, 2))
        .await
        .unwrap();
    assert_eq!(state(&booked), Confirmed);

    // Act
    let crashed = helpers::cancel(&alice, &booked.id).await;
    assert!(crashed.is_err(), "{crashed:?}");
    crashing.stop().await;
    let restarted = world.reservations().await;
    world.leases_run_out();
    restarted.recover().await;

    // Assert
    let r = get(&restarted.customer("user-a"), &booked.id).await.unwrap();
    assert_eq!(state(&r), Cancelled);
    assert_eq!(world.flight.inventory(&flight).await, (10, 0, 0));
    assert_eq!(world.hotel.inventory(&room_type, 0).await, (5, 0, 0));
    assert_eq!(world.hotel.inventory(&room_type, 1).await, (5, 0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn recovery_leaves_a_live_saga_to_its_driver_until_its_lease_runs_out() {
    // Arrange: a crashed saga whose lease has not run out yet.
    let world = World::start().await;
    let flight = world.flight.create(10, "EUR").await;
    let room_type = world.hotel.create(5, "EUR").await;
    let crashing = world.crashing_at(CrashPoint::Held).await;
    let alice = crashing.customer("user-a");
    assert!(
        checkout(&alice, bundle("req-1", &flight, 1, &room_type, 1, 2))
            .await
            .is_err()
    );

    // Act
    let early = crashing.recover().await;
    let pending = crashing.store.list(None, None, 10).await.unwrap();

    // Assert
    assert_eq!(early.finished + early.left, 0, "nothing taken over early");
    assert_eq!(state(&pending[0].clone().into()), Pending);
    assert_eq!(
        world.flight.inventory(&flight).await,
        (9, 1, 0),
        "still held by its driver"
    );
}
