//! Two reservation services on one database: each drives a saga only while
//! it holds the saga's lease. One killed mid-checkout leaves its sagas to the
//! other, which takes them over only once their leases have run out; one that
//! stalls past its lease finds, when it wakes, that its successor has the saga
//! and changes nothing.

use std::time::Duration;

use travel::pb::reservation::v1 as pb;
use travel::testing::proxy::Gate;

use crate::helpers::{Reservations, RoomType, World, bundle, checkout, customer_at, get, state};

/// Checkouts in flight at the first replica.
const IN_FLIGHT: usize = 8;
/// Seats on the flight, rooms of the room type.
const CAPACITY: i32 = 20;

/// The world with a flight and a room type, a first reservation replica whose
/// calls to the hotel wait at a gate (so that its checkouts stop mid-way, their
/// seats held), a second on the same database calling the hotel directly, and
/// [`IN_FLIGHT`] checkouts sent to the first, waiting at the gate.
type Checkout = tokio::task::JoinHandle<Result<pb::Reservation, tonic::Status>>;

struct TwoReplicas {
    world: World,
    flight: String,
    room_type: RoomType,
    gate: Gate,
    /// The first replica, until the test kills or stops it.
    first: Option<travel::testing::Killable>,
    second: Reservations,
    checkouts: Vec<Checkout>,
}

impl TwoReplicas {
    async fn start() -> Self {
        let world = World::start().await;
        let flight = world.flight.create(CAPACITY, "EUR").await;
        let room_type = world.hotel.create(CAPACITY, "EUR").await;
        let hotel: std::net::SocketAddr = world
            .hotel
            .url
            .trim_start_matches("http://")
            .parse()
            .expect("hotel address");
        let gate = Gate::start(hotel);
        let gate_url = gate.url();
        let first = world.reservation_replica(|c| c.hotel_url = gate_url).await;
        let second = world.reservations().await;
        let checkouts = (0..IN_FLIGHT)
            .map(|i| {
                let client = customer_at(&first.url(), &world.clock, &format!("user-{i}"));
                let request = bundle(&format!("two-{i}"), &flight, 1, &room_type, 1, 1);
                tokio::spawn(async move { checkout(&client, request).await })
            })
            .collect();
        let two = Self {
            world,
            flight,
            room_type,
            gate,
            first: Some(first),
            second,
            checkouts,
        };
        // Every checkout has its seat held and waits at the gate for the hotel.
        while two.world.flight.inventory(&two.flight).await.1 < IN_FLIGHT as i64 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        two
    }

    /// The ids of the sagas not yet done.
    async fn unfinished(&self) -> Vec<String> {
        let sagas = self
            .second
            .store
            .unfinished_sagas(None, 100)
            .await
            .expect("unfinished sagas");
        sagas.into_iter().map(|s| s.reservation.id).collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_killed_mid_checkout_leaves_its_sagas_to_the_other_once_their_leases_run_out() {
    // Arrange: eight checkouts stopped mid-way at the first replica.
    let mut two = TwoReplicas::start().await;
    let sagas = two.unfinished().await;
    assert_eq!(sagas.len(), IN_FLIGHT);
    // While the first drives them, the second's recovery leaves them alone.
    assert_eq!(two.second.recover().await.finished, 0);
    assert_eq!(two.unfinished().await.len(), IN_FLIGHT);

    // Act: the first dies; its callers lose their calls.
    two.first.take().expect("the first replica").kill();
    for checkout in std::mem::take(&mut two.checkouts) {
        let answer = checkout.await.expect("a caller");
        assert!(answer.is_err(), "a checkout answered by a killed replica: {answer:?}");
    }
    // Before their leases run out, the second still leaves them alone…
    assert_eq!(two.second.recover().await.finished, 0);
    assert_eq!(two.unfinished().await.len(), IN_FLIGHT);
    // …and once they have, it takes every one over and finishes it.
    two.world.leases_run_out();
    let pass = two.second.recover().await;

    // Assert: every saga ended FAILED (interrupted while holding: the seats
    // go back), nothing is left held, nothing was sold.
    assert_eq!((pass.finished, pass.left), (IN_FLIGHT, 0));
    assert!(two.unfinished().await.is_empty());
    let admin = two.second.admin("admin");
    for id in &sagas {
        let r = get(&admin, id).await.expect("the reservation");
        assert_eq!(state(&r), pb::ReservationState::Failed, "{r:?}");
    }
    let capacity = i64::from(CAPACITY);
    assert_eq!(two.world.flight.inventory(&two.flight).await, (capacity, 0, 0));
    assert_eq!(two.world.hotel.inventory(&two.room_type, 0).await, (capacity, 0, 0));
    drop(two.gate);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_that_stalls_past_its_lease_changes_nothing_its_successor_decided() {
    // Arrange: eight checkouts stopped mid-way at the first replica, whose
    // leases run out while it waits; the second takes them over and fails them.
    let mut two = TwoReplicas::start().await;
    let sagas = two.unfinished().await;
    two.world.leases_run_out();
    let pass = two.second.recover().await;
    assert_eq!((pass.finished, pass.left), (IN_FLIGHT, 0));

    // Act: the first wakes up — its hotel calls go through now — and carries
    // on with sagas that are no longer its own.
    two.gate.open();
    let mut answers = Vec::new();
    for checkout in std::mem::take(&mut two.checkouts) {
        answers.push(checkout.await.expect("a caller"));
    }

    let told: Vec<String> = answers
        .iter()
        .map(|a| match a {
            Ok(r) => format!("{:?}", state(r)),
            Err(status) => format!("{:?}", status.code()),
        })
        .collect();
    println!("the first replica's callers were told: {told:?}");

    // Assert: what the successor decided stands. Each caller of the first was
    // told the saga's outcome (FAILED), or an error; none was told CONFIRMED;
    // every reservation is FAILED, no seat or room is held or sold.
    for r in answers.iter().flatten() {
        assert_eq!(state(r), pb::ReservationState::Failed, "{r:?}");
    }
    let admin = two.second.admin("admin");
    for id in &sagas {
        let r = get(&admin, id).await.expect("the reservation");
        assert_eq!(state(&r), pb::ReservationState::Failed, "{r:?}");
    }
    assert!(two.unfinished().await.is_empty());
    let capacity = i64::from(CAPACITY);
    assert_eq!(two.world.flight.inventory(&two.flight).await, (capacity, 0, 0));
    assert_eq!(two.world.hotel.inventory(&two.room_type, 0).await, (capacity, 0, 0));
    let first = two.first.take().expect("the first replica");
    first.terminate().await.expect("the first stops cleanly");
}
