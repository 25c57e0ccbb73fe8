//! Operators' RPCs: ListUnfinishedReservations shows a stuck saga with its
//! step, age, lease and last error; DriveReservation drives it the way the
//! saga's rules allow (forward past the pivot, compensation before it), never
//! alongside a driver whose lease is live; both are for admins only.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tonic::Code;
use travel::pb::reservation::v1 as pb;
use travel::pb::reservation::v1::ReservationState::{Confirmed, Failed, Pending};
use travel_reservation::CrashPoint;

use crate::helpers;
use crate::helpers::{Client, Reservations, World, bundle, checkout, get, state, violated_fields};

/// A TCP proxy to `upstream` that can be cut: while down it drops every
/// connection, the ones already open included, as a service that went away.
fn switch(upstream: &str) -> (String, watch::Sender<bool>) {
    let upstream: SocketAddr = upstream
        .trim_start_matches("http://")
        .parse()
        .expect("upstream address");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the switch");
    listener.set_nonblocking(true).expect("nonblocking");
    let url = format!("http://{}", listener.local_addr().expect("switch address"));
    let (up, is_up) = watch::channel(true);
    tokio::spawn(async move {
        let listener = TcpListener::from_std(listener).expect("switch listener");
        while let Ok((mut inbound, _)) = listener.accept().await {
            let mut is_up = is_up.clone();
            if !*is_up.borrow_and_update() {
                continue; // dropped: connection closed
            }
            tokio::spawn(async move {
                let Ok(mut outbound) = TcpStream::connect(upstream).await else {
                    return;
                };
                tokio::select! {
                    _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                    _ = is_up.wait_for(|up| !*up) => {}
                }
            });
        }
    });
    (url, up)
}

/// A reservation service calling the flight service through a switch, with
/// short calls so that a cut service fails fast.
async fn reservations_through(world: &World, point: Option<CrashPoint>) -> (Reservations, watch::Sender<bool>) {
    let (url, up) = switch(&world.flight.url);
    let res = world
        .reservations_with(|c| {
            c.flight_url = url;
            c.call_timeout = Duration::from_millis(300);
            c.crash_after = point;
        })
        .await;
    (res, up)
}

async fn unfinished(
    admin: &Client,
    page_size: i32,
    page_token: &str,
) -> Result<pb::ListUnfinishedReservationsResponse, tonic::Status> {
    let request = pb::ListUnfinishedReservationsRequest {
        page_size,
        page_token: page_token.into(),
    };
    Ok(admin.clone().list_unfinished_reservations(request).await?.into_inner())
}

async fn drive(admin: &Client, id: &str, action: pb::DriveAction) -> Result<pb::ReservationSaga, tonic::Status> {
    let request = pb::DriveReservationRequest {
        id: id.into(),
        action: action.into(),
    };
    let response = admin.clone().drive_reservation(request).await?.into_inner();
    Ok(response.saga.expect("saga in response"))
}

fn step(saga: &pb::ReservationSaga) -> pb::SagaStep {
    pb::SagaStep::try_from(saga.step).expect("known step")
}

