//! The circuit breaker in front of the hotel service: once it is open, bundles
//! fail at once with UNAVAILABLE without the hotel being called and hold no
//! seat, while flight-only checkouts carry on; once the hotel is back and the
//! cool-off is over, bundles succeed again, and recovery releases what the
//! failed bundles left at the hotel.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use tonic::transport::Channel;
use tonic::{Code, Request, Response, Status};
use travel::pb::hotel::v1 as hotel_pb;
use travel::pb::hotel::v1::hotel_service_client::HotelServiceClient;
use travel::pb::reservation::v1::ReservationState::{Confirmed, Failed};
use travel::testing::metrics::value;

use crate::helpers::{FakeHotel, Reservations, World, bundle, checkout, flight_only, serve_hotel, state};

/// Failed calls in a row (each after its retries) that open the breaker in these tests.
const FAILURES: u32 = 1;
/// Attempts of one hold or release call while the hotel is down (`Retry::Few`).
const ATTEMPTS: usize = 4;
/// Its cool-off, passed by moving the world's clock.
const COOL_OFF: Duration = Duration::from_secs(5);

/// The real hotel service behind a switch: while `down`, every call fails
/// with UNAVAILABLE; `calls` counts the calls that reached it either way.
#[derive(Clone)]
struct SwitchedHotel {
    real: HotelServiceClient<Channel>,
    down: Arc<AtomicBool>,
    calls: Arc<AtomicUsize>,
}

impl SwitchedHotel {
    async fn new(world: &World) -> Self {
        Self {
            real: HotelServiceClient::new(travel::testing::channel(&world.hotel.url).await),
            down: Arc::new(AtomicBool::new(true)),
            calls: Arc::new(AtomicUsize::new(0)),
        }
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    fn comes_back(&self) {
        self.down.store(false, Ordering::SeqCst);
    }

    /// The request to send on to the real hotel (token included), unless it is down.
    fn pass<T>(&self, request: Request<T>) -> Result<Request<T>, Status> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.down.load(Ordering::SeqCst) {
            return Err(Status::unavailable("the hotel is down"));
        }
        let (metadata, _, message) = request.into_parts();
        Ok(Request::from_parts(metadata, Default::default(), message))
    }
}

#[tonic::async_trait]
impl FakeHotel for SwitchedHotel {
    async fn hold_rooms(
        &self,
        request: Request<hotel_pb::HoldRoomsRequest>,
    ) -> Result<Response<hotel_pb::HoldRoomsResponse>, Status> {
        self.real.clone().hold_rooms(self.pass(request)?).await
    }

    async fn confirm_rooms(
        &self,
        request: Request<hotel_pb::ConfirmRoomsRequest>,
    ) -> Result<Response<hotel_pb::ConfirmRoomsResponse>, Status> {
        self.real.clone().confirm_rooms(self.pass(request)?).await
    }

    async fn release_rooms(
        &self,
        request: Request<hotel_pb::ReleaseRoomsRequest>,
    ) -> Result<Response<hotel_pb::ReleaseRoomsResponse>, Status> {
        self.real.clone().release_rooms(self.pass(request)?).await
    }
}

/// A reservation service calling `hotel`, its hotel breaker as above, and the
/// task serving `hotel` (abort it to stop).
async fn reservations(
    world: &World,
    hotel: &SwitchedHotel,
) -> (
    Reservations,
    tokio::task::JoinHandle<Result<(), tonic::transport::Error>>,
) {
    let (hotel_url, serving) = serve_hotel(hotel.clone()).await;
    let res = world
        .reservations_with(|c| {
            c.hotel_url = hotel_url;
            c.breaker_failures = FAILURES;
            c.breaker_cool_off = COOL_OFF;
        })
        .await;
    (res, serving)
}

