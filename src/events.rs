//! Events between services (docs/architecture.md, "Events"): facts one service
//! records and others must learn, delivered asynchronously and at least once.
//!
//! A service that emits writes each event into its **outbox** ([`outbox`]) in
//! the same database transaction as the change it reports; a background
//! [`relay`] publishes the pending rows in order to the [`Broker`] and marks a
//! row sent only once the broker has confirmed it. A service that consumes
//! applies each event once through its **inbox** ([`inbox`]): the event id is
//! recorded in the same transaction as the event's effect, so a redelivery
//! changes nothing ([`consume`]).
//!
//! The broker is RabbitMQ ([`amqp`]) when `--broker-url` names one, or an
//! in-process [`bus`] otherwise: the local stack delivers the outbox between
//! its services inside the one process, and needs nothing installed.

pub mod amqp;
pub mod bus;
pub mod consume;
pub mod inbox;
pub mod outbox;
pub mod relay;
mod topic;

use std::time::Duration;

pub use consume::Outcome;

/// The durable topic exchange every service publishes its events to.
pub const EXCHANGE: &str = "travel.events";
/// The exchange a consumer's queue dead-letters refused messages to, and the
/// suffix of the queue that keeps them (`<queue>.dead`).
pub const DEAD_LETTER_EXCHANGE: &str = "travel.events.dead";
/// The alternate exchange of [`EXCHANGE`], which RabbitMQ hands every message
/// no queue is bound for, and the name of the queue that keeps those meant for
/// systems outside the platform ([`KEPT_WHEN_UNROUTED`]) for [`UNROUTED_TTL`],
/// at most [`UNROUTED_MAX_BYTES`].
pub const UNROUTED_EXCHANGE: &str = "travel.events.unrouted";
/// The routing keys of the events published for systems outside the platform
/// (notifications, accounting…), which may not be listening yet: with no queue
/// bound for them, they are kept in [`UNROUTED_EXCHANGE`]'s queue, confirmed,
/// and the outbox moves on. The other events (`flight.cancelled`) have a
/// consumer inside the platform and must reach its queue: with none, the broker
/// returns them and they wait in the outbox until the queue exists.
pub const KEPT_WHEN_UNROUTED: &[&str] = &["reservation.#", "flight.rescheduled"];
/// How long the unrouted queue keeps a message.
pub const UNROUTED_TTL: Duration = Duration::from_secs(7 * 24 * 60 * 60);
/// The most the unrouted queue holds, in bytes of message bodies; past it the
/// oldest messages are dropped. Without a cap, a deployment with nobody bound
/// could fill the broker's disk, and its disk alarm would block every
/// publisher, FlightCancelled included.
pub const UNROUTED_MAX_BYTES: i64 = 256 * 1024 * 1024;

/// The kinds of event this platform defines (their protobuf names): the only
/// values the consumers' `kind` metric label takes.
pub const KINDS: &[&str] = &[
    "travel.flight.v1.FlightCancelled",
    "travel.flight.v1.FlightRescheduled",
    "travel.reservation.v1.ReservationConfirmed",
    "travel.reservation.v1.ReservationCancelled",
    "travel.reservation.v1.ReservationFailed",
];

/// One event as it travels: what the outbox keeps and the broker carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Unique id (a UUID), the same on every redelivery: what consumers dedup on.
    pub id: String,
    /// The topic it is published under: `flight.cancelled`, `reservation.confirmed`…
    pub routing_key: String,
    /// The full name of its protobuf message: `travel.flight.v1.FlightCancelled`.
    pub kind: String,
    /// What it is about (a flight id, a reservation id).
    pub aggregate_id: String,
    /// Its position among the events about `aggregate_id`, from 1.
    pub sequence: i64,
    /// The protobuf encoding of the message.
    pub payload: Vec<u8>,
}

impl Event {
    /// An event of `message` (`kind` its protobuf name) about `aggregate_id`.
    pub fn new(
        id: impl Into<String>,
        routing_key: &str,
        kind: &str,
        aggregate_id: impl Into<String>,
        sequence: i64,
        message: &impl prost::Message,
    ) -> Self {
        Self {
            id: id.into(),
            routing_key: routing_key.to_owned(),
            kind: kind.to_owned(),
            aggregate_id: aggregate_id.into(),
            sequence,
            payload: message.encode_to_vec(),
        }
    }
}

/// Where a service's events go and come from.
#[derive(Debug, Clone)]
pub enum Broker {
    /// Delivered inside this process (the local stack; or no broker configured).
    Local(bus::Bus),
    /// RabbitMQ.
    Amqp(amqp::Amqp),
}

/// Why a publish did not succeed; the relay keeps the event and tries again.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The broker could not be reached, or the connection broke.
    #[error("the broker is unavailable: {0}")]
    Unavailable(String),
    /// The broker refused the message (a negative confirm).
    #[error("the broker refused the message")]
    Refused,
    /// No queue is bound to the routing key: the broker returned the message.
    #[error("no queue takes routing key {0}: the message came back unroutable")]
    Unroutable(String),
}

impl Broker {
    /// Publishes `event`; `Ok` only once the broker has confirmed it.
    pub async fn publish(&self, event: &Event) -> Result<(), PublishError> {
        match self {
            Self::Local(bus) => bus.publish(event).await,
            Self::Amqp(amqp) => amqp.publish(event).await,
        }
    }

    /// The broker `args` name: RabbitMQ at `--broker-url`, or the in-process
    /// bus the embedding program gave (`EventArgs::local`). `None` when there
    /// is neither (a lone service without `--broker-url`): its events then
    /// wait in its outbox, none lost, until it runs with a broker.
    pub fn from_args(args: &crate::config::EventArgs) -> Option<Self> {
        match (&args.broker_url, &args.local) {
            (Some(url), _) => Some(Self::Amqp(amqp::Amqp::new(url))),
            (None, Some(bus)) => Some(Self::Local(bus.clone())),
            (None, None) => {
                tracing::warn!(
                    "no --broker-url: this service's events are kept in its outbox, unpublished, until it runs with a broker"
                );
                None
            }
        }
    }

    /// What to call it in log lines: `RabbitMQ at host:port` (no credentials) or `in process`.
    pub fn describe(&self) -> String {
        match self {
            Self::Local(_) => "in process".into(),
            Self::Amqp(amqp) => format!("RabbitMQ at {}", amqp.address()),
        }
    }
}

/// Failures in a row under the kit's retry policy ([`crate::retry::Backoff`]:
/// doubling from `first`, jittered, never longer than `max`): the relay's and
/// the consumers' wait before their next try.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    policy: crate::retry::Backoff,
    failures: u32,
}

impl Backoff {
    /// Starting at about `first`, never longer than `max`.
    pub fn new(first: Duration, max: Duration) -> Self {
        Self {
            policy: crate::retry::Backoff::new(first, max),
            failures: 0,
        }
    }

    /// How long to wait after one more failure.
    pub fn next_delay(&mut self) -> Duration {
        self.failures = self.failures.saturating_add(1);
        self.policy.wait(self.failures)
    }

    /// Back to the first delay, after a success.
    pub fn reset(&mut self) {
        self.failures = 0;
    }
}
