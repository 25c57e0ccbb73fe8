//! Room holds through the API: all-or-nothing over the nights of a stay,
//! idempotency by hold id, confirm and release, tombstones, and expiry with an
//! injected clock (lazy, and by the sweeper's path).

use tonic::Code;
use travel::Clock;
use travel::pb::hotel::v1 as pb;

use crate::helpers;
use crate::helpers::{TTL, TestHotel, hold_request, reason};

#[tokio::test]
async fn a_hold_takes_rooms_on_every_night_of_the_stay_and_no_other() {
    // Arrange
    let svc = TestHotel::start().await;
    let hotel = svc.create_hotel("Grand", "Lisbon").await;
    let room = svc.add_room_type(&hotel.id, 2, 5, 10_000).await;

    // Act
    let hold = svc.hold("h-1", &room, 1, 4, 2).await.expect("hold");

    // Assert
    assert_eq!(hold.state, pb::HoldState::Held as i32);
    assert_eq!((hold.rooms, hold.guests), (2, 2));
    assert_eq!(hold.total_price.expect("price").amount_minor, 10_000 * 3 * 2);
    assert_eq!(hold.check_in, Some(helpers::night(1)));
    assert_eq!(hold.check_out, Some(helpers::night(4)));
    for night in 0..6 {
        let inv = svc.assert_conserved(&room.id, night).await;
        let held = if (1..4).contains(&night) { 2 } else { 0 };
        assert_eq!((inv.available, inv.held), (5 - held, held), "night {night}");
    }
}

#[tokio::test]
async fn holding_again_with_the_same_id_and_request_returns_the_same_hold() {
    // Arrange
    let svc = TestHotel::start().await;
    let hotel = svc.create_hotel("Grand", "Lisbon").await;
    let room = svc.add_room_type(&hotel.id, 2, 5, 10_000).await;
    let first = svc.hold("h-1", &room, 0, 2, 1).await.expect("hold");

    // Act
    let again = svc.hold("h-1", &room, 0, 2, 1).await.expect("retry");

    // Assert
    assert_eq!(again, first);
    assert_eq!(svc.assert_conserved(&room.id, 0).await.held, 1, "taken once");
}

#[tokio::test]
async fn holding_with_the_same_id_for_other_rooms_is_already_exists() {
    // Arrange
    let svc = TestHotel::start().await;
    let hotel = svc.create_hotel("Grand", "Lisbon").await;
    let room = svc.add_room_type(&hotel.id, 2, 5, 10_000).await;
    svc.hold("h-1", &room, 0, 2, 1).await.expect("hold");

    // Act
    let other_nights = svc.hold("h-1", &room, 0, 3, 1).await.expect_err("other nights");
    let other_rooms = svc.hold("h-1", &room, 0, 2, 2).await.expect_err("other rooms");

    // Assert
    assert_eq!(other_nights.code(), Code::AlreadyExists);
    assert_eq!(other_rooms.code(), Code::AlreadyExists);
    assert_eq!(svc.assert_conserved(&room.id, 2).await.held, 0);
}

#[tokio::test]
async fn a_hold_that_lacks_rooms_on_one_night_takes_no_night_and_names_it() {
    // Arrange: night 3 has one room left.
    let svc = TestHotel::start().await;
    let hotel = svc.create_hotel("Grand", "Lisbon").await;
    let room = svc.add_room_type(&hotel.id, 2, 2, 10_000).await;
    svc.hold("busy", &room, 3, 4, 1).await.expect("hold night 3");

    // Act
    let refused = svc
        .hold("long", &room, 1, 6, 2)
        .await
        .expect_err("night 3 lacks a room");

    // Assert
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(reason(&refused).as_deref(), Some("NOT_ENOUGH_ROOMS"));
    assert!(
        refused.message().contains(&helpers::night_date(3).iso()),
        "message names the night: {}",
        refused.message()
    );
    for night in 0..7 {
        let inv = svc.assert_conserved(&room.id, night).await;
        assert_eq!(inv.held, i64::from(night == 3), "night {night}");
    }
    assert_eq!(
        svc.release("long").await.expect("release"),
        None,
        "no hold was left behind"
    );
}

