//! The recovery query reads only unfinished sagas, through the partial index
//! on them, not every reservation ever made — on SQLite and PostgreSQL alike.

mod common;

use common::World;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn recovery_does_not_scan_every_reservation_ever_made() {
    // Arrange
    let world = World::start().await;
    let res = world.reservations().await;

    // Act
    let plan = res.store.explain_unfinished().await.expect("explain");

    // Assert
    assert!(
        plan.contains("reservations_unfinished_sagas"),
        "the recovery query does not use the partial index on unfinished sagas:\n{plan}"
    );
}