fn reservation(saga: &pb::ReservationSaga) -> &pb::Reservation {
    saga.reservation.as_ref().expect("reservation in saga")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_saga_stuck_past_the_pivot_is_listed_with_its_last_error_and_driving_it_forward_confirms_it() {
    // Arrange: a bundle that crashed right after the pivot, then a recovery
    // pass that found the flight service gone.
    let world = World::start().await;
    let flight = world.flight.create(10, "EUR").await;
    let room_type = world.hotel.create(5, "EUR").await;
    let (res, flight_up) = reservations_through(&world, Some(CrashPoint::Confirming)).await;
    let crashed = checkout(&res.customer("user-a"), bundle("req-1", &flight, 2, &room_type, 1, 2)).await;
    assert!(crashed.is_err(), "the crashed call fails: {crashed:?}");
    flight_up.send_replace(false);
    world.leases_run_out();
    res.recover().await;
    let admin = res.admin("ops");

    // Act: list.
    let listed = unfinished(&admin, 0, "").await.expect("list unfinished");

    // Assert: the saga, at CONFIRMING, with its age, a lease that ran out, and
    // why the recovery pass stopped.
    assert_eq!(listed.sagas.len(), 1, "{listed:?}");
    assert!(listed.next_page_token.is_empty());
    let stuck = &listed.sagas[0];
    assert_eq!(step(stuck), pb::SagaStep::Confirming);
    assert_eq!(state(reservation(stuck)), Pending);
    let created = reservation(stuck).create_time.expect("create_time");
    assert_eq!(
        created.seconds,
        helpers::START_MS / 1000,
        "age: created at the clock's start"
    );
    assert!(reservation(stuck).update_time.is_some());
    let lease = stuck.lease_expire_time.expect("lease_expire_time");
    let now_s = (helpers::START_MS / 1000) + 61;
    assert!(lease.seconds <= now_s, "the lease ran out: {lease:?}");
    assert!(
        stuck.last_error.contains("could not be reached to confirm"),
        "last error: {:?}",
        stuck.last_error
    );
    assert!(stuck.last_error_time.is_some());

    // Act: the wrong way, then forward once the flight service is back.
    let compensate = drive(&admin, &reservation(stuck).id, pb::DriveAction::Compensate).await;
    flight_up.send_replace(true);
    let driven = drive(&admin, &reservation(stuck).id, pb::DriveAction::RetryForward)
        .await
        .expect("drive forward");
    let again = drive(&admin, &reservation(stuck).id, pb::DriveAction::RetryForward).await;

    // Assert
    let compensate = compensate.expect_err("past the pivot there is no compensating");
    assert_eq!(compensate.code(), Code::FailedPrecondition, "{compensate:?}");
    assert!(compensate.message().contains("past the pivot"), "{compensate:?}");
    assert_eq!(step(&driven), pb::SagaStep::Done);
    assert_eq!(state(reservation(&driven)), Confirmed);
    assert_eq!(world.flight.inventory(&flight).await, (8, 0, 2));
    assert_eq!(world.hotel.inventory(&room_type, 0).await, (4, 0, 1));
    let again = again.expect_err("a finished saga is not driven");
    assert_eq!(again.code(), Code::FailedPrecondition, "{again:?}");
    assert!(unfinished(&admin, 0, "").await.expect("list").sagas.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_saga_stuck_compensating_is_listed_with_the_services_error_and_compensating_it_fails_it_cleanly() {
    // Arrange: a bundle whose flight service went away: its room hold was
    // released, its seat release could not be made.
    let world = World::start().await;
    let flight = world.flight.create(10, "EUR").await;
    let room_type = world.hotel.create(5, "EUR").await;
    let (res, flight_up) = reservations_through(&world, None).await;
    flight_up.send_replace(false);
    let refused = checkout(&res.customer("user-a"), bundle("req-1", &flight, 1, &room_type, 1, 2))
        .await
        .expect_err("the flight service is down");
    assert_eq!(refused.code(), Code::Unavailable);
    let admin = res.admin("ops");

    // Act
    let listed = unfinished(&admin, 0, "").await.expect("list unfinished");
    let stuck = listed.sagas.first().expect("one stuck saga").clone();
    let forward = drive(&admin, &reservation(&stuck).id, pb::DriveAction::RetryForward).await;
    flight_up.send_replace(true);
    let driven = drive(&admin, &reservation(&stuck).id, pb::DriveAction::Compensate)
        .await
        .expect("compensate");

    // Assert
    assert_eq!(step(&stuck), pb::SagaStep::Compensating);
    assert!(
        stuck.last_error.starts_with("the flight service is unavailable"),
        "last error: {:?}",
        stuck.last_error
    );
    let forward = forward.expect_err("before the pivot there is no going forward");
    assert_eq!(forward.code(), Code::FailedPrecondition);
    assert!(forward.message().contains("before the pivot"), "{forward:?}");
    assert_eq!(step(&driven), pb::SagaStep::Done);
    assert_eq!(state(reservation(&driven)), Failed);
    assert_eq!(world.flight.inventory(&flight).await, (10, 0, 0));
    assert_eq!(world.hotel.inventory(&room_type, 0).await, (5, 0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_saga_whose_driver_holds_a_live_lease_is_not_driven() {
    // Arrange: a crash right after the pivot; its lease has not run out.
    let world = World::start().await;
    let flight = world.flight.create(10, "EUR").await;
    let res = world.crashing_at(CrashPoint::Confirming).await;
    let _ = checkout(&res.customer("user-a"), helpers::flight_only("req-1", &flight, 1)).await;
    let admin = res.admin("ops");
    let id = unfinished(&admin, 0, "").await.expect("list").sagas[0]
        .reservation
        .clone()
        .expect("reservation")
        .id;

    // Act
    let refused = drive(&admin, &id, pb::DriveAction::RetryForward).await;

    // Assert
    let refused = refused.expect_err("the lease is live");
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert!(refused.message().contains("being driven right now"), "{refused:?}");
    let r = get(&res.admin("ops"), &id).await.expect("get");
    assert_eq!(state(&r), Pending, "left alone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn only_admins_may_list_and_drive_sagas() {
    // Arrange
    let world = World::start().await;
    let res = world.reservations().await;
    let callers = [
        (res.customer("user-a"), Code::PermissionDenied),
        (res.service(), Code::PermissionDenied),
        (res.anonymous(), Code::Unauthenticated),
    ];

    for (caller, code) in callers {
        // Act
        let listed = unfinished(&caller, 0, "").await;
        let driven = drive(&caller, "some-id", pb::DriveAction::RetryForward).await;

        // Assert
        assert_eq!(listed.map(|_| ()).unwrap_err().code(), code);
        assert_eq!(driven.map(|_| ()).unwrap_err().code(), code);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_ids_actions_and_pages_are_refused_with_their_field_or_not_found() {
    // Arrange
    let world = World::start().await;
    let res = world.reservations().await;
    let admin = res.admin("ops");

    // Act
    let empty = drive(&admin, "", pb::DriveAction::Compensate).await.unwrap_err();
    let no_action = drive(&admin, "an-id", pb::DriveAction::Unspecified).await.unwrap_err();
    let unknown = drive(&admin, "no-such-reservation", pb::DriveAction::Compensate)
        .await
        .unwrap_err();
    let bad_size = unfinished(&admin, 101, "").await.unwrap_err();
    let bad_token = unfinished(&admin, 0, "not-a-token").await.unwrap_err();

    // Assert
    assert_eq!(empty.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&empty), ["id"]);
    assert_eq!(no_action.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&no_action), ["action"]);
    assert_eq!(unknown.code(), Code::NotFound);
    assert_eq!(bad_size.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&bad_size), ["page_size"]);
    assert_eq!(violated_fields(&bad_token), ["page_token"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unfinished_sagas_are_listed_oldest_first_a_page_at_a_time() {
    // Arrange: three checkouts crashed before their holds, a minute apart.
    let world = World::start().await;
    let flight = world.flight.create(10, "EUR").await;
    let res = world.crashing_at(CrashPoint::Holding).await;
    let customer = res.customer("user-a");
    for i in 0..3 {
        let _ = checkout(&customer, helpers::flight_only(&format!("req-{i}"), &flight, 1)).await;
        world.clock.advance(Duration::from_secs(60));
    }
    let admin = res.admin("ops");

    // Act
    let first = unfinished(&admin, 2, "").await.expect("first page");
    let second = unfinished(&admin, 2, &first.next_page_token)
        .await
        .expect("second page");

    // Assert
    let created = |page: &pb::ListUnfinishedReservationsResponse| -> Vec<i64> {
        page.sagas
            .iter()
            .map(|s| reservation(s).create_time.expect("create_time").seconds)
            .collect()
    };
    let start = helpers::START_MS / 1000;
    assert_eq!(created(&first), [start, start + 60]);
    assert!(!first.next_page_token.is_empty());
    assert_eq!(created(&second), [start + 120]);
    assert!(second.next_page_token.is_empty());
    assert!(second.sagas.iter().all(|s| step(s) == pb::SagaStep::Holding));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_driver_that_lost_the_saga_does_not_record_its_error_on_it() {
    // Arrange: a saga another driver finished (CONFIRMED, its lease owner someone else).
    let world = World::start().await;
    let flight = world.flight.create(10, "EUR").await;
    let room_type = world.hotel.create(5, "EUR").await;
    let res = world.reservations().await;
    let done = checkout(&res.customer("user-a"), bundle("req-1", &flight, 1, &room_type, 1, 2))
        .await
        .unwrap();

    // Act: a previous driver, whose lease ran out, stops with an error.
    let now = travel::Clock::now(&world.clock);
    res.store
        .stop(
            &done.id,
            "a-previous-driver",
            Some("the hotel service is unavailable"),
            now,
        )
        .await
        .unwrap();

    // Assert: the finished saga shows no error of the driver that lost it.
    let saga = res.store.saga(&done.id).await.unwrap();
    assert_eq!(
        saga.last_error, None,
        "a stale driver's error overwrote a finished saga"
    );
}