fn hotel_metric(res: &Reservations, name: &str) -> f64 {
    value(&res.metrics, name, &[("dependency", "hotel")])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_the_hotel_breaker_open_bundles_fail_at_once_and_succeed_again_once_it_is_back() {
    // Arrange: the hotel is down, and a first bundle opens its breaker.
    let world = World::start().await;
    let flight = world.flight.create(10, "EUR").await;
    let room_type = world.hotel.create(5, "EUR").await;
    let hotel = SwitchedHotel::new(&world).await;
    let (res, serving) = reservations(&world, &hotel).await;
    let alice = res.customer("user-a");
    let first = checkout(&alice, bundle("req-1", &flight, 1, &room_type, 1, 2)).await;
    assert_eq!(first.unwrap_err().code(), Code::Unavailable);
    assert_eq!(hotel_metric(&res, "travel_breaker_state"), 1.0, "open");
    let (calls, rejections) = (hotel.calls(), hotel_metric(&res, "travel_breaker_rejections_total"));
    assert_eq!(
        calls,
        ATTEMPTS * FAILURES as usize,
        "the breaker opened after {FAILURES} failed call of {ATTEMPTS} attempts"
    );

    // Act: a bundle and a flight-only checkout while the breaker is open.
    let refused = checkout(&alice, bundle("req-2", &flight, 1, &room_type, 1, 2))
        .await
        .unwrap_err();
    let rejected = hotel_metric(&res, "travel_breaker_rejections_total");
    // How long a bundle takes to fail now, printed (timings are not asserted:
    // the machine is shared); the design says milliseconds.
    let mut slowest = Duration::ZERO;
    for i in 0..10 {
        let started = std::time::Instant::now();
        let again = checkout(&alice, bundle(&format!("req-2-{i}"), &flight, 1, &room_type, 1, 2)).await;
        slowest = slowest.max(started.elapsed());
        assert_eq!(again.unwrap_err().code(), Code::Unavailable);
    }
    println!("with the hotel's breaker open, the slowest of ten bundles failed in {slowest:?}");
    let solo = checkout(&alice, flight_only("req-3", &flight, 1)).await.unwrap();

    // Assert: refused by the breaker, the hotel never called, no seat held.
    assert_eq!(refused.code(), Code::Unavailable);
    assert!(
        refused.message().starts_with("the hotel service is unavailable"),
        "{refused:?}"
    );
    assert_eq!(hotel.calls(), calls, "the hotel was not called");
    assert_eq!(
        rejected,
        rejections + 1.0,
        "its hold was not even tried, and its release was refused by the breaker"
    );
    assert_eq!(state(&solo), Confirmed);
    assert_eq!(
        world.flight.inventory(&flight).await,
        (9, 0, 1),
        "only the flight-only seat"
    );

    // Act: the hotel comes back; once the cool-off is over, a bundle probes it.
    hotel.comes_back();
    world.clock.advance(COOL_OFF);
    let booked = checkout(&alice, bundle("req-4", &flight, 1, &room_type, 1, 2))
        .await
        .unwrap();

    // Assert: booked, and the breaker closed again.
    assert_eq!(state(&booked), Confirmed, "{booked:?}");
    assert_eq!(hotel_metric(&res, "travel_breaker_state"), 0.0, "closed");
    assert_eq!(world.flight.inventory(&flight).await, (8, 0, 2));

    // Act: recovery finishes the compensations the open breaker left.
    world.leases_run_out();
    res.recover().await;

    // Assert: both failed bundles end FAILED, nothing held at the hotel.
    for request_id in ["req-1", "req-2"] {
        let again = checkout(&alice, bundle(request_id, &flight, 1, &room_type, 1, 2))
            .await
            .unwrap();
        assert_eq!(state(&again), Failed, "{again:?}");
    }
    assert_eq!(world.hotel.inventory(&room_type, 0).await, (4, 0, 1));
    assert_eq!(world.flight.inventory(&flight).await, (8, 0, 2));
    serving.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn recovery_releases_through_a_half_open_breaker_once_the_hotel_is_back() {
    // Arrange: a bundle fails with the hotel down and leaves its hotel release
    // undone behind an open breaker.
    let world = World::start().await;
    let flight = world.flight.create(10, "EUR").await;
    let room_type = world.hotel.create(5, "EUR").await;
    let hotel = SwitchedHotel::new(&world).await;
    let (res, serving) = reservations(&world, &hotel).await;
    let alice = res.customer("user-a");
    let failed = checkout(&alice, bundle("req-1", &flight, 1, &room_type, 1, 2)).await;
    assert_eq!(failed.unwrap_err().code(), Code::Unavailable);
    assert_eq!(hotel_metric(&res, "travel_breaker_state"), 1.0, "open");

    // Act: the hotel comes back; the leases (and the cool-off) run out; recovery runs.
    hotel.comes_back();
    let calls = hotel.calls();
    world.leases_run_out();
    res.recover().await;

    // Assert: the release went through as the probe, and the bundle is FAILED.
    assert!(hotel.calls() > calls, "the release reached the hotel");
    assert_eq!(hotel_metric(&res, "travel_breaker_state"), 0.0, "closed by the probe");
    let again = checkout(&alice, bundle("req-1", &flight, 1, &room_type, 1, 2))
        .await
        .unwrap();
    assert_eq!(state(&again), Failed, "{again:?}");
    assert_eq!(world.flight.inventory(&flight).await, (10, 0, 0));
    assert_eq!(world.hotel.inventory(&room_type, 0).await, (5, 0, 0));
    serving.abort();
}