#[tokio::test]
async fn a_hold_for_more_guests_than_the_rooms_sleep_is_failed_precondition() {
    // Arrange
    let svc = TestHotel::start().await;
    let hotel = svc.create_hotel("Grand", "Lisbon").await;
    let double = svc.add_room_type(&hotel.id, 2, 5, 10_000).await;

    // Act
    let refused = svc
        .client()
        .hold_rooms(hold_request("h-1", &double, 0, 2, 2, 5))
        .await
        .expect_err("two doubles do not sleep five");
    let fits = svc.client().hold_rooms(hold_request("h-2", &double, 0, 2, 2, 4)).await;

    // Assert
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(reason(&refused).as_deref(), Some("TOO_MANY_GUESTS"));
    assert!(fits.is_ok(), "two doubles sleep four: {fits:?}");
}

#[tokio::test]
async fn a_hold_for_a_room_type_of_another_hotel_is_not_found() {
    // Arrange
    let svc = TestHotel::start().await;
    let grand = svc.create_hotel("Grand", "Lisbon").await;
    let other = svc.create_hotel("Other", "Lisbon").await;
    let room = svc.add_room_type(&grand.id, 2, 5, 10_000).await;
    let mut wrong_hotel = hold_request("h-1", &room, 0, 1, 1, 1);
    wrong_hotel.hotel_id = other.id.clone();
    let mut unknown_room = hold_request("h-2", &room, 0, 1, 1, 1);
    unknown_room.room_type_id = "no-such-room".into();

    // Act
    let wrong_hotel = svc.client().hold_rooms(wrong_hotel).await.expect_err("wrong hotel");
    let unknown_room = svc.client().hold_rooms(unknown_room).await.expect_err("unknown room");

    // Assert
    assert_eq!(wrong_hotel.code(), Code::NotFound);
    assert_eq!(unknown_room.code(), Code::NotFound);
}

#[tokio::test]
async fn confirm_is_idempotent_and_keeps_the_rooms_sold() {
    // Arrange
    let svc = TestHotel::start().await;
    let hotel = svc.create_hotel("Grand", "Lisbon").await;
    let room = svc.add_room_type(&hotel.id, 2, 3, 10_000).await;
    svc.hold("h-1", &room, 0, 2, 2).await.expect("hold");

    // Act
    let first = svc.confirm("h-1").await.expect("confirm");
    let again = svc.confirm("h-1").await.expect("confirm again");
    svc.clock.advance(TTL * 2);
    let after_ttl = svc.confirm("h-1").await.expect("confirmed holds do not expire");

    // Assert
    assert_eq!(first.state, pb::HoldState::Confirmed as i32);
    assert_eq!(again, first);
    assert_eq!(after_ttl.state, pb::HoldState::Confirmed as i32);
    assert_eq!(svc.store.expire_due_holds(svc.clock.now()).await.expect("sweep"), 0);
    for night in 0..2 {
        let inv = svc.assert_conserved(&room.id, night).await;
        assert_eq!((inv.available, inv.held, inv.confirmed), (1, 0, 2));
    }
}

#[tokio::test]
async fn confirming_an_unknown_hold_is_not_found() {
    // Arrange
    let svc = TestHotel::start().await;

    // Act
    let status = svc.confirm("never-held").await.expect_err("unknown hold");

    // Assert
    assert_eq!(status.code(), Code::NotFound);
}

#[tokio::test]
async fn release_gives_the_rooms_back_on_every_night_and_is_idempotent() {
    // Arrange: one held and one confirmed hold.
    let svc = TestHotel::start().await;
    let hotel = svc.create_hotel("Grand", "Lisbon").await;
    let room = svc.add_room_type(&hotel.id, 2, 3, 10_000).await;
    svc.hold("held", &room, 0, 3, 1).await.expect("hold");
    svc.hold("sold", &room, 1, 4, 2).await.expect("hold");
    svc.confirm("sold").await.expect("confirm");

    // Act
    let held = svc.release("held").await.expect("release held").expect("hold");
    let sold = svc.release("sold").await.expect("release confirmed").expect("hold");
    let again = svc.release("sold").await.expect("release again").expect("hold");
    let confirm_released = svc.confirm("sold").await.expect_err("released");

    // Assert
    assert_eq!(held.state, pb::HoldState::Released as i32);
    assert_eq!(sold.state, pb::HoldState::Released as i32);
    assert_eq!(again, sold);
    assert_eq!(confirm_released.code(), Code::FailedPrecondition);
    assert_eq!(reason(&confirm_released).as_deref(), Some("HOLD_RELEASED"));
    for night in 0..5 {
        let inv = svc.assert_conserved(&room.id, night).await;
        assert_eq!((inv.available, inv.held, inv.confirmed), (3, 0, 0), "night {night}");
    }
}

