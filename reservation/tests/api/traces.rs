//! Tracing across the services: one Checkout is one trace, from the
//! reservation service's server span (a child of the caller's `traceparent`)
//! through the saga's step spans and its client calls to the flight and hotel
//! services' server spans — the compensation and the seat retries in it too;
//! and a recovery pass is a trace of its own down to the calls it makes.
//!
//! The recorder is the process's (tests run in parallel): each test starts
//! its own trace with a `traceparent` and reads only that one.

use std::time::Duration;

use opentelemetry::trace::{SpanId, SpanKind, TraceId};
use tonic::Request;
use travel::pb::reservation::v1 as pb;
use travel::pb::reservation::v1::ReservationState::{Confirmed, Failed};
use travel::testing::traces::{Span, Traces, attribute, traceparent};
use travel_reservation::CrashPoint;

use crate::helpers::{Client, World, bundle, checkout, flight_only, state};

const RESERVATION: &str = "travel.reservation.v1.ReservationService";
const FLIGHT: &str = "travel.flight.v1.FlightService";
const HOTEL: &str = "travel.hotel.v1.HotelService";
/// The server span of a Checkout: the root of a checkout's spans.
const CHECKOUT: &str = "travel.reservation.v1.ReservationService/Checkout";

/// Checks out `request` as `client`, in a new trace: the trace's id, and the
/// reservation the call answered with.
async fn traced_checkout(
    client: &Client,
    request: pb::CheckoutRequest,
    budget: Duration,
) -> (TraceId, pb::Reservation) {
    let (trace_id, header) = traceparent();
    let mut request = Request::new(request);
    request.set_timeout(budget);
    request
        .metadata_mut()
        .insert("traceparent", header.parse().expect("a traceparent is ASCII"));
    let response = client.clone().checkout(request).await.expect("the checkout answers");
    (
        trace_id,
        response.into_inner().reservation.expect("reservation in response"),
    )
}

/// The spans of one trace, with the lookups the assertions need.
struct Recorded(Vec<Span>);

