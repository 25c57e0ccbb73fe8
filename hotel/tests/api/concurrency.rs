//! Inventory invariants under concurrency: many clients holding overlapping
//! multi-night stays against few rooms, then the conservation check on every
//! night (`total_rooms = available + held + confirmed`, nothing oversold,
//! every hold all or nothing).

use futures::future::join_all;
use tonic::Code;
use travel::pb::hotel::v1 as pb;

use crate::helpers;
use crate::helpers::{TestHotel, reason};

const NIGHTS: i64 = 6;

/// The stay of attempt `i`: overlapping windows inside nights 0..6.
fn window(i: i64) -> (i64, i64) {
    let from = i % NIGHTS;
    let len = 1 + (i / NIGHTS) % (NIGHTS - from);
    (from, from + len)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn forty_eight_concurrent_overlapping_stays_never_oversell_a_night() {
    // Arrange: 3 rooms; 48 holds of 1 or 2 rooms over windows of 1 to 6 nights.
    let svc = TestHotel::start().await;
    let hotel = svc.create_hotel("Tiny", "Lisbon").await;
    let room = svc.add_room_type(&hotel.id, 2, 3, 9_000).await;
    let attempts: Vec<(String, i64, i64, i32)> = (0..48)
        .map(|i| {
            let (from, to) = window(i);
            (format!("race-{i}"), from, to, 1 + (i % 2) as i32)
        })
        .collect();

    // Act
    let results = join_all(attempts.iter().map(|(id, from, to, rooms)| {
        let (svc, room) = (&svc, &room);
        async move { svc.hold(id, room, *from, *to, *rooms).await }
    }))
    .await;

    // Assert: refusals are business refusals, and successes got exactly their stay.
    let mut won = Vec::new();
    let mut refused = Vec::new();
    for (attempt, result) in attempts.iter().zip(&results) {
        match result {
            Ok(hold) => {
                assert_eq!(hold.check_in, Some(helpers::night(attempt.1)));
                assert_eq!(hold.check_out, Some(helpers::night(attempt.2)));
                assert_eq!(hold.rooms, attempt.3);
                won.push(attempt);
            }
            Err(status) => {
                assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
                assert_eq!(reason(status).as_deref(), Some("NOT_ENOUGH_ROOMS"));
                refused.push(attempt);
            }
        }
    }
    assert!(
        !won.is_empty() && !refused.is_empty(),
        "won {}, refused {}",
        won.len(),
        refused.len()
    );
    // Per night: the rooms held are exactly those of the successful holds covering
    // it (so refused holds took nothing), and nothing is oversold.
    for night in 0..NIGHTS {
        let inv = svc.assert_conserved(&room.id, night).await;
        let expected: i64 = won
            .iter()
            .filter(|(_, from, to, _)| (*from..*to).contains(&night))
            .map(|(_, _, _, rooms)| i64::from(*rooms))
            .sum();
        assert_eq!(inv.held, expected, "night {night}: {inv:?}");
        assert!(inv.held <= 3, "night {night} oversold: {inv:?}");
        assert_eq!(inv.confirmed, 0);
    }
    for (id, ..) in &refused {
        assert_eq!(
            svc.release(id).await.expect("release"),
            None,
            "refused hold {id} left a hold behind"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_holds_confirms_and_releases_conserve_rooms_on_every_night() {
    // Arrange: 4 rooms; 30 clients each hold a stay, then confirm, release, or keep it.
    let svc = TestHotel::start().await;
    let hotel = svc.create_hotel("Small", "Porto").await;
    let room = svc.add_room_type(&hotel.id, 2, 4, 12_000).await;

    // Act
    let outcomes = join_all((0..30).map(|i| {
        let svc = &svc;
        let room = &room;
        async move {
            let id = format!("mix-{i}");
            let (from, to) = window(i * 5 + 1);
            if svc.hold(&id, room, from, to, 1).await.is_err() {
                return None;
            }
            let end = match i % 3 {
                0 => svc.confirm(&id).await.map(|_| "confirmed"),
                1 => svc.release(&id).await.map(|_| "released"),
                _ => Ok("held"),
            };
            Some((from, to, end.expect("confirm or release of a live hold")))
        }
    }))
    .await;

    // Assert
    for night in 0..NIGHTS {
        let inv = svc.assert_conserved(&room.id, night).await;
        let covering = |state: &str| {
            outcomes
                .iter()
                .flatten()
                .filter(|(from, to, end)| *end == state && (*from..*to).contains(&night))
                .count() as i64
        };
        assert_eq!(inv.held, covering("held"), "night {night}: {inv:?}");
        assert_eq!(inv.confirmed, covering("confirmed"), "night {night}: {inv:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn expiry_racing_new_holds_and_late_confirms_conserves_rooms() {
    // Arrange: every room is held on nights 0..6, then the holds' time runs out.
    let svc = TestHotel::start().await;
    let hotel = svc.create_hotel("Busy", "Faro").await;
    let room = svc.add_room_type(&hotel.id, 2, 3, 7_000).await;
    for (i, (from, to)) in [(0, 6), (0, 3), (3, 6), (1, 5)].into_iter().enumerate() {
        svc.hold(&format!("old-{i}"), &room, from, to, 1).await.expect("hold");
    }
    svc.clock.advance(helpers::TTL);

    // Act: sweeps, confirms of the expired holds and new holds, all at once.
    let sweeps = join_all((0..3).map(|_| svc.store.expire_due_holds(travel::Clock::now(&svc.clock))));
    let confirms = join_all((0..4).map(|i| {
        let svc = &svc;
        async move { svc.confirm(&format!("old-{i}")).await }
    }));
    let holds = join_all((0..24).map(|i| {
        let (svc, room) = (&svc, &room);
        let (from, to) = window(i * 7 + 3);
        async move {
            svc.hold(&format!("new-{i}"), room, from, to, 1)
                .await
                .ok()
                .map(|_| (from, to))
        }
    }));
    let (sweeps, confirms, holds) = tokio::join!(sweeps, confirms, holds);

    // Assert
    let swept: u64 = sweeps.into_iter().map(|s| s.expect("sweep")).sum();
    assert!(swept <= 4, "each hold expires once: {swept}");
    for status in confirms.into_iter().map(|c| c.expect_err("expired")) {
        assert_eq!(reason(&status).as_deref(), Some("HOLD_EXPIRED"), "{status:?}");
    }
    let won: Vec<_> = holds.into_iter().flatten().collect();
    assert!(!won.is_empty(), "the expired rooms were free again");
    for night in 0..NIGHTS {
        let inv = svc.assert_conserved(&room.id, night).await;
        let expected = won.iter().filter(|(from, to)| (*from..*to).contains(&night)).count() as i64;
        assert_eq!(inv.held, expected, "night {night}: {inv:?}");
    }
    for i in 0..4 {
        let old = svc.release(&format!("old-{i}")).await.expect("release").expect("hold");
        assert_eq!(
            old.state,
            pb::HoldState::Expired as i32,
            "old-{i} expired once, and stays expired"
        );
    }
}
