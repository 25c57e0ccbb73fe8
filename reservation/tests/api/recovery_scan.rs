//! The recovery query reads only unfinished sagas, through the partial index
//! on them, not every reservation ever made — on SQLite and PostgreSQL alike —
//! and takes the sagas past their pivot first, without starving the others.

use travel_reservation::CrashPoint;
use travel_reservation::domain::Step;

use crate::helpers::{World, bundle, checkout, flight_only};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn recovery_does_not_scan_every_reservation_ever_made() {
    // Arrange
    let world = World::start().await;
    let res = world.reservations().await;

    // Act
    let plans = res.store.explain_unfinished().await.expect("explain");

    // Assert: each of its queries.
    for plan in plans {
        assert!(
            plan.contains("reservations_unfinished_sagas"),
            "a recovery query does not use the partial index on unfinished sagas:\n{plan}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn recovery_takes_sagas_past_the_pivot_first() {
    // Arrange: a saga left compensating, then one left past its pivot.
    let world = World::start().await;
    let one_seat = world.flight.create(1, "EUR").await;
    let flight = world.flight.create(10, "EUR").await;
    let room_type = world.hotel.create(5, "EUR").await;
    let compensating = world.crashing_at(CrashPoint::Compensating).await;
    let refused = bundle("req-1", &one_seat, 2, &room_type, 1, 2);
    assert!(checkout(&compensating.customer("user-a"), refused).await.is_err());
    compensating.stop().await;
    let confirming = world.crashing_at(CrashPoint::Confirming).await;
    let booked = bundle("req-2", &flight, 1, &room_type, 1, 2);
    assert!(checkout(&confirming.customer("user-a"), booked).await.is_err());
    world.leases_run_out();

    // Act
    let due = confirming
        .store
        .unfinished(travel::Clock::now(&world.clock), 10)
        .await
        .unwrap();

    // Assert
    let steps: Vec<Step> = due.iter().map(|r| r.step).collect();
    assert_eq!(steps, [Step::Confirming, Step::Compensating]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn more_sagas_past_the_pivot_than_a_pass_takes_do_not_starve_a_compensation() {
    // Arrange: one saga left compensating, then more sagas left past their
    // pivot than one pass takes of them.
    let world = World::start().await;
    let one_seat = world.flight.create(1, "EUR").await;
    let flight = world.flight.create(200, "EUR").await;
    let compensating = world.crashing_at(CrashPoint::Compensating).await;
    assert!(
        checkout(&compensating.customer("user-a"), flight_only("refused", &one_seat, 2))
            .await
            .is_err()
    );
    compensating.stop().await;
    let confirming = world.crashing_at(CrashPoint::Confirming).await;
    let alice = confirming.customer("user-a");
    for i in 0..110 {
        assert!(
            checkout(&alice, flight_only(&format!("req-{i}"), &flight, 1))
                .await
                .is_err()
        );
    }
    confirming.stop().await;
    let res = world.reservations().await;
    world.leases_run_out();

    // Act: one recovery pass.
    res.recover().await;

    // Assert: the same pass drove the compensation to its end too.
    let all = res.store.list(Some("user-a"), None, 1000).await.unwrap();
    let refused = all
        .iter()
        .find(|r| r.flight.as_ref().is_some_and(|f| f.flight_id == one_seat));
    let refused = refused.expect("the refused checkout");
    assert_eq!(
        refused.step,
        Step::Done,
        "the compensating saga was left behind by the confirming ones"
    );
}
