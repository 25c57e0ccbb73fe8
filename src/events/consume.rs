//! A service's consumer of events: it takes the events bound to its queue from
//! the broker, one at a time, and hands each to the service's handler, which
//! applies it once (recording it in its inbox in the same transaction) and
//! says what became of it. An event the handler cannot apply now (the
//! database is down) is tried again after a backoff, never dropped; one it
//! can never apply (malformed, of an unknown kind) goes to the dead-letter
//! queue, with a log line and a count, and the consumer goes on.

use std::future::Future;
use std::time::Duration;

use prometheus::{IntCounterVec, Opts};
use tokio_util::sync::CancellationToken;

use super::{Backoff, Broker, Event};
use crate::metrics::Registry;

/// First wait before an event the handler could not apply is tried again.
pub(crate) const FIRST_RETRY: Duration = Duration::from_millis(100);
/// Longest wait between two tries of one event.
pub(crate) const MAX_RETRY: Duration = Duration::from_secs(10);

/// What the handler made of an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Applied now: acknowledge it.
    Applied,
    /// Found in the inbox, applied before (a redelivery, or a relay that
    /// published it twice): changed nothing; acknowledge it.
    Duplicate,
    /// Not applied, for a reason that may pass (the database is unavailable):
    /// try again later.
    Retry(String),
    /// Can never be applied (malformed, unknown kind): dead-letter it.
    DeadLetter(String),
}

/// The consumer's counters, in the service's registry.
#[derive(Debug, Clone)]
pub struct ConsumeMetrics {
    handled: IntCounterVec,
}

impl ConsumeMetrics {
    /// Registers `travel_events_consumed_total{kind, outcome}`.
    pub fn register(registry: &Registry) -> crate::metrics::Result<Self> {
        let handled = IntCounterVec::new(
            Opts::new(
                "travel_events_consumed_total",
                "Events this service's consumer handled, by kind and outcome: applied, duplicate (applied \
                 before; changed nothing), retry (not applied yet; tried again), dead_letter (malformed: \
                 sent to the dead-letter queue). A kind this platform does not define counts as unknown.",
            ),
            &["kind", "outcome"],
        )?;
        registry.register(Box::new(handled.clone()))?;
        Ok(Self { handled })
    }

    pub(crate) fn count(&self, kind: &str, outcome: &Outcome) {
        let outcome = match outcome {
            Outcome::Applied => "applied",
            Outcome::Duplicate => "duplicate",
            Outcome::Retry(_) => "retry",
            Outcome::DeadLetter(_) => "dead_letter",
        };
        // The kind comes from the message: only the ones this platform defines are labels.
        let kind = super::KINDS.iter().copied().find(|k| *k == kind).unwrap_or("unknown");
        self.handled.with_label_values(&[kind, outcome]).inc();
    }
}

/// What a consumer takes: its queue (durable, on RabbitMQ) and the routing
/// key patterns bound to it.
#[derive(Debug, Clone)]
pub struct Subscription {
    /// The queue's name, e.g. `reservation.flight-events`.
    pub queue: String,
    /// Routing key patterns (AMQP topic rules), e.g. `flight.cancelled`.
    pub patterns: Vec<String>,
}

/// Hands `subscription`'s events from `broker` to `handler` until `stop` is
/// cancelled. On RabbitMQ it declares the queue, its bindings and its
/// dead-letter queue, and reconnects after the connection broke.
pub async fn run<H, Fut>(
    broker: Broker,
    subscription: Subscription,
    metrics: ConsumeMetrics,
    stop: CancellationToken,
    handler: H,
) where
    H: Fn(Event) -> Fut + Send + Sync,
    Fut: Future<Output = Outcome> + Send,
{
    match broker {
        Broker::Local(bus) => {
            let patterns: Vec<&str> = subscription.patterns.iter().map(String::as_str).collect();
            let mut deliveries = bus.subscribe(&subscription.queue, &patterns);
            stop.run_until_cancelled(async {
                while let Some(delivery) = deliveries.recv().await {
                    let outcome = handler(delivery.event.clone()).await;
                    metrics.count(&delivery.event.kind, &outcome);
                    log(&delivery.event, &outcome);
                    // A retry is the publisher's to make: its relay backs off.
                    delivery.answer(outcome);
                }
            })
            .await;
        }
        Broker::Amqp(amqp) => amqp.consume(&subscription, &metrics, stop, &handler).await,
    }
}

/// The log line of an event that was not applied.
pub(crate) fn log(event: &Event, outcome: &Outcome) {
    match outcome {
        Outcome::Applied | Outcome::Duplicate => {}
        Outcome::Retry(why) => {
            tracing::warn!(event.id = %event.id, event.kind = %event.kind, %why, "an event could not be applied yet; it will be tried again");
        }
        Outcome::DeadLetter(why) => {
            tracing::warn!(event.id = %event.id, event.kind = %event.kind, %why, "an event cannot be applied: sent to the dead-letter queue");
        }
    }
}

/// Tries `handler` on `event` until it is applied or dead-lettered, backing
/// off between tries; `None` if `stop` came first (the event stays unacknowledged).
pub(crate) async fn until_settled<H, Fut>(
    event: &Event,
    metrics: &ConsumeMetrics,
    stop: &CancellationToken,
    handler: &H,
) -> Option<Outcome>
where
    H: Fn(Event) -> Fut,
    Fut: Future<Output = Outcome>,
{
    let mut backoff = Backoff::new(FIRST_RETRY, MAX_RETRY);
    loop {
        let outcome = stop.run_until_cancelled(handler(event.clone())).await?;
        metrics.count(&event.kind, &outcome);
        log(event, &outcome);
        match outcome {
            Outcome::Retry(_) => {
                stop.run_until_cancelled(tokio::time::sleep(backoff.next_delay()))
                    .await?;
            }
            settled => return Some(settled),
        }
    }
}
