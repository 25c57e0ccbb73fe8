//! Several replicas of the flight and hotel services, each on a runtime of its
//! own and sharing its service's database, behind a reservation service that
//! balances over them: killing one of each, or restarting every one in turn,
//! under steady checkout load fails no checkout, and the inventory adds up;
//! a replica that comes up while the service runs gets calls.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use travel::pb::reservation::v1 as pb;
use travel::testing::Killable;

use crate::helpers::{
    Client, Reservations, RoomType, World, bundle, checkout, flight_replica, hotel_replica, observed_flight_replica,
    state,
};

/// Replicas of each of flight and hotel.
const REPLICAS: usize = 3;
/// Callers checking out at once, each one bundle after another.
const CALLERS: usize = 6;
/// Seats on the flight and rooms of the room type: more than the tests book.
const CAPACITY: i32 = 1_000;
/// How often the reservation service looks at the replicas again.
const RESOLVE: Duration = Duration::from_secs(1);

fn any_port() -> SocketAddr {
    "127.0.0.1:0".parse().expect("address")
}

/// The URLs of `replicas`, as a comma-separated list.
fn list(replicas: &[Killable]) -> String {
    replicas.iter().map(Killable::url).collect::<Vec<_>>().join(",")
}

/// What one checkout of the load answered.
type Answer = (String, Result<pb::Reservation, tonic::Status>);

/// Steady checkout load: [`CALLERS`] customers, each checking out a bundle of
/// one seat and one room-night after another until told to finish.
struct Load {
    finish: Arc<AtomicBool>,
    done: watch::Receiver<usize>,
    callers: Vec<JoinHandle<Vec<Answer>>>,
}

impl Load {
    fn start(res: &Reservations, flight: &str, room_type: &RoomType) -> Self {
        let finish = Arc::new(AtomicBool::new(false));
        let (count, done) = watch::channel(0);
        let count = Arc::new(count);
        let callers = (0..CALLERS)
            .map(|caller| {
                let client: Client = res.customer(&format!("user-{caller}"));
                let (finish, count) = (finish.clone(), count.clone());
                let (flight, room_type) = (flight.to_owned(), room_type.clone());
                tokio::spawn(async move {
                    let mut answers = Vec::new();
                    for n in 0.. {
                        if finish.load(Ordering::SeqCst) {
                            break;
                        }
                        let request_id = format!("load-{caller}-{n}");
                        let answer = checkout(&client, bundle(&request_id, &flight, 1, &room_type, 1, 1)).await;
                        answers.push((request_id, answer));
                        count.send_modify(|n| *n += 1);
                    }
                    answers
                })
            })
            .collect();
        Self { finish, done, callers }
    }

    /// Checkouts answered so far.
    fn answered(&self) -> usize {
        *self.done.borrow()
    }

    /// Waits until `n` checkouts have been answered in all.
    async fn until(&mut self, n: usize) {
        self.done.wait_for(|done| *done >= n).await.expect("the load runs");
    }

    /// Stops the callers after their current checkout: every answer.
    async fn finish(self) -> Vec<Answer> {
        self.finish.store(true, Ordering::SeqCst);
        let mut answers = Vec::new();
        for caller in self.callers {
            answers.extend(caller.await.expect("a caller"));
        }
        answers
    }
}

/// Asserts every answer is a confirmed reservation: how many.
fn all_confirmed(answers: &[Answer]) -> i64 {
    let failed: Vec<String> = answers
        .iter()
        .filter_map(|(id, answer)| match answer {
            Ok(r) if state(r) == pb::ReservationState::Confirmed => None,
            Ok(r) => Some(format!("{id}: {:?} {:?}", state(r), r.failure_reason)),
            Err(status) => Some(format!("{id}: {:?} {}", status.code(), status.message())),
        })
        .collect();
    assert!(
        failed.is_empty(),
        "{} of {} checkouts did not confirm: {failed:?}",
        failed.len(),
        answers.len()
    );
    i64::try_from(answers.len()).expect("a count")
}

/// Asserts that exactly `booked` seats and room-nights are confirmed and none held.
async fn inventory_adds_up(world: &World, flight: &str, room_type: &RoomType, booked: i64) {
    let capacity = i64::from(CAPACITY);
    assert_eq!(world.flight.inventory(flight).await, (capacity - booked, 0, booked));
    assert_eq!(
        world.hotel.inventory(room_type, 0).await,
        (capacity - booked, 0, booked)
    );
}

/// Prints how many checkouts there were and what it took (in the test's output).
fn report(res: &Reservations, checkouts: usize) {
    for dependency in ["flight", "hotel"] {
        let retries =
            travel::testing::metrics::value(&res.metrics, "travel_retries_total", &[("dependency", dependency)]);
        let exhausted = travel::testing::metrics::value(
            &res.metrics,
            "travel_retry_budget_exhausted_total",
            &[("dependency", dependency)],
        );
        println!(
            "{checkouts} checkouts; calls to {dependency} retried: {retries}, not retried for lack of budget: {exhausted}"
        );
    }
}