#[tokio::test]
async fn releasing_an_unknown_hold_leaves_a_tombstone_that_refuses_a_late_hold() {
    // Arrange
    let svc = TestHotel::start().await;
    let hotel = svc.create_hotel("Grand", "Lisbon").await;
    let room = svc.add_room_type(&hotel.id, 2, 3, 10_000).await;

    // Act
    let released = svc.release("late").await.expect("release before hold");
    let again = svc.release("late").await.expect("release again");
    let late = svc.hold("late", &room, 0, 2, 1).await.expect_err("late hold");
    let confirm = svc.confirm("late").await.expect_err("confirm of a tombstone");

    // Assert
    assert_eq!(released, None);
    assert_eq!(again, None);
    assert_eq!(late.code(), Code::FailedPrecondition);
    assert_eq!(reason(&late).as_deref(), Some("HOLD_RELEASED"));
    assert_eq!(reason(&confirm).as_deref(), Some("HOLD_RELEASED"));
    assert_eq!(svc.assert_conserved(&room.id, 0).await.available, 3);
}

#[tokio::test]
async fn confirming_after_the_ttl_is_refused_and_gives_the_rooms_back() {
    // Arrange
    let svc = TestHotel::start().await;
    let hotel = svc.create_hotel("Grand", "Lisbon").await;
    let room = svc.add_room_type(&hotel.id, 2, 2, 10_000).await;
    let hold = svc.hold("h-1", &room, 0, 3, 2).await.expect("hold");
    assert_eq!(
        hold.expires_at.expect("expiry").seconds,
        (helpers::START_MS / 1000) + TTL.as_secs() as i64
    );

    // Act
    svc.clock.advance(TTL);
    let confirm = svc.confirm("h-1").await.expect_err("expired");
    let retry = svc.hold("h-1", &room, 0, 3, 2).await.expect_err("expired hold id");

    // Assert
    assert_eq!(confirm.code(), Code::FailedPrecondition);
    assert_eq!(reason(&confirm).as_deref(), Some("HOLD_EXPIRED"));
    assert_eq!(reason(&retry).as_deref(), Some("HOLD_EXPIRED"));
    for night in 0..3 {
        let inv = svc.assert_conserved(&room.id, night).await;
        assert_eq!((inv.available, inv.held), (2, 0), "night {night}");
    }
    let released = svc.release("h-1").await.expect("release").expect("hold");
    assert_eq!(
        released.state,
        pb::HoldState::Expired as i32,
        "an expired hold stays expired"
    );
}

#[tokio::test]
async fn the_sweeper_returns_the_rooms_of_expired_holds_only() {
    // Arrange: one hold taken at the start, one taken half a TTL later.
    let svc = TestHotel::start().await;
    let hotel = svc.create_hotel("Grand", "Lisbon").await;
    let room = svc.add_room_type(&hotel.id, 2, 4, 10_000).await;
    svc.hold("old", &room, 0, 2, 2).await.expect("hold");
    svc.clock.advance(TTL / 2);
    svc.hold("new", &room, 1, 3, 1).await.expect("hold");

    // Act
    svc.clock.advance(TTL / 2);
    let swept = svc.store.expire_due_holds(svc.clock.now()).await.expect("sweep");
    let swept_again = svc.store.expire_due_holds(svc.clock.now()).await.expect("sweep again");

    // Assert
    assert_eq!((swept, swept_again), (1, 0));
    let confirm_old = svc.confirm("old").await.expect_err("expired");
    assert_eq!(reason(&confirm_old).as_deref(), Some("HOLD_EXPIRED"));
    svc.confirm("new").await.expect("still held");
    for night in 0..3 {
        let inv = svc.assert_conserved(&room.id, night).await;
        let confirmed = i64::from(night >= 1);
        assert_eq!((inv.held, inv.confirmed), (0, confirmed), "night {night}");
    }
}

