//! Tracing across the services: one Checkout is one trace, from the
//! reservation service's server span through the saga's step spans and its
//! client calls to the flight and hotel services' server spans — the
//! compensation and the seat retries in it too; a recovery pass is a trace of
//! its own down to the calls it makes; and a `traceparent` sent with a
//! Checkout makes the call part of the caller's trace.
//!
//! Every test here runs on a current-thread runtime (`#[tokio::test]`), so
//! that all the services it spawns record their spans in its [`Traces`].

use std::sync::LazyLock;
use std::time::Duration;

use opentelemetry::trace::{SpanId, SpanKind};
use tonic::Request;
use travel::pb::reservation::v1::ReservationState::{Confirmed, Failed};
use travel::testing::traces::{Span, Traces, attribute};
use travel_reservation::CrashPoint;

use crate::helpers::{World, bundle, checkout, flight_only, state};

const RESERVATION: &str = "travel.reservation.v1.ReservationService";
const FLIGHT: &str = "travel.flight.v1.FlightService";
const HOTEL: &str = "travel.hotel.v1.HotelService";

/// Starts recording this test's spans ([`Traces::capture`]), with a second
/// dispatcher kept registered for the whole test binary. With just one
/// registered, `tracing` decides whether a callsite first reached on another
/// test's thread is enabled by asking that thread's subscriber alone (none),
/// and caches "never" for it: this test's subscriber would then not see its
/// spans. With two, it asks them all.
fn capture() -> Traces {
    static SECOND: LazyLock<tracing::Dispatch> =
        LazyLock::new(|| tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default()));
    LazyLock::force(&SECOND);
    let traces = Traces::capture();
    tracing::callsite::rebuild_interest_cache();
    traces
}

/// The spans a test recorded, with the lookups the assertions need.
struct Recorded(Vec<Span>);

impl Recorded {
    fn of(traces: &Traces) -> Self {
        Self(traces.spans())
    }

    /// The server spans of `service`'s `method`, oldest first.
    fn served(&self, service: &str, method: &str) -> Vec<&Span> {
        let name = format!("{service}/{method}");
        let mut spans: Vec<&Span> = self
            .0
            .iter()
            .filter(|s| s.span_kind == SpanKind::Server && s.name == name)
            .collect();
        spans.sort_by_key(|s| s.start_time);
        spans
    }

    /// The server span of the reservation service's last Checkout.
    fn checkout(&self) -> &Span {
        let served = self.served(RESERVATION, "Checkout");
        served.last().copied().expect("a Checkout served")
    }

    /// The spans named `name` (a saga span: `saga.holding`…).
    fn named(&self, name: &str) -> Vec<&Span> {
        self.0.iter().filter(|s| s.name == name).collect()
    }

    fn parent(&self, span: &Span) -> Option<&Span> {
        (span.parent_span_id != SpanId::INVALID)
            .then(|| self.0.iter().find(|s| s.span_context.span_id() == span.parent_span_id))
            .flatten()
    }

    /// `span` and its recorded ancestors, up to its (recorded) root.
    fn chain<'a>(&'a self, span: &'a Span) -> Vec<&'a Span> {
        let mut chain = vec![span];
        while let Some(parent) = self.parent(chain[chain.len() - 1]) {
            chain.push(parent);
        }
        chain
    }

    /// Whether `ancestor` is `span` or above it.
    fn descends(&self, span: &Span, ancestor: &Span) -> bool {
        self.chain(span)
            .iter()
            .any(|s| s.span_context.span_id() == ancestor.span_context.span_id())
    }

    /// Every span of `root`'s trace.
    fn trace(&self, root: &Span) -> Vec<&Span> {
        let id = root.span_context.trace_id();
        self.0.iter().filter(|s| s.span_context.trace_id() == id).collect()
    }