/// The world, a flight and a room type, [`REPLICAS`] replicas of flight and of
/// hotel each set up by its `adjust`, and a reservation service balancing over them.
async fn fleet(
    adjust_flight: fn(&mut travel_flight::Config),
    adjust_hotel: fn(&mut travel_hotel::Config),
) -> (World, String, RoomType, Vec<Killable>, Vec<Killable>, Reservations) {
    let world = World::start().await;
    let flight = world.flight.create(CAPACITY, "EUR").await;
    let room_type = world.hotel.create(CAPACITY, "EUR").await;
    let mut flights = Vec::new();
    let mut hotels = Vec::new();
    for _ in 0..REPLICAS {
        flights.push(flight_replica(&world, any_port(), adjust_flight).await);
        hotels.push(hotel_replica(&world, any_port(), adjust_hotel).await);
    }
    let (flight_list, hotel_list) = (list(&flights), list(&hotels));
    let res = world
        .reservations_with(|c| {
            c.flight_url = flight_list;
            c.hotel_url = hotel_list;
            c.auth.resolve_interval = RESOLVE;
        })
        .await;
    (world, flight, room_type, flights, hotels, res)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_a_flight_and_a_hotel_replica_under_load_fails_no_checkout() {
    // Arrange: three replicas of each, and checkouts flowing.
    let (world, flight, room_type, mut flights, mut hotels, res) = fleet(|_| {}, |_| {}).await;
    let mut load = Load::start(&res, &flight, &room_type);
    load.until(20).await;

    // Act: one replica of each dies at once, calls to it in flight; the load goes on.
    flights.remove(0).kill();
    hotels.remove(0).kill();
    let at_kill = load.answered();
    load.until(at_kill + 60).await;
    let answers = load.finish().await;
    report(&res, answers.len());

    // Assert: every checkout, before, during and after, was confirmed; the
    // seats and rooms add up to what was booked, none left held.
    let booked = all_confirmed(&answers);
    inventory_adds_up(&world, &flight, &room_type, booked).await;
}

/// What SIGTERM does to a replica here: it turns NOT_SERVING, serves on for
/// longer than the reservation service takes to look at its replicas again,
/// then drains.
fn flight_terminates_gently(config: &mut travel_flight::Config) {
    config.host.server.pre_stop_delay = RESOLVE * 2;
}

/// As [`flight_terminates_gently`], for hotel.
fn hotel_terminates_gently(config: &mut travel_hotel::Config) {
    config.host.server.pre_stop_delay = RESOLVE * 2;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_restart_of_every_replica_under_load_fails_no_checkout() {
    // Arrange
    let (world, flight, room_type, mut flights, mut hotels, res) =
        fleet(flight_terminates_gently, hotel_terminates_gently).await;
    let mut load = Load::start(&res, &flight, &room_type);
    load.until(10).await;

    // Act: every replica in turn is terminated, waited for, and started again
    // on its address, while the checkouts go on.
    for i in 0..REPLICAS {
        let old = flights.remove(i);
        let addr = old.addr();
        old.terminate().await.expect("the flight replica stops cleanly");
        flights.insert(i, flight_replica(&world, addr, flight_terminates_gently).await);
        let at = load.answered();
        load.until(at + 10).await;
    }
    for i in 0..REPLICAS {
        let old = hotels.remove(i);
        let addr = old.addr();
        old.terminate().await.expect("the hotel replica stops cleanly");
        hotels.insert(i, hotel_replica(&world, addr, hotel_terminates_gently).await);
        let at = load.answered();
        load.until(at + 10).await;
    }
    let answers = load.finish().await;
    report(&res, answers.len());

    // Assert
    let booked = all_confirmed(&answers);
    inventory_adds_up(&world, &flight, &room_type, booked).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flight_replica_that_comes_up_while_the_service_runs_gets_calls() {
    // Arrange: the reservation service knows three flight replicas, of which
    // only two run yet; checkouts flow over those two.
    let world = World::start().await;
    let flight = world.flight.create(CAPACITY, "EUR").await;
    let room_type = world.hotel.create(CAPACITY, "EUR").await;
    let flights = [
        flight_replica(&world, any_port(), |_| {}).await,
        flight_replica(&world, any_port(), |_| {}).await,
    ];
    let hotel = hotel_replica(&world, any_port(), |_| {}).await;
    let later = std::net::TcpListener::bind(any_port()).expect("a port for the third");
    let third = later.local_addr().expect("its address");
    drop(later);
    let flight_list = format!("{},http://{third}", list(&flights));
    let res = world
        .reservations_with(|c| {
            c.flight_url = flight_list;
            c.hotel_url = hotel.url();
            c.auth.resolve_interval = RESOLVE;
        })
        .await;
    let mut load = Load::start(&res, &flight, &room_type);
    load.until(10).await;

    // Act: the third comes up.
    let started = std::time::Instant::now();
    let (_third, metrics) = observed_flight_replica(&world, third, |_| {}).await;

    // Assert: it takes holds from the running service within a few resolve
    // intervals (the bound only stops a broken test; the time is printed).
    let taken = || travel::testing::metrics::value(&metrics, "travel_holds_taken_total", &[]);
    let reached = tokio::time::timeout(RESOLVE * 10, async {
        while taken() == 0.0 {
            tokio::time::sleep(RESOLVE / 20).await;
        }
    })
    .await;
    println!(
        "the new replica took its first hold {:?} after it came up",
        started.elapsed()
    );
    assert!(reached.is_ok(), "the replica that came up got no calls");
    let answers = load.finish().await;
    let booked = all_confirmed(&answers);
    inventory_adds_up(&world, &flight, &room_type, booked).await;
}
