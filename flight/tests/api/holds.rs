//! Seat holds through the API: the life cycle, idempotency, expiry with an
//! injected clock, tombstones, and inventory conservation under concurrency.

use futures::future::join_all;
use tonic::Code;
use travel::Clock;
use travel::pb::flight::v1 as pb;

use crate::helpers::{START_MS, TTL, TestFlight};

const DAY_MS: i64 = 86_400_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_concurrent_holds_on_ten_seats_sell_exactly_ten() {
    // Arrange
    let svc = TestFlight::start().await;
    let flight = svc.create_flight(10, START_MS + 7 * DAY_MS).await;

    // Act
    let attempts = (0..64).map(|i| {
        let svc = &svc;
        let flight_id = flight.id.clone();
        async move { svc.hold(&format!("race-{i}"), &flight_id, 1).await }
    });
    let results = join_all(attempts).await;

    // Assert
    let won = results.iter().filter(|r| r.is_ok()).count();
    let refused: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert_eq!(won, 10, "exactly the capacity is sold");
    assert_eq!(refused.len(), 54);
    assert!(
        refused.iter().all(|s| s.code() == Code::FailedPrecondition),
        "refusals: {refused:?}"
    );
    let after = svc
        .client
        .clone()
        .get_flight(pb::GetFlightRequest { id: flight.id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(after.flight.unwrap().available_seats, 0);
    let inv = svc.assert_conserved(&flight.id).await;
    assert_eq!((inv.available, inv.held, inv.confirmed), (0, 10, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_holds_confirms_and_releases_conserve_seats() {
    // Arrange: 5 seats, 30 clients each holding 1 then confirming or releasing.
    let svc = TestFlight::start().await;
    let flight = svc.create_flight(5, START_MS + DAY_MS).await;

    // Act
    let work = (0..30).map(|i| {
        let mut client = svc.client.clone();
        let flight_id = flight.id.clone();
        async move {
            let hold_id = format!("mix-{i}");
            let held = client
                .hold_seats(pb::HoldSeatsRequest {
                    hold_id: hold_id.clone(),
                    flight_id,
                    seats: 1,
                })
                .await;
            if held.is_ok() {
                if i % 2 == 0 {
                    client
                        .confirm_seats(pb::ConfirmSeatsRequest {
                            hold_id: hold_id.clone(),
                        })
                        .await
                        .expect("confirm");
                }
                if i % 3 == 0 {
                    client
                        .release_seats(pb::ReleaseSeatsRequest { hold_id })
                        .await
                        .expect("release");
                }
            }
        }
    });
    join_all(work).await;

    // Assert
    svc.assert_conserved(&flight.id).await;
}

#[tokio::test]
async fn hold_confirm_release_round_trip_moves_seats_and_back() {
    let svc = TestFlight::start().await;
    let flight = svc.create_flight(10, START_MS + DAY_MS).await;

    let held = svc.hold("trip-1", &flight.id, 3).await.expect("hold");
    assert_eq!(held.state(), pb::HoldState::Held);
    assert_eq!(held.total_price.as_ref().map(|m| m.amount_minor), Some(36_000));
    assert_eq!(svc.assert_conserved(&flight.id).await.available, 7);

    let mut client = svc.client.clone();
    let confirmed = client
        .confirm_seats(pb::ConfirmSeatsRequest {
            hold_id: "trip-1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(confirmed.hold.unwrap().state(), pb::HoldState::Confirmed);
    let inv = svc.assert_conserved(&flight.id).await;
    assert_eq!((inv.available, inv.held, inv.confirmed), (7, 0, 3));

    let released = client
        .release_seats(pb::ReleaseSeatsRequest {
            hold_id: "trip-1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(released.hold.unwrap().state(), pb::HoldState::Released);
    let inv = svc.assert_conserved(&flight.id).await;
    assert_eq!((inv.available, inv.held, inv.confirmed), (10, 0, 0));
}

#[tokio::test]
async fn repeating_a_hold_returns_it_and_takes_seats_once() {
    let svc = TestFlight::start().await;
    let flight = svc.create_flight(10, START_MS + DAY_MS).await;

    let first = svc.hold("again", &flight.id, 2).await.expect("first hold");
    let second = svc.hold("again", &flight.id, 2).await.expect("retried hold");

    assert_eq!(first, second);
    assert_eq!(svc.assert_conserved(&flight.id).await.available, 8);
}

#[tokio::test]
async fn reusing_a_hold_id_for_other_seats_is_already_exists() {
    let svc = TestFlight::start().await;
    let flight = svc.create_flight(10, START_MS + DAY_MS).await;
    svc.hold("taken", &flight.id, 2).await.expect("hold");

    let err = svc
        .hold("taken", &flight.id, 3)
        .await
        .expect_err("different seats under the same id");

    assert_eq!(err.code(), Code::AlreadyExists);
    assert_eq!(svc.assert_conserved(&flight.id).await.available, 8);
}

#[tokio::test]
async fn confirm_and_release_are_idempotent() {
    let svc = TestFlight::start().await;
    let flight = svc.create_flight(4, START_MS + DAY_MS).await;
    let mut client = svc.client.clone();
    svc.hold("idem", &flight.id, 1).await.expect("hold");

    for _ in 0..2 {
        let c = client
            .confirm_seats(pb::ConfirmSeatsRequest { hold_id: "idem".into() })
            .await
            .expect("confirm");
        assert_eq!(c.into_inner().hold.unwrap().state(), pb::HoldState::Confirmed);
    }
    assert_eq!(svc.assert_conserved(&flight.id).await.confirmed, 1);
    for _ in 0..2 {
        let r = client
            .release_seats(pb::ReleaseSeatsRequest { hold_id: "idem".into() })
            .await
            .expect("release");
        assert_eq!(r.into_inner().hold.unwrap().state(), pb::HoldState::Released);
    }
    let inv = svc.assert_conserved(&flight.id).await;
    assert_eq!(
        (inv.available, inv.confirmed),
        (4, 0),
        "released seats are returned once"
    );

    let err = client
        .confirm_seats(pb::ConfirmSeatsRequest { hold_id: "idem".into() })
        .await
        .expect_err("released");
    assert_eq!(err.code(), Code::FailedPrecondition);
}

#[tokio::test]
async fn a_hold_expires_after_its_ttl_and_cannot_be_confirmed() {
    let svc = TestFlight::start().await;
    let flight = svc.create_flight(2, START_MS + DAY_MS).await;
    svc.hold("slow", &flight.id, 2).await.expect("hold");
    assert_eq!(svc.assert_conserved(&flight.id).await.available, 0);

    svc.clock.advance(TTL);
    let err = svc
        .client
        .clone()
        .confirm_seats(pb::ConfirmSeatsRequest { hold_id: "slow".into() })
        .await
        .expect_err("expired");

    assert_eq!(err.code(), Code::FailedPrecondition);
    let inv = svc.assert_conserved(&flight.id).await;
    assert_eq!((inv.available, inv.held), (2, 0), "expired seats are back");
    let again = svc
        .hold("slow", &flight.id, 2)
        .await
        .expect_err("an expired hold id stays expired");
    assert_eq!(again.code(), Code::FailedPrecondition);
}

#[tokio::test]
async fn the_sweeper_returns_expired_holds_and_spares_live_ones() {
    let svc = TestFlight::start().await;
    let flight = svc.create_flight(5, START_MS + DAY_MS).await;
    svc.hold("old", &flight.id, 2).await.expect("hold");
    svc.clock.advance(TTL / 2);
    svc.hold("young", &flight.id, 1).await.expect("hold");

    svc.clock.advance(TTL / 2);
    let swept = svc.store.expire_due_holds(svc.clock.now()).await.expect("sweep");

    assert_eq!(swept, 1);
    let inv = svc.assert_conserved(&flight.id).await;
    assert_eq!((inv.available, inv.held), (4, 1));
    let young = svc
        .client
        .clone()
        .confirm_seats(pb::ConfirmSeatsRequest {
            hold_id: "young".into(),
        })
        .await;
    assert!(young.is_ok(), "the younger hold is still live: {young:?}");
}

#[tokio::test]
async fn an_expired_hold_frees_seats_for_a_new_hold_without_a_sweep() {
    let svc = TestFlight::start().await;
    let flight = svc.create_flight(1, START_MS + DAY_MS).await;
    svc.hold("first", &flight.id, 1).await.expect("hold");
    assert_eq!(
        svc.hold("second", &flight.id, 1).await.unwrap_err().code(),
        Code::FailedPrecondition
    );

    svc.clock.advance(TTL);

    svc.hold("second", &flight.id, 1)
        .await
        .expect("the expired hold's seat is free again");
    svc.assert_conserved(&flight.id).await;
}

#[tokio::test]
async fn a_release_before_its_hold_leaves_a_tombstone_that_refuses_the_late_hold() {
    let svc = TestFlight::start().await;
    let flight = svc.create_flight(3, START_MS + DAY_MS).await;

    let released = svc
        .client
        .clone()
        .release_seats(pb::ReleaseSeatsRequest {
            hold_id: "ghost".into(),
        })
        .await
        .expect("release");
    assert!(released.into_inner().hold.is_none(), "nothing was held under that id");
    let late = svc
        .hold("ghost", &flight.id, 1)
        .await
        .expect_err("late hold after its release");

    assert_eq!(late.code(), Code::FailedPrecondition);
    let inv = svc.assert_conserved(&flight.id).await;
    assert_eq!(inv.available, 3, "the late hold took nothing");
}

#[tokio::test]
async fn holding_more_seats_than_are_left_is_refused_and_takes_nothing() {
    let svc = TestFlight::start().await;
    let flight = svc.create_flight(3, START_MS + DAY_MS).await;
    svc.hold("two", &flight.id, 2).await.expect("hold");

    let err = svc.hold("two-more", &flight.id, 2).await.expect_err("only one left");

    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(
        err.message().contains("1 seat"),
        "message says what is left: {}",
        err.message()
    );
    assert_eq!(svc.assert_conserved(&flight.id).await.available, 1);
}

#[tokio::test]
async fn holding_on_an_unknown_flight_is_not_found() {
    let svc = TestFlight::start().await;
    let err = svc.hold("h", "no-such-flight", 1).await.expect_err("unknown flight");
    assert_eq!(err.code(), Code::NotFound);
    let err = svc
        .client
        .clone()
        .confirm_seats(pb::ConfirmSeatsRequest { hold_id: "nope".into() })
        .await
        .expect_err("unknown hold");
    assert_eq!(err.code(), Code::NotFound);
}

/// The ErrorInfo reason of a status.
fn reason(status: &tonic::Status) -> Option<String> {
    use tonic_types::StatusExt;
    status.get_error_details().error_info().map(|i| i.reason.clone())
}

#[tokio::test]
async fn departed_flights_cannot_be_booked() {
    // Arrange: a flight that departs five minutes after the clock's start (within
    // a hold's TTL), held once before.
    let svc = TestFlight::start().await;
    let flight = svc.create_flight(5, START_MS + 300_000).await;
    let before = svc.hold("before", &flight.id, 1).await.expect("hold before departure");

    // Act: at departure, and after it.
    svc.clock.advance(std::time::Duration::from_secs(300));
    let at_departure = svc.hold("at", &flight.id, 1).await;
    svc.clock.advance(std::time::Duration::from_secs(60));
    let after = svc.hold("after", &flight.id, 1).await;
    let retry = svc.hold("before", &flight.id, 1).await;

    // Assert
    for (name, result) in [("at departure", at_departure), ("after departure", after)] {
        let err = result.expect_err(name);
        assert_eq!(err.code(), Code::FailedPrecondition, "{name}: {err:?}");
        assert_eq!(reason(&err).as_deref(), Some("FLIGHT_DEPARTED"), "{name}");
    }
    assert_eq!(retry.expect("a retry of a hold made before departure"), before);
    let inv = svc.assert_conserved(&flight.id).await;
    assert_eq!((inv.available, inv.held), (4, 1), "refused holds took nothing");
}
