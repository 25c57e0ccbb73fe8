//! Lock order and sweep batches: every transaction that moves a flight's seats
//! locks the flight row first, and a sweep transaction expires a bounded batch
//! of one flight's holds, so that writers neither deadlock on PostgreSQL nor
//! queue behind one huge sweep after an outage.

use std::time::Duration;

use futures::future::join_all;
use sqlx::{Connection, Executor, PgConnection};
use tonic::Code;
use travel::Clock;
use travel::pb::flight::v1 as pb;
use travel::types::{HoldId, UnixMillis};
use travel_flight::domain::HoldRequest;

use crate::helpers::{START_MS, TTL, TestFlight};

const DAY_MS: i64 = 86_400_000;

#[tokio::test]
async fn the_sweeper_expires_at_most_a_batch_of_one_flights_holds_per_transaction() {
    // Arrange: 12 due holds on one flight and 7 on another.
    let svc = TestFlight::start().await;
    let a = svc.create_flight(30, START_MS + DAY_MS).await;
    let b = svc.create_flight(30, START_MS + DAY_MS).await;
    for i in 0..12 {
        svc.hold(&format!("a-{i}"), &a.id, 1).await.expect("hold on a");
    }
    for i in 0..7 {
        svc.hold(&format!("b-{i}"), &b.id, 1).await.expect("hold on b");
    }
    svc.clock.advance(TTL);
    let now = svc.clock.now();

    // Act: one sweep transaction after another, with a batch of 5.
    let mut batches = Vec::new();
    let mut held = (12, 7);
    loop {
        let n = svc.store.expire_due_batch(now, 5).await.expect("sweep batch");
        if n == 0 {
            break;
        }
        let after = (
            svc.assert_conserved(&a.id).await.held,
            svc.assert_conserved(&b.id).await.held,
        );
        assert!(
            n <= 5,
            "a sweep transaction expired {n} holds, more than the batch of 5"
        );
        assert!(
            after.0 == held.0 || after.1 == held.1,
            "one sweep transaction expired holds of two flights: {held:?} -> {after:?}"
        );
        held = after;
        batches.push(n);
        assert!(batches.len() <= 19, "the sweep does not end: {batches:?}");
    }

    // Assert: every due hold expired, in 5+5+2 and 5+2.
    assert_eq!(held, (0, 0));
    let mut sorted = batches.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, [2, 2, 5, 5, 5], "batches: {batches:?}");
    assert_eq!(svc.assert_conserved(&a.id).await.available, 30);
    assert_eq!(svc.assert_conserved(&b.id).await.available, 30);
}

#[tokio::test]
async fn a_whole_sweep_still_expires_every_due_hold_of_every_flight() {
    let svc = TestFlight::start().await;
    let a = svc.create_flight(300, START_MS + DAY_MS).await;
    let b = svc.create_flight(300, START_MS + DAY_MS).await;
    for i in 0..150 {
        let flight = if i % 3 == 0 { &b.id } else { &a.id };
        svc.hold(&format!("h-{i}"), flight, 1).await.expect("hold");
    }
    svc.clock.advance(TTL);

    let swept = svc.store.expire_due_holds(svc.clock.now()).await.expect("sweep");

    assert_eq!(swept, 150);
    assert_eq!(svc.assert_conserved(&a.id).await.available, 300);
    assert_eq!(svc.assert_conserved(&b.id).await.available, 300);
}

/// Backends of this test's database that wait for a lock right now.
async fn lock_waiters(observer: &mut PgConnection) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
    )
    .fetch_one(&mut *observer)
    .await
    .expect("read pg_stat_activity")
}