    /// Asserts that every span started while `call` ran whose chain leads to a
    /// server span (every call made meanwhile, in any service) is in `call`'s
    /// trace and below it: no call started a trace of its own. Background
    /// work (a recovery pass, a sweep) starts traces of its own and is left out.
    fn assert_one_trace(&self, call: &Span) {
        let during = self
            .0
            .iter()
            .filter(|s| s.start_time >= call.start_time && s.start_time <= call.end_time);
        for span in during {
            let chain = self.chain(span);
            let root = chain[chain.len() - 1];
            if root.span_kind == SpanKind::Server {
                assert_eq!(
                    span.span_context.trace_id(),
                    call.span_context.trace_id(),
                    "{} in another trace: {:?}",
                    span.name,
                    names(&chain)
                );
                assert!(
                    self.descends(span, call),
                    "{} not below the call: {:?}",
                    span.name,
                    names(&chain)
                );
            }
        }
    }
}

fn names(spans: &[&Span]) -> Vec<String> {
    spans.iter().map(|s| s.name.to_string()).collect()
}

/// Asserts that `served` (a flight or hotel server span) hangs from `call`
/// through its client span and the saga spans `saga` (innermost first).
fn assert_reached_through(recorded: &Recorded, served: &Span, saga: &[&str], call: &Span) {
    let chain = recorded.chain(served);
    let mut expected = vec![served.name.to_string(), served.name.to_string()];
    expected.extend(saga.iter().map(|s| (*s).to_owned()));
    expected.push(call.name.to_string());
    assert_eq!(names(&chain), expected, "from {} up", served.name);
    assert_eq!(chain[1].span_kind, SpanKind::Client);
    assert_eq!(
        chain[chain.len() - 1].span_context.span_id(),
        call.span_context.span_id()
    );
}

/// Asserts that every span carrying `reservation.id = id` is in `call`'s trace and below it.
fn assert_saga_spans_below(recorded: &Recorded, id: &str, call: &Span) -> usize {
    let tagged: Vec<&Span> = recorded
        .0
        .iter()
        .filter(|s| attribute(s, "reservation.id").as_deref() == Some(id))
        .collect();
    for span in &tagged {
        assert!(recorded.descends(span, call), "{} not below the call", span.name);
    }
    tagged.len()
}

#[tokio::test]
async fn one_bundled_checkout_is_one_trace_down_to_the_flight_and_hotel_services() {
    // Arrange
    let traces = capture();
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
    let recorded = Recorded::of(&traces);
    let call = recorded.checkout();
    assert_eq!(attribute(call, "rpc.service").as_deref(), Some(RESERVATION));
    assert_eq!(call.parent_span_id, SpanId::INVALID, "no caller's context: a new trace");
    for (service, method, saga) in [
        (FLIGHT, "HoldSeats", ["saga.hold_flight", "saga.holding"]),
        (HOTEL, "HoldRooms", ["saga.hold_hotel", "saga.holding"]),
        (FLIGHT, "ConfirmSeats", ["saga.confirm_flight", "saga.confirming"]),
        (HOTEL, "ConfirmRooms", ["saga.confirm_hotel", "saga.confirming"]),
    ] {
        let served = recorded.served(service, method);
        assert_eq!(served.len(), 1, "{method} served once");
        assert_eq!(attribute(served[0], "rpc.service").as_deref(), Some(service));
        assert_eq!(attribute(served[0], "rpc.grpc.status_code").as_deref(), Some("0"));
        assert_reached_through(&recorded, served[0], &saga, call);
    }
    recorded.assert_one_trace(call);
    let holding = recorded.named("saga.holding");
    assert_eq!(
        attribute(holding[0], "saga.next").as_deref(),
        Some("CONFIRMING"),
        "the pivot"
    );
    let confirming = recorded.named("saga.confirming");
    assert_eq!(attribute(confirming[0], "saga.next").as_deref(), Some("CONFIRMED"));
    assert!(
        assert_saga_spans_below(&recorded, &r.id, call) >= 6,
        "step and work spans carry the id"
    );
    let stored = recorded
        .trace(call)
        .into_iter()
        .filter(|s| attribute(s, "db.operation.name").as_deref() == Some("reservation.advance"))
        .count();
    assert_eq!(
        stored, 2,
        "HOLDING → CONFIRMING → DONE, each a database span in the trace"
    );
}

