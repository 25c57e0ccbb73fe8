//! The reservation service's domain metrics, read from the registry its
//! `/metrics` serves: reservations finished by state and kind of failure —
//! once each, not again on a replay, and also when recovery finishes one —
//! the saga step durations by step and outcome, and the recovery backlog.

use std::time::Duration;

use prometheus::proto::MetricType;
use travel::metrics::Registry;
use travel::pb::reservation::v1::ReservationState::{Cancelled, Confirmed, Failed};
use travel::testing::metrics::value;
use travel_reservation::CrashPoint;

use crate::helpers::{Reservations, World, bundle, cancel, checkout, state};

/// Every `travel_reservations_finished_total` series: `(state, reason, count)`, sorted.
fn finished(registry: &Registry) -> Vec<(String, String, f64)> {
    let Some(family) = registry
        .gather()
        .into_iter()
        .find(|f| f.name() == "travel_reservations_finished_total")
    else {
        return Vec::new();
    };
    let label = |m: &prometheus::proto::Metric, name: &str| {
        m.get_label()
            .iter()
            .find(|l| l.name() == name)
            .map(|l| l.value().to_owned())
            .unwrap_or_default()
    };
    let mut all: Vec<_> = family
        .get_metric()
        .iter()
        .map(|m| (label(m, "state"), label(m, "reason"), m.get_counter().get_value()))
        .collect();
    all.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    all
}

fn row(state: &str, reason: &str, count: f64) -> (String, String, f64) {
    (state.to_owned(), reason.to_owned(), count)
}

/// Samples of `travel_saga_step_duration_seconds{step, outcome}`, `None`
/// without any (the kit's `metrics::value` reads counters and gauges only).
fn step_samples(registry: &Registry, step: &str, outcome: &str) -> Option<u64> {
    let family = registry
        .gather()
        .into_iter()
        .find(|f| f.name() == "travel_saga_step_duration_seconds")?;
    assert_eq!(family.get_field_type(), MetricType::HISTOGRAM);
    let series = family.get_metric().iter().find(|m| {
        let label = |name: &str| m.get_label().iter().find(|l| l.name() == name).map(|l| l.value());
        label("step") == Some(step) && label("outcome") == Some(outcome)
    })?;
    let histogram = series.get_histogram();
    assert_eq!(histogram.get_bucket().len(), travel::metrics::LATENCY_BUCKETS.len());
    Some(histogram.get_sample_count())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_confirmed_and_a_failed_checkout_are_counted_once_each_with_their_steps_timed() {
    // Arrange: one room, so that the second bundle is refused by the hotel.
    let world = World::start().await;
    let flight = world.flight.create(10, "EUR").await;
    let room_type = world.hotel.create(1, "EUR").await;
    let res = world.reservations().await;
    let alice = res.customer("user-a");

    // Act
    let booked = checkout(&alice, bundle("req-1", &flight, 1, &room_type, 1, 2))
        .await
        .unwrap();
    let refused = checkout(&alice, bundle("req-2", &flight, 1, &room_type, 1, 2))
        .await
        .unwrap();
    let replayed = checkout(&alice, bundle("req-1", &flight, 1, &room_type, 1, 2))
        .await
        .unwrap();

    // Assert
    assert_eq!((state(&booked), state(&refused)), (Confirmed, Failed));
    assert_eq!(replayed.id, booked.id);
    assert_eq!(
        finished(&res.metrics),
        vec![row("confirmed", "none", 1.0), row("failed", "hotel_refused", 1.0)],
        "each once; the replay not again"
    );
    for (step, outcome, samples) in [
        ("hold_flight", "ok", 2),
        ("hold_hotel", "ok", 1),
        ("hold_hotel", "refused", 1),
        ("confirm_flight", "ok", 1),
        ("confirm_hotel", "ok", 1),
        ("release_flight", "ok", 1),
        ("release_hotel", "ok", 1),
    ] {
        assert_eq!(
            step_samples(&res.metrics, step, outcome),
            Some(samples),
            "{step} {outcome}"
        );
    }
    assert_eq!(step_samples(&res.metrics, "hold_flight", "refused"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cancellation_is_counted_as_cancelled() {
    // Arrange
    let world = World::start().await;
    let flight = world.flight.create(10, "EUR").await;
    let room_type = world.hotel.create(5, "EUR").await;
    let res = world.reservations().await;
    let alice = res.customer("user-a");
    let booked = checkout(&alice, bundle("req-1", &flight, 1, &room_type, 1, 2))
        .await
        .unwrap();

    // Act
    let cancelled = cancel(&alice, &booked.id).await.unwrap();
    let again = cancel(&alice, &booked.id).await.unwrap();

    // Assert
    assert_eq!((state(&cancelled), state(&again)), (Cancelled, Cancelled));
    assert_eq!(
        finished(&res.metrics),
        vec![row("cancelled", "none", 1.0), row("confirmed", "none", 1.0)]
    );
    assert_eq!(step_samples(&res.metrics, "release_flight", "ok"), Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unfinished_saga_shows_in_the_backlog_until_recovery_finishes_it() {
    // Arrange: a saga that crashed right after its pivot.
    let world = World::start().await;
    let flight = world.flight.create(10, "EUR").await;
    let room_type = world.hotel.create(5, "EUR").await;
    let res = world.crashing_at(CrashPoint::Confirming).await;
    let crashed = checkout(&res.customer("user-a"), bundle("req-1", &flight, 1, &room_type, 1, 2)).await;
    assert!(crashed.is_err(), "{crashed:?}");
    let unfinished = |res: &Reservations| value(&res.metrics, "travel_saga_unfinished", &[]);
    let oldest = |res: &Reservations| value(&res.metrics, "travel_saga_oldest_unfinished_age_seconds", &[]);

    // Act: a pass while its lease is live (it is left alone), 30 s later
    // another, then one once the lease has run out.
    let early = res.recover().await;
    let (backlog_then, age_then) = (unfinished(&res), oldest(&res));
    world.clock.advance(Duration::from_secs(30));
    res.recover().await;
    let age_later = oldest(&res);
    world.leases_run_out();
    let last = res.recover().await;

    // Assert
    assert_eq!((early.finished, early.left), (0, 0));
    assert_eq!(backlog_then, 1.0);
    assert_eq!(age_then, 0.0);
    assert_eq!(age_later, 30.0);
    assert_eq!(last.finished, 1);
    assert_eq!((unfinished(&res), oldest(&res)), (0.0, 0.0));
    assert_eq!(
        finished(&res.metrics),
        vec![row("confirmed", "none", 1.0)],
        "counted when recovery finished it"
    );
}