/// Waits until `n` backends wait for a lock (a condition, not a timed guess).
async fn until_lock_waiters(observer: &mut PgConnection, n: i64) {
    for _ in 0..6000 {
        if lock_waiters(observer).await >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("{n} transaction(s) never started waiting for a lock");
}

fn hold_request(hold_id: &str, flight_id: &str) -> HoldRequest {
    HoldRequest {
        hold_id: HoldId::parse(hold_id).expect("hold id"),
        flight_id: flight_id.to_owned(),
        seats: 1,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn flight_holds_lock_the_flight_row_first_so_racing_retries_never_deadlock() {
    // Arrange: a hold whose time is up at `late` but not at `early`, and two
    // tries of one new hold, the second of which sees the old hold expire.
    let svc = TestFlight::start().await;
    let flight = svc.create_flight(5, START_MS + DAY_MS).await;
    svc.hold("old", &flight.id, 1).await.expect("old hold");
    let late = UnixMillis::from_unix_millis(START_MS).plus(TTL);
    let early = UnixMillis::from_unix_millis(late.unix_millis() - 1);
    let req = hold_request("retried", &flight.id);

    let (first, second) = if svc.is_postgres() {
        // Another writer has the flight row, so both tries queue behind it: the
        // first inside its transaction, then the second. Before the fix the
        // first had inserted its hold row and waited for the row only to check
        // the foreign key, the second had expired `old` and waited to give its
        // seat back; once the row was free each waited for the other.
        let mut blocker = PgConnection::connect(svc.database_url()).await.expect("connect");
        let mut observer = PgConnection::connect(svc.database_url()).await.expect("connect");
        blocker.execute("BEGIN").await.expect("begin");
        sqlx::query("SELECT id FROM flights WHERE id = $1 FOR UPDATE")
            .bind(&flight.id)
            .execute(&mut blocker)
            .await
            .expect("lock the flight row");
        let first = tokio::spawn({
            let (store, req) = (svc.store.clone(), req.clone());
            async move { store.hold(&req, early, TTL).await }
        });
        until_lock_waiters(&mut observer, 1).await;
        let second = tokio::spawn({
            let (store, req) = (svc.store.clone(), req.clone());
            async move { store.hold(&req, late, TTL).await }
        });
        until_lock_waiters(&mut observer, 2).await;
        blocker.execute("COMMIT").await.expect("commit");
        (first.await.expect("first task"), second.await.expect("second task"))
    } else {
        // SQLite: BEGIN IMMEDIATE admits one writer at a time; the race is plain.
        tokio::join!(svc.store.hold(&req, early, TTL), svc.store.hold(&req, late, TTL))
    };

    // Assert: both tries answer with the one hold; nothing failed in storage.
    let first = first.expect("the first try of the hold");
    let second = second.expect("the retry of the hold");
    assert_eq!(first, second);
    let inv = svc.assert_conserved(&flight.id).await;
    assert_eq!((inv.available, inv.held), (4, 1), "old expired, retried held once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn holds_releases_confirms_and_sweeps_on_two_flights_never_fail_internally() {
    // Arrange: two flights; rounds of holds, confirms and releases on both while
    // sweeps run and the clock moves past earlier holds' expiry.
    let svc = TestFlight::start().await;
    let flights = [
        svc.create_flight(20, START_MS + 30 * DAY_MS).await,
        svc.create_flight(20, START_MS + 30 * DAY_MS).await,
    ];
    let mut failures = Vec::new();

    for round in 0..6 {
        // Act
        let clients = (0..16).map(|i| {
            let mut client = svc.client.clone();
            let flight_id = flights[i % 2].id.clone();
            async move {
                let hold_id = format!("r{round}-{i}");
                let held = client
                    .hold_seats(pb::HoldSeatsRequest {
                        hold_id: hold_id.clone(),
                        flight_id,
                        seats: 1 + (i % 2) as i32,
                    })
                    .await;
                let next = match (held, i % 4) {
                    (Err(e), _) => Err(e),
                    (Ok(_), 0) => client
                        .confirm_seats(pb::ConfirmSeatsRequest { hold_id })
                        .await
                        .map(drop),
                    (Ok(_), 1) => client
                        .release_seats(pb::ReleaseSeatsRequest { hold_id })
                        .await
                        .map(drop),
                    (Ok(_), _) => Ok(()),
                };
                next.err()
            }
        });
        let sweeps = (0..3).map(|_| {
            let svc = &svc;
            async move { svc.store.expire_due_holds(svc.clock.now()).await.err() }
        });
        let (statuses, swept) = tokio::join!(join_all(clients), join_all(sweeps));
        failures.extend(
            statuses
                .into_iter()
                .flatten()
                .filter(|s| s.code() != Code::FailedPrecondition)
                .map(|s| format!("round {round}: {s:?}")),
        );
        failures.extend(swept.into_iter().flatten().map(|e| format!("round {round} sweep: {e}")));
        svc.clock.advance(TTL / 2);
    }

    // Assert
    assert!(failures.is_empty(), "calls failed other than by refusal: {failures:#?}");
    for f in &flights {
        svc.assert_conserved(&f.id).await;
    }
}