#[tokio::test]
async fn a_refused_hotel_shows_the_compensation_in_the_checkouts_trace() {
    // Arrange: 1 room, 2 wanted.
    let traces = capture();
    let world = World::start().await;
    let flight = world.flight.create(10, "EUR").await;
    let room_type = world.hotel.create(1, "EUR").await;
    let res = world.reservations().await;

    // Act
    let r = checkout(&res.customer("user-a"), bundle("req-1", &flight, 1, &room_type, 2, 2))
        .await
        .unwrap();

    // Assert
    assert_eq!(state(&r), Failed);
    let recorded = Recorded::of(&traces);
    let call = recorded.checkout();
    let refused = recorded.served(HOTEL, "HoldRooms");
    assert_eq!(refused.len(), 1);
    assert_eq!(
        attribute(refused[0], "rpc.grpc.status_code").as_deref(),
        Some("9"),
        "FAILED_PRECONDITION"
    );
    assert_reached_through(&recorded, refused[0], &["saga.hold_hotel", "saga.holding"], call);
    let hold_hotel = recorded.named("saga.hold_hotel");
    assert_eq!(attribute(hold_hotel[0], "saga.outcome").as_deref(), Some("refused"));
    let holding = recorded.named("saga.holding");
    assert_eq!(attribute(holding[0], "saga.next").as_deref(), Some("COMPENSATING"));
    for (service, method, work) in [
        (FLIGHT, "ReleaseSeats", "saga.release_flight"),
        (HOTEL, "ReleaseRooms", "saga.release_hotel"),
    ] {
        let served = recorded.served(service, method);
        assert_eq!(served.len(), 1, "{method} served once");
        assert_reached_through(&recorded, served[0], &[work, "saga.compensating"], call);
    }
    let compensating = recorded.named("saga.compensating");
    assert_eq!(attribute(compensating[0], "saga.next").as_deref(), Some("FAILED"));
    assert!(recorded.served(FLIGHT, "ConfirmSeats").is_empty(), "nothing confirmed");
    recorded.assert_one_trace(call);
    assert_saga_spans_below(&recorded, &r.id, call);
}

#[tokio::test]
async fn the_seat_retries_are_in_the_checkouts_trace() {
    // Arrange: the last seat held by another saga stuck before its pivot
    // (crashed), so that a bundle holding its room retries the seats.
    let traces = capture();
    let world = World::start().await;
    let flight = world.flight.create(1, "EUR").await;
    let room_type = world.hotel.create(5, "EUR").await;
    let crashing = world.crashing_at(CrashPoint::Held).await;
    let stuck = checkout(&crashing.customer("user-a"), flight_only("req-a", &flight, 1)).await;
    assert!(stuck.is_err(), "{stuck:?}");
    crashing.stop().await;
    let res = world.reservations().await;
    let mut request = Request::new(bundle("req-b", &flight, 1, &room_type, 1, 2));
    request.set_timeout(Duration::from_secs(20));

    // Act
    let r = res
        .customer("user-b")
        .checkout(request)
        .await
        .unwrap()
        .into_inner()
        .reservation
        .unwrap();

    // Assert: the first hold, then the retries under saga.retry_seats, every
    // one of them down to the flight service; then the room given back.
    assert_eq!(state(&r), Failed);
    let recorded = Recorded::of(&traces);
    let call = recorded.checkout();
    let holds: Vec<&Span> = recorded
        .served(FLIGHT, "HoldSeats")
        .into_iter()
        .filter(|s| recorded.descends(s, call))
        .collect();
    assert_eq!(
        holds.len(),
        1 + travel_reservation::saga::SEAT_RETRIES as usize,
        "HoldSeats calls in the checkout's trace"
    );
    assert_reached_through(&recorded, holds[0], &["saga.hold_flight", "saga.holding"], call);
    for retried in &holds[1..] {
        assert_reached_through(
            &recorded,
            retried,
            &["saga.hold_flight", "saga.retry_seats", "saga.holding"],
            call,
        );
    }
    let retry = recorded.named("saga.retry_seats");
    assert_eq!(retry.len(), 1);
    assert_eq!(attribute(retry[0], "saga.outcome").as_deref(), Some("refused"));
    assert_eq!(attribute(retry[0], "reservation.id").as_deref(), Some(r.id.as_str()));
    let released = recorded.served(HOTEL, "ReleaseRooms");
    assert_eq!(released.len(), 1);
    assert_reached_through(
        &recorded,
        released[0],
        &["saga.release_hotel", "saga.compensating"],
        call,
    );
    recorded.assert_one_trace(call);
}

