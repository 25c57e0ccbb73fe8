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

/// Concurrent calls the service admits in the overload test.
const LIMIT: usize = 4;
/// Calls each caller makes per round.
const CALLS: usize = 50;

/// What a round of calls saw: admitted latencies, refused latencies, and
/// the codes of calls that were neither OK nor RESOURCE_EXHAUSTED.
#[derive(Default)]
struct Round {
    admitted: Vec<Duration>,
    refused: Vec<Duration>,
    other: Vec<tonic::Code>,
}

impl Round {
    fn p(samples: &[Duration], q: f64) -> Duration {
        let mut sorted = samples.to_vec();
        sorted.sort();
        let at = ((sorted.len() as f64 - 1.0) * q).round() as usize;
        sorted.get(at).copied().unwrap_or_default()
    }
}

/// `callers` callers, each making [`CALLS`] GetFlight calls one after another
/// (a refused call is followed by the next at once, the worst a client can do).
async fn round(clients: &[FlightServiceClient<tonic::transport::Channel>], callers: usize, id: &str) -> Round {
    let tasks: Vec<_> = (0..callers)
        .map(|caller| {
            let mut client = clients[caller % clients.len()].clone();
            let request = pb::GetFlightRequest { id: id.to_owned() };
            tokio::spawn(async move {
                let mut seen = Round::default();
                for _ in 0..CALLS {
                    let started = std::time::Instant::now();
                    let answer = client.get_flight(request.clone()).await;
                    let took = started.elapsed();
                    match answer {
                        Ok(_) => seen.admitted.push(took),
                        Err(status) if status.code() == tonic::Code::ResourceExhausted => {
                            assert!(status.get_error_details().retry_info().is_some(), "{status:?}");
                            seen.refused.push(took);
                        }
                        Err(status) => seen.other.push(status.code()),
                    }
                }
                seen
            })
        })
        .collect();
    let mut all = Round::default();
    for task in tasks {
        let seen = task.await.expect("a caller");
        all.admitted.extend(seen.admitted);
        all.refused.extend(seen.refused);
        all.other.extend(seen.other);
    }
    all
}

/// This process's resident memory, in KiB (Linux).
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|kib| kib.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_times_more_callers_than_the_limit_get_answers_or_refusals_and_memory_stays_flat() {
    // Arrange: a service that runs four calls at once, callers on four connections.
    let service = TestFlight::start_with(|config| config.host.server.max_concurrent_calls = LIMIT).await;
    let flight = service.create_flight(5, START_MS + 86_400_000).await;
    let mut clients = Vec::new();
    for _ in 0..4 {
        clients.push(FlightServiceClient::new(travel::testing::connect(service.addr).await));
    }
    let at_the_limit = round(&clients, LIMIT, &flight.id).await;

    // Act: ten times as many callers, round after round.
    let first = round(&clients, 10 * LIMIT, &flight.id).await;
    let rss_after_first = rss_kib();
    let mut last = Round::default();
    for _ in 0..5 {
        last = round(&clients, 10 * LIMIT, &flight.id).await;
    }
    let rss_after_last = rss_kib();

    // Assert: nothing but answers and refusals with a retry delay; the excess
    // refused; memory does not grow round after round. (Latencies are printed,
    // not asserted: here the callers share the service's two cores, and a
    // refusal costs about as much as a GetFlight, so both queue for the CPU.)
    let p99 = |samples: &[Duration]| Round::p(samples, 0.99);
    let p50 = |samples: &[Duration]| Round::p(samples, 0.5);
    println!(
        "at the limit: p50 {:?} p99 {:?}; 10x: {} admitted (p50 {:?} p99 {:?}), {} refused (p50 {:?} p99 {:?}); RSS {} -> {} KiB",
        p50(&at_the_limit.admitted),
        p99(&at_the_limit.admitted),
        last.admitted.len(),
        p50(&last.admitted),
        p99(&last.admitted),
        last.refused.len(),
        p50(&last.refused),
        p99(&last.refused),
        rss_after_first,
        rss_after_last
    );
    for seen in [&at_the_limit, &first, &last] {
        assert!(seen.other.is_empty(), "calls failed otherwise: {:?}", seen.other);
    }
    assert!(at_the_limit.refused.is_empty(), "calls within the limit were refused");
    assert!(!last.refused.is_empty(), "no call past the limit was refused");
    assert!(!last.admitted.is_empty(), "no call was admitted");
    assert!(
        rss_after_last <= rss_after_first + 32 * 1024,
        "memory grew from {rss_after_first} KiB to {rss_after_last} KiB over five rounds of overload"
    );
}
