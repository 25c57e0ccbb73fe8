//! What the flight service tells its operators: the hold counters, the seats
//! on sale, and refused tokens by reason (its spans: `tests/traces.rs`).

use std::time::Duration;

use travel::Clock;
use travel::jwt::Role;
use travel::pb::flight::v1 as pb;
use travel::testing::metrics::value;

use crate::helpers::{START_MS, TTL, TestFlight};

const DAY_MS: i64 = 86_400_000;

#[tokio::test]
async fn holds_are_counted_once_each_by_what_they_did() {
    // Arrange: three seats.
    let svc = TestFlight::start().await;
    let flight = svc.create_flight(3, START_MS + DAY_MS).await;
    let counter = |name| value(&svc.metrics, name, &[]);

    // Act: a hold and its retry; a hold refused; a confirm and its retry; a
    // hold released twice; a hold that expires.
    svc.hold("h1", &flight.id, 2).await.expect("hold");
    svc.hold("h1", &flight.id, 2).await.expect("the same hold again");
    svc.hold("h2", &flight.id, 2).await.expect_err("sold out");
    for _ in 0..2 {
        let confirm = pb::ConfirmSeatsRequest { hold_id: "h1".into() };
        svc.client.clone().confirm_seats(confirm).await.expect("confirm");
    }
    svc.hold("h3", &flight.id, 1).await.expect("hold");
    for _ in 0..2 {
        let release = pb::ReleaseSeatsRequest { hold_id: "h3".into() };
        svc.client.clone().release_seats(release).await.expect("release");
    }
    svc.hold("h4", &flight.id, 1).await.expect("hold");
    svc.clock.advance(TTL + Duration::from_secs(1));
    let swept = svc.store.expire_due_holds(svc.clock.now()).await.expect("sweep");

    // Assert
    assert_eq!(swept, 1);
    assert_eq!(counter("travel_holds_taken_total"), 3.0, "h1 (once), h3, h4");
    let refused = |reason| value(&svc.metrics, "travel_holds_refused_total", &[("reason", reason)]);
    assert_eq!(refused("sold_out"), 1.0);
    assert_eq!(counter("travel_holds_confirmed_total"), 1.0);
    assert_eq!(counter("travel_holds_released_total"), 1.0);
    assert_eq!(counter("travel_holds_expired_total"), 1.0);
}

#[tokio::test]
async fn refusals_are_counted_by_their_reason() {
    // Arrange
    let svc = TestFlight::start().await;
    let flight = svc.create_flight(5, START_MS + DAY_MS).await;
    svc.hold("h1", &flight.id, 1).await.expect("hold");

    // Act: a departed flight, an unknown one, a hold id taken by another hold.
    let later = svc.create_flight(5, START_MS + 2 * DAY_MS).await;
    svc.clock.advance(Duration::from_millis(DAY_MS as u64 + 1));
    svc.hold("h2", &flight.id, 1).await.expect_err("departed");
    svc.hold("h3", "no-such-flight", 1).await.expect_err("unknown flight");
    svc.hold("h1", &later.id, 1).await.expect_err("hold id in use");

    // Assert
    let refused = |reason| value(&svc.metrics, "travel_holds_refused_total", &[("reason", reason)]);
    assert_eq!(refused("flight_departed"), 1.0);
    assert_eq!(refused("flight_not_found"), 1.0);
    assert_eq!(refused("hold_id_in_use"), 1.0);
    assert_eq!(value(&svc.metrics, "travel_holds_taken_total", &[]), 1.0);
}

#[tokio::test]
async fn the_seats_gauge_counts_the_free_seats_of_flights_yet_to_depart() {
    // Arrange: the gauge recounted every 10 ms; 5 + 7 seats, 2 of them held.
    let svc = TestFlight::start_with(|c| c.inventory_metrics_interval = Duration::from_millis(10)).await;
    let soon = svc.create_flight(5, START_MS + DAY_MS).await;
    svc.create_flight(7, START_MS + 2 * DAY_MS).await;
    svc.hold("h1", &soon.id, 2).await.expect("hold");

    // Act / Assert: 10 seats on sale; once the first flight departs, 7.
    let seats = || value(&svc.metrics, "travel_flight_seats_available", &[]);
    eventually(|| seats() == 10.0, "10 seats on sale").await;
    svc.clock.advance(Duration::from_millis(DAY_MS as u64));
    eventually(|| seats() == 7.0, "7 seats on sale after the first departure").await;
}

#[tokio::test]
async fn refused_tokens_are_counted_by_reason() {
    // Arrange
    let svc = TestFlight::start().await;
    let expired = svc.client_with_token(Some(&svc.token(Role::Service, -60)));
    let forged = travel::jwt::KeyPair::from_seed(travel::testing::TEST_KID, [9; 32]);
    let forged = svc.client_with_token(Some(&travel::testing::sign_token(
        &forged,
        svc.clock.now(),
        Role::Admin,
        600,
    )));
    let get = || pb::GetFlightRequest { id: "f".into() };

    // Act
    let expired = expired.clone().get_flight(get()).await.expect_err("expired");
    let forged = forged.clone().get_flight(get()).await.expect_err("forged");

    // Assert
    assert_eq!(expired.code(), tonic::Code::Unauthenticated);
    assert_eq!(forged.code(), tonic::Code::Unauthenticated);
    let refusals = |reason| value(&svc.metrics, "travel_token_refusals_total", &[("reason", reason)]);
    assert_eq!(refusals("expired"), 1.0);
    assert_eq!(refusals("bad_signature"), 1.0);
}

/// Waits, up to 10 s, until `done` holds: for a value a background task
/// updates on its own schedule.
async fn eventually(done: impl Fn() -> bool, what: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(tokio::time::Instant::now() < deadline, "never got {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