#[tokio::test]
async fn a_recovery_pass_is_a_trace_down_to_the_calls_it_makes() {
    // Arrange: a saga that crashed right after its pivot.
    let traces = capture();
    let world = World::start().await;
    let flight = world.flight.create(10, "EUR").await;
    let room_type = world.hotel.create(5, "EUR").await;
    let res = world.crashing_at(CrashPoint::Confirming).await;
    let crashed = checkout(&res.customer("user-a"), bundle("req-1", &flight, 1, &room_type, 1, 2)).await;
    assert!(crashed.is_err(), "{crashed:?}");
    let id = res.store.list(None, None, 1).await.unwrap()[0].id.clone();

    // Act
    world.leases_run_out();
    let pass = res.recover().await;

    // Assert
    assert_eq!(pass.finished, 1);
    let recorded = Recorded::of(&traces);
    let passes = recorded.named("saga.recovery");
    let pass_span = passes
        .iter()
        .find(|s| attribute(s, "recovery.driven").as_deref() == Some("1"))
        .expect("the pass that drove the saga");
    assert_eq!(attribute(pass_span, "recovery.finished").as_deref(), Some("1"));
    assert_eq!(attribute(pass_span, "recovery.unfinished").as_deref(), Some("0"));
    assert_eq!(
        pass_span.parent_span_id,
        SpanId::INVALID,
        "a pass is a trace of its own"
    );
    let recover = recorded.named("saga.recover");
    assert_eq!(recover.len(), 1);
    assert_eq!(attribute(recover[0], "reservation.id").as_deref(), Some(id.as_str()));
    for (service, method, work) in [
        (FLIGHT, "ConfirmSeats", "saga.confirm_flight"),
        (HOTEL, "ConfirmRooms", "saga.confirm_hotel"),
    ] {
        let served = recorded.served(service, method);
        assert_eq!(served.len(), 1, "{method} served once, by recovery");
        assert_reached_through(
            &recorded,
            served[0],
            &[work, "saga.confirming", "saga.recover"],
            pass_span,
        );
    }
}

#[tokio::test]
async fn a_traceparent_sent_with_a_checkout_makes_it_part_of_the_callers_trace() {
    // Arrange
    let traces = capture();
    let world = World::start().await;
    let flight = world.flight.create(10, "EUR").await;
    let res = world.reservations().await;
    let (trace_id, parent_id) = ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7");
    let mut request = Request::new(flight_only("req-1", &flight, 1));
    let traceparent = format!("00-{trace_id}-{parent_id}-01");
    request
        .metadata_mut()
        .insert("traceparent", traceparent.parse().unwrap());

    // Act
    let r = res.customer("user-a").checkout(request).await.unwrap().into_inner();

    // Assert
    assert_eq!(state(&r.reservation.unwrap()), Confirmed);
    let recorded = Recorded::of(&traces);
    let call = recorded.checkout();
    assert_eq!(call.span_context.trace_id().to_string(), trace_id);
    assert_eq!(call.parent_span_id.to_string(), parent_id);
    assert!(call.parent_span_is_remote);
    for method in ["HoldSeats", "ConfirmSeats"] {
        let served = recorded.served(FLIGHT, method);
        assert_eq!(served.len(), 1);
        assert_eq!(served[0].span_context.trace_id().to_string(), trace_id, "{method}");
    }
    recorded.assert_one_trace(call);
}