#[tokio::test]
async fn an_expired_hold_frees_its_rooms_for_a_new_hold_before_any_sweep() {
    // Arrange: the only room is held, then the hold's time runs out.
    let svc = TestHotel::start().await;
    let hotel = svc.create_hotel("Grand", "Lisbon").await;
    let room = svc.add_room_type(&hotel.id, 1, 1, 10_000).await;
    svc.hold("first", &room, 0, 2, 1).await.expect("hold");
    let sold_out = svc.hold("second", &room, 1, 2, 1).await.expect_err("sold out");
    assert_eq!(reason(&sold_out).as_deref(), Some("NOT_ENOUGH_ROOMS"));

    // Act
    svc.clock.advance(TTL);
    let second = svc.hold("second-try", &room, 1, 2, 1).await;

    // Assert
    assert!(second.is_ok(), "the expired hold's room is free again: {second:?}");
    let inv = svc.assert_conserved(&room.id, 1).await;
    assert_eq!((inv.available, inv.held), (0, 1));
    assert_eq!(svc.assert_conserved(&room.id, 0).await.available, 1);
}

/// A hold request for one room from `check_in` to `check_out` (ISO dates).
fn stay_request(
    hold_id: &str,
    room: &travel::pb::hotel::v1::RoomType,
    check_in: &str,
    check_out: &str,
) -> pb::HoldRoomsRequest {
    let date = |iso: &str| travel::types::Date::parse_iso(iso).expect("date").into();
    pb::HoldRoomsRequest {
        check_in: Some(date(check_in)),
        check_out: Some(date(check_out)),
        ..hold_request(hold_id, room, 0, 1, 1, 1)
    }
}

#[tokio::test]
async fn past_stays_cannot_be_booked() {
    // Arrange: the clock at 2030-01-01T23:55Z, five minutes before midnight.
    let svc = TestHotel::start().await;
    let hotel = svc.create_hotel("Grand", "Lisbon").await;
    let room = svc.add_room_type(&hotel.id, 2, 3, 10_000).await;
    svc.clock.advance(std::time::Duration::from_secs(86_400 - 300));
    let mut c = svc.client();

    // Act: before midnight, then just after it (within the hold's TTL).
    let yesterday = c
        .hold_rooms(stay_request("past", &room, "2029-12-31", "2030-01-02"))
        .await;
    let today = c
        .hold_rooms(stay_request("today", &room, "2030-01-01", "2030-01-02"))
        .await;
    svc.clock.advance(std::time::Duration::from_secs(360));
    let now_past = c
        .hold_rooms(stay_request("late", &room, "2030-01-01", "2030-01-03"))
        .await;
    let retry = c
        .hold_rooms(stay_request("today", &room, "2030-01-01", "2030-01-02"))
        .await;

    // Assert
    for (name, result) in [("check-in yesterday", yesterday), ("check-in now yesterday", now_past)] {
        let err = result.expect_err(name);
        assert_eq!(err.code(), Code::FailedPrecondition, "{name}: {err:?}");
        assert_eq!(reason(&err).as_deref(), Some("STAY_IN_PAST"), "{name}");
    }
    let today = today.expect("a stay from today").into_inner().hold;
    assert_eq!(retry.expect("a retry of a hold made in time").into_inner().hold, today);
    assert_eq!(
        svc.release("past").await.expect("release"),
        None,
        "the refused hold took nothing"
    );
    assert_eq!(
        svc.release("late").await.expect("release"),
        None,
        "the refused hold took nothing"
    );
}

#[tokio::test]
async fn the_sweeper_expires_at_most_a_batch_of_one_room_types_holds_per_transaction() {
    // Arrange: 7 due holds on one room type.
    let svc = TestHotel::start().await;
    let hotel = svc.create_hotel("Grand", "Lisbon").await;
    let room = svc.add_room_type(&hotel.id, 2, 10, 10_000).await;
    for i in 0..7 {
        svc.hold(&format!("h-{i}"), &room, 0, 2, 1).await.expect("hold");
    }
    svc.clock.advance(TTL);
    let now = svc.clock.now();

    // Act
    let mut batches = Vec::new();
    loop {
        let n = svc.store.expire_due_batch(now, 5).await.expect("sweep batch");
        if n == 0 {
            break;
        }
        assert!(
            n <= 5,
            "a sweep transaction expired {n} holds, more than the batch of 5"
        );
        batches.push(n);
        assert!(batches.len() <= 7, "the sweep does not end: {batches:?}");
    }

    // Assert
    assert_eq!(batches, [5, 2]);
    for night in 0..2 {
        let inv = svc.assert_conserved(&room.id, night).await;
        assert_eq!((inv.available, inv.held), (10, 0));
    }
}
