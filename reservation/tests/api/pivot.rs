//! A booking past its pivot is never lost: settings that could let a hold
//! expire before recovery confirms it are refused at start-up, the saga does
//! not pivot on a hold with too little time left, and recovery drives stuck
//! sagas side by side, so that one unreachable dependency does not make the
//! backlog outlive the holds.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tonic::{Request, Response, Status};
use travel::pb::hotel::v1 as hotel_pb;
use travel::pb::reservation::v1::ReservationState::{Confirmed, Failed, Pending};
use travel_reservation::{Application, Config, CrashPoint, ServiceToken};

use crate::helpers;
use crate::helpers::{FakeHotel, World, bundle, checkout, state};

/// Builds a reservation service on `world`'s database with `adjust`ed settings.
async fn build(world: &World, adjust: impl FnOnce(&mut Config)) -> anyhow::Result<Application> {
    let mut config = world.bare_config();
    adjust(&mut config);
    world.build(config, ServiceToken::fixed("t")).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn settings_that_let_recovery_take_over_a_live_checkout_are_refused_at_start_up() {
    // Arrange
    let world = World::start().await;

    // Act: a lease shorter than the checkout budget, and a call longer than it.
    let short_lease = build(&world, |c| c.lease = Duration::from_secs(10)).await;
    let long_call = build(&world, |c| c.call_timeout = Duration::from_secs(30)).await;

    // Assert
    let short_lease = short_lease.expect_err("a lease shorter than the checkout timeout is refused");
    assert!(short_lease.to_string().contains("--lease"), "{short_lease}");
    let long_call = long_call.expect_err("a call timeout above the checkout timeout is refused");
    assert!(long_call.to_string().contains("--call-timeout"), "{long_call}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hold_ttl_too_short_for_recovery_is_refused_at_start_up() {
    // Arrange
    let world = World::start().await;

    // Act: holds of 1 minute, recovery taking over after 60 s + 5 s.
    let short_ttl = build(&world, |c| c.hold_ttl = Some(Duration::from_secs(60))).await;
    let short_minimum = build(&world, |c| c.min_hold_ttl_at_pivot = Duration::from_secs(30)).await;
    let fine = build(&world, |c| c.hold_ttl = Some(Duration::from_secs(15 * 60))).await;

    // Assert
    let short_ttl = short_ttl.expect_err("a hold TTL below the pivot's minimum is refused");
    assert!(short_ttl.to_string().contains("--hold-ttl"), "{short_ttl}");
    let short_minimum = short_minimum.expect_err("a minimum below lease + recovery interval is refused");
    assert!(
        short_minimum.to_string().contains("--min-hold-ttl-at-pivot"),
        "{short_minimum}"
    );
    assert!(fine.is_ok(), "the defaults with 15-minute holds are consistent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hold_cannot_expire_after_the_pivot() {
    // Arrange: holds last 5 minutes, less than the minimum the saga needs left
    // at the pivot (the lease + the recovery interval and a margin). The
    // service would crash right after the pivot if it got there.
    let world = World::start_with_hold_ttl(Duration::from_secs(5 * 60)).await;
    let flight = world.flight.create(10, "EUR").await;
    let room_type = world.hotel.create(5, "EUR").await;
    let res = world.crashing_at(CrashPoint::Confirming).await;

    // Act
    let r = checkout(&res.customer("user-a"), bundle("req-1", &flight, 1, &room_type, 1, 2)).await;

    // Assert: refused before the pivot, everything given back.
    let r = r.expect("the saga passed the pivot on holds with 5 minutes left, which recovery may not beat");
    assert_eq!(state(&r), Failed);
    assert!(
        r.failure_reason.contains("would expire too soon"),
        "{}",
        r.failure_reason
    );
    assert_eq!(world.flight.inventory(&flight).await, (10, 0, 0));
    assert_eq!(world.hotel.inventory(&room_type, 0).await, (5, 0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_ample_hold_time_the_bundle_confirms() {
    // Arrange
    let world = World::start().await;
    let flight = world.flight.create(10, "EUR").await;
    let room_type = world.hotel.create(5, "EUR").await;
    let res = world.reservations().await;

    // Act
    let r = checkout(&res.customer("user-a"), bundle("req-1", &flight, 1, &room_type, 1, 2))
        .await
        .unwrap();

    // Assert
    assert_eq!(state(&r), Confirmed);
    let stored = res.store.get(&r.id).await.unwrap();
    let flight_expiry = stored
        .flight
        .and_then(|f| f.hold_expires)
        .expect("the seat hold's expiry is kept");
    let hotel_expiry = stored
        .hotel
        .and_then(|h| h.hold_expires)
        .expect("the room hold's expiry is kept");
    let fifteen_minutes = helpers::START_MS + 15 * 60 * 1000;
    assert_eq!(flight_expiry.unix_millis(), fifteen_minutes);
    assert_eq!(hotel_expiry.unix_millis(), fifteen_minutes);
}

/// A hotel service whose first ConfirmRooms of each hold waits until
/// `expected` of them are in flight at once (or a second passes) and then
/// answers UNAVAILABLE, as do its retries at once; it records the most holds
/// it saw being confirmed together.
#[derive(Clone, Default)]
struct SlowHotel {
    expected: usize,
    seen: Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
    in_flight: Arc<AtomicUsize>,
    most: Arc<AtomicUsize>,
    changed: Arc<tokio::sync::Notify>,
}

#[tonic::async_trait]
impl FakeHotel for SlowHotel {
    async fn confirm_rooms(
        &self,
        request: Request<hotel_pb::ConfirmRoomsRequest>,
    ) -> Result<Response<hotel_pb::ConfirmRoomsResponse>, Status> {
        let first = self.seen.lock().expect("lock").insert(request.into_inner().hold_id);
        if !first {
            return Err(Status::unavailable("the hotel is overloaded"));
        }
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        self.changed.notify_waiters();
        let enough = async {
            while self.most.load(Ordering::SeqCst) < self.expected {
                let notified = self.changed.notified();
                if self.most.load(Ordering::SeqCst) >= self.expected {
                    break;
                }
                notified.await;
            }
        };
        // Bounded, so that a driver taking one saga at a time still finishes.
        let _ = tokio::time::timeout(Duration::from_secs(1), enough).await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        Err(Status::unavailable("the hotel is overloaded"))
    }

    async fn release_rooms(
        &self,
        _: Request<hotel_pb::ReleaseRoomsRequest>,
    ) -> Result<Response<hotel_pb::ReleaseRoomsResponse>, Status> {
        Err(Status::unavailable("the hotel is overloaded"))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn recovery_drives_stuck_sagas_side_by_side() {
    // Arrange: three bundles past the pivot, left by a crash; the hotel now
    // answers slowly and then UNAVAILABLE.
    let world = World::start().await;
    let flight = world.flight.create(10, "EUR").await;
    let room_type = world.hotel.create(5, "EUR").await;
    let crashing = world.crashing_at(CrashPoint::Confirming).await;
    for i in 0..3 {
        let request = bundle(&format!("req-{i}"), &flight, 1, &room_type, 1, 2);
        assert!(checkout(&crashing.customer("user-a"), request).await.is_err());
    }
    crashing.stop().await;
    let hotel = SlowHotel {
        expected: 3,
        ..SlowHotel::default()
    };
    let (hotel_url, fake) = helpers::serve_hotel(hotel.clone()).await;
    let res = world
        .reservations_with(|c| {
            c.hotel_url = hotel_url;
            c.call_timeout = Duration::from_secs(2);
        })
        .await;
    world.leases_run_out();

    // Act
    let pass = res.recover().await;

    // Assert
    assert_eq!(
        hotel.most.load(Ordering::SeqCst),
        3,
        "most ConfirmRooms in flight at once during one recovery pass"
    );
    assert_eq!(pass.left, 3, "{pass:?}");
    for r in res.store.list(None, None, 10).await.unwrap() {
        assert_eq!(state(&r.into()), Pending, "still confirming, for the next pass");
    }
    fake.abort();
}