impl Recorded {
    /// The spans of `trace_id`, once its span `root` has ended (all below it have, then).
    async fn of(trace_id: TraceId, root: &str) -> Self {
        Self(Traces::capture().trace_below(trace_id, root).await)
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

    /// The server span of the reservation service's Checkout, the trace's only one.
    fn checkout(&self) -> &Span {
        let served = self.served(RESERVATION, "Checkout");
        assert_eq!(served.len(), 1, "one Checkout served in the trace");
        served[0]
    }

    /// The spans named `name` (a saga span: `saga.holding`…).
    fn named(&self, name: &str) -> Vec<&Span> {
        self.0.iter().filter(|s| s.name == name).collect()
    }

    fn parent(&self, span: &Span) -> Option<&Span> {
        self.0
            .iter()
            .find(|s| span.parent_span_id != SpanId::INVALID && s.span_context.span_id() == span.parent_span_id)
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

    /// Asserts that every span of the trace hangs from `root`: nothing in
    /// the trace was started apart from it.
    fn assert_all_below(&self, root: &Span) {
        for span in &self.0 {
            assert!(
                self.descends(span, root),
                "{} not below {}: {:?}",
                span.name,
                root.name,
                names(&self.chain(span))
            );
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

/// Asserts that every span recorded with `reservation.id = id`, in any
/// trace, is in `call`'s trace and below it; how many there are.
fn assert_saga_spans_below(recorded: &Recorded, id: &str, call: &Span) -> usize {
    let tagged: Vec<Span> = Traces::capture()
        .spans()
        .into_iter()
        .filter(|s| attribute(s, "reservation.id").as_deref() == Some(id))
        .collect();
    for span in &tagged {
        assert_eq!(
            span.span_context.trace_id(),
            call.span_context.trace_id(),
            "{}",
            span.name
        );
        assert!(recorded.descends(span, call), "{} not below the call", span.name);
    }
    tagged.len()
}

#[tokio::test]
async fn one_bundled_checkout_is_one_trace_down_to_the_flight_and_hotel_services() {
    // The recorder, before anything the test traces happens.
    Traces::capture();
    // Arrange
    let world = World::start().await;
    let flight = world.flight.create(10, "EUR").await;
    let room_type = world.hotel.create(5, "EUR").await;
    let res = world.reservations().await;
    let request = bundle("req-1", &flight, 1, &room_type, 1, 2);

    // Act
    let (trace_id, r) = traced_checkout(&res.customer("user-a"), request, Duration::from_secs(20)).await;

    // Assert: the caller's trace, the reservation's server span its child…
    assert_eq!(state(&r), Confirmed);
    let recorded = Recorded::of(trace_id, CHECKOUT).await;
    let call = recorded.checkout();
    assert_eq!(attribute(call, "rpc.service").as_deref(), Some(RESERVATION));
    assert!(call.parent_span_is_remote, "the caller's span is the parent");
    assert_ne!(call.parent_span_id, SpanId::INVALID);
    // … and below it, through the saga's spans and the client calls, the
    // flight and hotel services' server spans.
    for (service, method, saga) in [
        (FLIGHT, "HoldSeats", ["saga.hold_flight", "saga.holding"]),
        (HOTEL, "HoldRooms", ["saga.hold_hotel", "saga.holding"]),
        (FLIGHT, "ConfirmSeats", ["saga.confirm_flight", "saga.confirming"]),
        (HOTEL, "ConfirmRooms", ["saga.confirm_hotel", "saga.confirming"]),
    ] {
        let served = recorded.served(service, method);
        assert_eq!(served.len(), 1, "{method} served once in the trace");
        assert_eq!(attribute(served[0], "rpc.service").as_deref(), Some(service));
        assert_eq!(attribute(served[0], "rpc.grpc.status_code").as_deref(), Some("0"));
        assert_reached_through(&recorded, served[0], &saga, call);
    }
    recorded.assert_all_below(call);
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
        .0
        .iter()
        .filter(|s| attribute(s, "db.operation.name").as_deref() == Some("reservation.advance"))
        .count();
    assert_eq!(
        stored, 2,
        "HOLDING → CONFIRMING → DONE, each a database span in the trace"
    );
}

#[tokio::test]
async fn a_refused_hotel_shows_the_compensation_in_the_checkouts_trace() {
    // The recorder, before anything the test traces happens.
    Traces::capture();
    // Arrange: 1 room, 2 wanted.
    let world = World::start().await;
    let flight = world.flight.create(10, "EUR").await;
    let room_type = world.hotel.create(1, "EUR").await;
    let res = world.reservations().await;
    let request = bundle("req-1", &flight, 1, &room_type, 2, 2);

    // Act
    let (trace_id, r) = traced_checkout(&res.customer("user-a"), request, Duration::from_secs(20)).await;

    // Assert
    assert_eq!(state(&r), Failed);
    let recorded = Recorded::of(trace_id, CHECKOUT).await;
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
        assert_eq!(served.len(), 1, "{method} served once in the trace");
        assert_reached_through(&recorded, served[0], &[work, "saga.compensating"], call);
    }
    let compensating = recorded.named("saga.compensating");
    assert_eq!(attribute(compensating[0], "saga.next").as_deref(), Some("FAILED"));
    assert!(recorded.served(FLIGHT, "ConfirmSeats").is_empty(), "nothing confirmed");
    recorded.assert_all_below(call);
    assert_saga_spans_below(&recorded, &r.id, call);
}

#[tokio::test]
async fn the_seat_retries_are_in_the_checkouts_trace() {
    // The recorder, before anything the test traces happens.
    Traces::capture();
    // Arrange: the last seat held by another saga stuck before its pivot
    // (crashed), so that a bundle holding its room retries the seats.
    let world = World::start().await;
    let flight = world.flight.create(1, "EUR").await;
    let room_type = world.hotel.create(5, "EUR").await;
    let crashing = world.crashing_at(CrashPoint::Held).await;
    let stuck = checkout(&crashing.customer("user-a"), flight_only("req-a", &flight, 1)).await;
    assert!(stuck.is_err(), "{stuck:?}");
    crashing.stop().await;
    let res = world.reservations().await;
    let request = bundle("req-b", &flight, 1, &room_type, 1, 2);

    // Act
    let (trace_id, r) = traced_checkout(&res.customer("user-b"), request, Duration::from_secs(20)).await;

    // Assert: the first hold, then the retries under saga.retry_seats, every
    // one of them down to the flight service; then the room given back.
    assert_eq!(state(&r), Failed);
    let recorded = Recorded::of(trace_id, CHECKOUT).await;
    let call = recorded.checkout();
    let holds = recorded.served(FLIGHT, "HoldSeats");
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
    recorded.assert_all_below(call);
}

#[tokio::test]
async fn a_recovery_pass_is_a_trace_down_to_the_calls_it_makes() {
    // Arrange: the recorder, before anything the test traces happens; a saga
    // that crashed right after its pivot.
    let traces = Traces::capture();
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

    // Assert: the saga's recovery, found by its id, and its pass at the root.
    assert_eq!(pass.finished, 1);
    let recovered = || -> Vec<Span> {
        traces
            .spans()
            .into_iter()
            .filter(|s| s.name == "saga.recover" && attribute(s, "reservation.id").as_deref() == Some(id.as_str()))
            .collect()
    };
    // Bounded: a span may end a moment after the pass returned.
    for _ in 0..500 {
        if !recovered().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let recover = recovered();
    assert_eq!(recover.len(), 1, "the saga was recovered once");
    let recorded = Recorded::of(recover[0].span_context.trace_id(), "saga.recovery").await;
    let passes = recorded.named("saga.recovery");
    assert_eq!(passes.len(), 1, "one pass in the trace");
    let pass_span = passes[0];
    assert_eq!(
        pass_span.parent_span_id,
        SpanId::INVALID,
        "a pass is a trace of its own"
    );
    assert_eq!(attribute(pass_span, "recovery.driven").as_deref(), Some("1"));
    assert_eq!(attribute(pass_span, "recovery.finished").as_deref(), Some("1"));
    assert_eq!(attribute(pass_span, "recovery.unfinished").as_deref(), Some("0"));
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
    recorded.assert_all_below(pass_span);
}
