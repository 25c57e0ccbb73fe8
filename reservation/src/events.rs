//! The events the reservation service consumes: the flight service's
//! FlightCancelled. Each is applied once (the store records it in the inbox in
//! the transaction that sets the flight's CONFIRMED reservations to be
//! cancelled), acknowledged, and the recovery loop, nudged, drives those
//! cancellations — releasing the seats and the rooms — through the saga, so
//! that a crash at any point leaves them for the next pass, never half done.
//! The service's own events (ReservationConfirmed…) are recorded by the saga
//! when it finishes (`store::saga`) and published by the kit's relay.

use prost::Message as _;
use tokio_util::sync::CancellationToken;
use travel::SharedClock;
use travel::events::consume::{self, ConsumeMetrics, Subscription};
use travel::events::{Broker, Event, Outcome};
use travel::pb::flight::v1::FlightCancelled;

use crate::error::Error;
use crate::recovery::Recovery;
use crate::store::{FlightCancellation, Store};

/// The reservation service's queue of flight events on the broker, by default.
pub const QUEUE: &str = "reservation.flight-events";
/// The routing key of FlightCancelled.
pub const FLIGHT_CANCELLED_KEY: &str = "flight.cancelled";
/// The routing key patterns the reservation service's queue is bound to.
pub const PATTERNS: &[&str] = &[FLIGHT_CANCELLED_KEY];
/// The protobuf name of FlightCancelled.
pub const FLIGHT_CANCELLED_KIND: &str = "travel.flight.v1.FlightCancelled";
/// Longest flight id the flight service gives out.
const MAX_FLIGHT_ID: usize = 64;

/// The consumer of flight events.
#[derive(Debug, Clone)]
pub struct FlightEvents {
    store: Store,
    recovery: Recovery,
    clock: SharedClock,
}

impl FlightEvents {
    /// A consumer that applies events to `store` and drives what they set off with `recovery`.
    pub fn new(store: Store, recovery: Recovery, clock: SharedClock) -> Self {
        Self { store, recovery, clock }
    }

    /// Consumes from `queue` on `broker` until `stop` is cancelled.
    pub async fn run(self, broker: Broker, queue: String, metrics: ConsumeMetrics, stop: CancellationToken) {
        let subscription = Subscription {
            queue,
            patterns: PATTERNS.iter().map(|p| (*p).to_owned()).collect(),
        };
        let this = &self;
        consume::run(broker, subscription, metrics, stop, move |event| async move {
            this.handle(&event).await
        })
        .await;
    }

    /// Applies one event: what became of it.
    pub async fn handle(&self, event: &Event) -> Outcome {
        if event.kind != FLIGHT_CANCELLED_KIND {
            return Outcome::DeadLetter(format!("unknown kind of event {:?}", event.kind));
        }
        let message = match FlightCancelled::decode(event.payload.as_slice()) {
            Ok(message) => message,
            Err(e) => return Outcome::DeadLetter(format!("a FlightCancelled that does not decode: {e}")),
        };
        if message.flight_id.is_empty() || message.flight_id.len() > MAX_FLIGHT_ID || message.event_id != event.id {
            return Outcome::DeadLetter("a FlightCancelled without a valid flight id or event id".into());
        }
        let cancellation = FlightCancellation {
            event,
            flight_id: &message.flight_id,
            reason: &message.reason,
        };
        match self.store.apply_flight_cancelled(&cancellation, self.clock.now()).await {
            Ok(None) => Outcome::Duplicate, // applied before: a redelivery
            Ok(Some(set)) => {
                tracing::info!(flight = %message.flight_id, reservations = set, "flight cancelled by the airline: cancelling its reservations");
                if set > 0 {
                    // Committed already: the recovery loop drives the
                    // cancellations (and a crash leaves them to the next pass);
                    // the event is acknowledged without waiting for them.
                    self.recovery.nudge();
                }
                Outcome::Applied
            }
            Err(Error::Store(e)) => Outcome::Retry(format!("the database is unavailable: {e}")),
            Err(e) => Outcome::Retry(e.to_string()),
        }
    }
}
