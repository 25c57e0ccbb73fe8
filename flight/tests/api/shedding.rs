//! Load shedding: past `--max-concurrent-calls` for the whole service, a call
//! is refused at once with RESOURCE_EXHAUSTED and a retry delay, whichever
//! connection it comes on; health checks are still answered; capacity comes
//! back when the admitted call answers.

use std::time::Duration;

use sqlx::Executor as _;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;
use tonic_types::StatusExt as _;
use travel::pb::flight::v1 as pb;
use travel::pb::flight::v1::flight_service_client::FlightServiceClient;

use crate::helpers::{START_MS, TestFlight};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_limit_calls_are_refused_at_once_until_the_admitted_one_answers() {
    // Arrange: one call at a time; a flight whose row the test locks, so that
    // a hold on it waits in the service.
    let service = TestFlight::start_with(|config| config.host.server.max_concurrent_calls = 1).await;
    let flight = service.create_flight(5, START_MS + 86_400_000).await;
    sqlx::any::install_default_drivers();
    let outside = sqlx::AnyPool::connect(service.database_url()).await.expect("connect");
    let lock = if service.is_postgres() {
        let mut tx = outside.begin().await.expect("begin");
        let update = format!(
            "UPDATE flights SET flight_number = flight_number WHERE id = '{}'",
            flight.id
        );
        tx.execute(sqlx::AssertSqlSafe(update)).await.expect("lock the row");
        tx
    } else {
        outside
            .begin_with("BEGIN IMMEDIATE")
            .await
            .expect("take the write lock")
    };
    let holding = {
        let client = service.client.clone();
        let flight_id = flight.id.clone();
        // It may meet the test's own GetFlight holding the one slot: then it
        // does as told, and tries again shortly.
        tokio::spawn(async move {
            let request = pb::HoldSeatsRequest {
                hold_id: "h-admitted".into(),
                flight_id,
                seats: 1,
            };
            loop {
                match client.clone().hold_seats(request.clone()).await {
                    Err(status) if status.code() == tonic::Code::ResourceExhausted => {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    answered => return answered,
                }
            }
        })
    };

    // Act: calls on another connection while the hold waits.
    let other = travel::testing::connect(service.addr).await;
    let mut flights = FlightServiceClient::new(other.clone());
    let get = pb::GetFlightRequest { id: flight.id.clone() };
    let mut refused = None;
    for _ in 0..500 {
        assert!(!holding.is_finished(), "the hold answered while the row was locked");
        match flights.get_flight(get.clone()).await {
            Err(status) => {
                refused = Some(status);
                break;
            }
            // The hold has not reached the service yet.
            Ok(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }

    // Assert: refused at once with a retry delay; health still answered.
    let refused = refused.expect("a call past the limit is refused");
    assert_eq!(refused.code(), tonic::Code::ResourceExhausted, "{refused:?}");
    assert!(refused.get_error_details().retry_info().is_some(), "{refused:?}");
    let health = HealthClient::new(other)
        .check(HealthCheckRequest::default())
        .await
        .expect("health is never shed");
    assert_eq!(health.into_inner().status, 1, "SERVING");

    // Act: the row is free again; the admitted hold answers.
    lock.rollback().await.expect("release the lock");
    let held = holding.await.expect("task").expect("the admitted hold succeeds");

    // Assert: capacity is back.
    assert_eq!(held.into_inner().hold.expect("hold").seats, 1);
    let flight = flights.get_flight(get).await.expect("served again").into_inner();
    assert_eq!(flight.flight.expect("flight").available_seats, 4);
}
