//! RabbitMQ (AMQP 0-9-1) through `lapin`, as the events' broker.
//!
//! Publishing: one connection and channel per service, opened on first use
//! and opened again after it broke, with publisher confirms on; every event
//! goes to the durable topic exchange [`EXCHANGE`] as a persistent message
//! (delivery mode 2) with `mandatory` set, and counts as published only when
//! the broker acknowledged it and did not return it: a message no queue
//! takes is a failure, not a success, and stays in the outbox. The exchange's
//! alternate exchange, [`UNROUTED_EXCHANGE`], takes the unrouted events meant
//! for systems outside the platform ([`KEPT_WHEN_UNROUTED`]: the reservation
//! events, FlightRescheduled), so these are kept by the broker, not returned; a `flight.cancelled`
//! that the reservation service's queue does not take yet comes back.
//!
//! The message: the body is the protobuf encoding; `message_id` the event
//! id, `type` the protobuf name, `content_type` `application/x-protobuf`,
//! `timestamp` when it was published, and the headers `aggregate_id` and
//! `sequence`.
//!
//! Consuming: a durable quorum queue per consumer, bound to the exchange by
//! its patterns, with manual acknowledgements (after the handler committed),
//! a prefetch of [`PREFETCH`], and a dead-letter exchange: a message the
//! handler refuses for good is rejected to `<queue>.dead`; one delivered
//! [`DELIVERY_LIMIT`] times without an answer (a message that crashes the
//! consumer) is dead-lettered by RabbitMQ itself.

use std::str::FromStr as _;
use std::sync::Arc;
use std::time::Duration;

use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions, BasicRejectOptions,
    ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{BasicProperties, Channel, Confirmation, Connection, ConnectionProperties, ExchangeKind};
use tokio_stream::StreamExt as _;
use tokio_util::sync::CancellationToken;

use super::consume::{ConsumeMetrics, Outcome, Subscription, until_settled};
use super::{
    Backoff, DEAD_LETTER_EXCHANGE, EXCHANGE, Event, KEPT_WHEN_UNROUTED, PublishError, UNROUTED_EXCHANGE,
    UNROUTED_MAX_BYTES, UNROUTED_TTL,
};

/// Messages a consumer takes before it has acknowledged any.
pub const PREFETCH: u16 = 16;
/// Deliveries of one message after which RabbitMQ dead-letters it.
///
/// High on purpose: before RabbitMQ 4.x a consumer's lost connection counts as
/// a delivery too, and a valid event must survive many restarts of its
/// consumer. `<queue>.dead` has no reader: operators alert on its depth.
pub const DELIVERY_LIMIT: i64 = 20;
/// Longest wait for the broker's confirm of one publish; after it the
/// connection is dropped and the event tried again (it may then arrive twice).
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait to connect, open a channel and declare the exchanges (and,
/// for a publisher, turn confirms on): a broker that accepts the connection
/// but never answers cannot stall the relay or a consumer.
const OPEN_TIMEOUT: Duration = Duration::from_secs(10);
/// The content type of every event message.
const CONTENT_TYPE: &str = "application/x-protobuf";

/// A RabbitMQ broker; clones share its publishing connection.
#[derive(Clone)]
pub struct Amqp {
    url: String,
    address: String,
    publisher: Arc<tokio::sync::Mutex<Option<Channel>>>,
}

impl std::fmt::Debug for Amqp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL carries the password: only the address is shown.
        f.debug_struct("Amqp")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

/// Checks a `--broker-url`: an `amqp://` URL that lapin can parse (TLS,
/// `amqps://`, is not built in).
pub fn broker_url(s: &str) -> Result<String, String> {
    let uri = lapin::uri::AMQPUri::from_str(s).map_err(|e| format!("not an AMQP URL: {e}"))?;
    if uri.scheme != lapin::uri::AMQPScheme::AMQP {
        return Err("only amqp:// is supported (this build has no TLS for AMQP)".into());
    }
    Ok(s.to_owned())
}

impl Amqp {
    /// The broker at `url` (`amqp://user:password@host:port/vhost`); it connects on first use.
    pub fn new(url: &str) -> Self {
        let address = lapin::uri::AMQPUri::from_str(url)
            .map(|u| format!("{}:{}", u.authority.host, u.authority.port))
            .unwrap_or_else(|_| "an unparsable URL".into());
        Self {
            url: url.to_owned(),
            address,
            publisher: Arc::new(tokio::sync::Mutex::new(None)),
        }
    }

    /// `host:port`, for log lines.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// A channel on a new connection, with the exchanges declared, within
    /// [`OPEN_TIMEOUT`]; with publisher confirms on if `confirms`.
    async fn open(&self, confirms: bool) -> Result<(Connection, Channel), lapin::Error> {
        within_open_timeout(self.open_now(confirms)).await
    }

    async fn open_now(&self, confirms: bool) -> Result<(Connection, Channel), lapin::Error> {
        let connection = Connection::connect(&self.url, ConnectionProperties::default()).await?;
        let channel = connection.create_channel().await?;
        declare_exchanges(&channel).await?;
        if confirms {
            channel.confirm_select(ConfirmSelectOptions::default()).await?;
        }
        Ok((connection, channel))
    }

    /// Publishes `event` and waits for the broker's confirm.
    pub async fn publish(&self, event: &Event) -> Result<(), PublishError> {
        let mut publisher = self.publisher.lock().await;
        let channel = match publisher.as_ref().filter(|c| c.status().connected()) {
            Some(channel) => channel.clone(),
            None => {
                let (_connection, channel) = self.open(true).await.map_err(unavailable)?;
                // The channel keeps its connection alive.
                *publisher = Some(channel.clone());
                channel
            }
        };
        let confirm = tokio::time::timeout(CONFIRM_TIMEOUT, async {
            channel
                .basic_publish(
                    EXCHANGE.into(),
                    event.routing_key.as_str().into(),
                    BasicPublishOptions {
                        mandatory: true,
                        ..BasicPublishOptions::default()
                    },
                    &event.payload,
                    properties(event),
                )
                .await?
                .await
        })
        .await;
        match confirm {
            Ok(Ok(Confirmation::Ack(None))) => Ok(()),
            Ok(Ok(Confirmation::Ack(Some(_)))) => Err(PublishError::Unroutable(event.routing_key.clone())),
            Ok(Ok(Confirmation::Nack(_) | Confirmation::NotRequested)) => Err(PublishError::Refused),
            Ok(Err(e)) => {
                *publisher = None; // opened again on the next try
                Err(unavailable(e))
            }
            Err(_) => {
                *publisher = None;
                Err(PublishError::Unavailable(format!(
                    "the broker did not confirm within {CONFIRM_TIMEOUT:?}"
                )))
            }
        }
    }

    /// Consumes `subscription` with `handler` until `stop`; after a broken
    /// connection it connects again, with a backoff.
    pub(crate) async fn consume<H, Fut>(
        &self,
        subscription: &Subscription,
        metrics: &ConsumeMetrics,
        stop: CancellationToken,
        handler: &H,
    ) where
        H: Fn(Event) -> Fut,
        Fut: std::future::Future<Output = Outcome>,
    {
        let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(15));
        while !stop.is_cancelled() {
            match self
                .consume_once(subscription, metrics, &stop, handler, &mut backoff)
                .await
            {
                Ok(()) => return,
                Err(e) => {
                    let delay = backoff.next_delay();
                    tracing::warn!(queue = %subscription.queue, broker = %self.address, error = %e, retry_in = ?delay,
                        "consuming events failed; connecting again");
                    if stop.run_until_cancelled(tokio::time::sleep(delay)).await.is_none() {
                        return;
                    }
                }
            }
        }
    }

    async fn consume_once<H, Fut>(
        &self,
        subscription: &Subscription,
        metrics: &ConsumeMetrics,
        stop: &CancellationToken,
        handler: &H,
        backoff: &mut Backoff,
    ) -> Result<(), lapin::Error>
    where
        H: Fn(Event) -> Fut,
        Fut: std::future::Future<Output = Outcome>,
    {
        // The channel is kept for as long as its deliveries are read.
        let (connection, _channel, mut deliveries) = within_open_timeout(async {
            let (connection, channel) = self.open_now(false).await?;
            declare(&channel, subscription).await?;
            channel.basic_qos(PREFETCH, BasicQosOptions::default()).await?;
            let deliveries = channel
                .basic_consume(
                    subscription.queue.as_str().into(),
                    ShortString::from(""),
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                )
                .await?;
            Ok((connection, channel, deliveries))
        })
        .await?;
        tracing::info!(queue = %subscription.queue, broker = %self.address, "consuming events");
        backoff.reset();
        while let Some(next) = stop.run_until_cancelled(deliveries.next()).await {
            let Some(delivery) = next else { break };
            let delivery = delivery?;
            let settled = match event(&delivery) {
                Ok(event) => until_settled(&event, metrics, stop, handler).await,
                Err(why) => {
                    let outcome = Outcome::DeadLetter(why);
                    metrics.count("unknown", &outcome);
                    tracing::warn!(routing_key = %delivery.routing_key, "a message that is not an event: sent to the dead-letter queue");
                    Some(outcome)
                }
            };
            match settled {
                Some(Outcome::Applied | Outcome::Duplicate) => {
                    delivery.ack(BasicAckOptions::default()).await?;
                }
                Some(Outcome::DeadLetter(_)) => {
                    delivery.reject(BasicRejectOptions { requeue: false }).await?;
                }
                // Stopping (a retry never settles): unacknowledged, it is delivered again.
                Some(Outcome::Retry(_)) | None => break,
            }
        }
        let _ = connection.close(200, "stopping".into()).await;
        if stop.is_cancelled() {
            Ok(())
        } else {
            Err(lapin::Error::from(lapin::ErrorKind::InvalidConnectionState(
                lapin::ConnectionState::Closed,
            )))
        }
    }
}

/// `opening`, failed with a timeout if it takes longer than [`OPEN_TIMEOUT`].
async fn within_open_timeout<T>(
    opening: impl std::future::Future<Output = Result<T, lapin::Error>>,
) -> Result<T, lapin::Error> {
    match tokio::time::timeout(OPEN_TIMEOUT, opening).await {
        Ok(opened) => opened,
        Err(_) => Err(lapin::Error::from(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("the broker did not open a channel within {OPEN_TIMEOUT:?}"),
        ))),
    }
}

/// Declares the exchanges every service uses: [`EXCHANGE`] (durable, topic),
/// its alternate exchange [`UNROUTED_EXCHANGE`] with the queue of the same name
/// that keeps the unrouted messages of [`KEPT_WHEN_UNROUTED`] for
/// [`UNROUTED_TTL`], and [`DEAD_LETTER_EXCHANGE`]. Idempotent; an exchange
/// declared earlier with other arguments makes the broker close the channel
/// (`PRECONDITION_FAILED`, "inequivalent arg").
pub async fn declare_exchanges(channel: &Channel) -> Result<(), lapin::Error> {
    let durable = ExchangeDeclareOptions {
        durable: true,
        ..ExchangeDeclareOptions::default()
    };
    channel
        .exchange_declare(
            UNROUTED_EXCHANGE.into(),
            ExchangeKind::Topic,
            durable,
            FieldTable::default(),
        )
        .await?;
    let mut kept = FieldTable::default();
    kept.insert(
        "x-message-ttl".into(),
        AMQPValue::LongLongInt(i64::try_from(UNROUTED_TTL.as_millis()).unwrap_or(i64::MAX)),
    );
    // Past the cap RabbitMQ drops the oldest (its default overflow, drop-head).
    kept.insert("x-max-length-bytes".into(), AMQPValue::LongLongInt(UNROUTED_MAX_BYTES));
    let durable_queue = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    channel
        .queue_declare(UNROUTED_EXCHANGE.into(), durable_queue, kept)
        .await?;
    for pattern in KEPT_WHEN_UNROUTED {
        channel
            .queue_bind(
                UNROUTED_EXCHANGE.into(),
                UNROUTED_EXCHANGE.into(),
                (*pattern).into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
    }
    let mut alternate = FieldTable::default();
    alternate.insert(
        "alternate-exchange".into(),
        AMQPValue::LongString(LongString::from(UNROUTED_EXCHANGE)),
    );
    channel
        .exchange_declare(EXCHANGE.into(), ExchangeKind::Topic, durable, alternate)
        .await?;
    channel
        .exchange_declare(
            DEAD_LETTER_EXCHANGE.into(),
            ExchangeKind::Direct,
            durable,
            FieldTable::default(),
        )
        .await?;
    Ok(())
}

/// Declares `subscription`'s queue (durable, quorum, dead-lettering to
/// `<queue>.dead`), its dead-letter queue and its bindings.
async fn declare(channel: &Channel, subscription: &Subscription) -> Result<(), lapin::Error> {
    let queue = subscription.queue.as_str();
    let dead = format!("{queue}.dead");
    let durable = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    channel
        .queue_declare(dead.as_str().into(), durable, FieldTable::default())
        .await?;
    channel
        .queue_bind(
            dead.as_str().into(),
            DEAD_LETTER_EXCHANGE.into(),
            queue.into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let mut arguments = FieldTable::default();
    arguments.insert("x-queue-type".into(), AMQPValue::LongString(LongString::from("quorum")));
    arguments.insert(
        "x-dead-letter-exchange".into(),
        AMQPValue::LongString(LongString::from(DEAD_LETTER_EXCHANGE)),
    );
    arguments.insert(
        "x-dead-letter-routing-key".into(),
        AMQPValue::LongString(LongString::from(queue)),
    );
    arguments.insert("x-delivery-limit".into(), AMQPValue::LongLongInt(DELIVERY_LIMIT));
    channel.queue_declare(queue.into(), durable, arguments).await?;
    for pattern in &subscription.patterns {
        channel
            .queue_bind(
                queue.into(),
                EXCHANGE.into(),
                pattern.as_str().into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
    }
    Ok(())
}

/// The message properties of `event`.
fn properties(event: &Event) -> BasicProperties {
    let mut headers = FieldTable::default();
    headers.insert(
        "aggregate_id".into(),
        AMQPValue::LongString(LongString::from(event.aggregate_id.as_str())),
    );
    headers.insert("sequence".into(), AMQPValue::LongLongInt(event.sequence));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    BasicProperties::default()
        .with_delivery_mode(2)
        .with_content_type(CONTENT_TYPE.into())
        .with_message_id(event.id.as_str().into())
        .with_type(event.kind.as_str().into())
        .with_timestamp(now)
        .with_headers(headers)
}

/// The event a delivery carries, or why it is not one.
fn event(delivery: &lapin::message::Delivery) -> Result<Event, String> {
    let p = &delivery.properties;
    let id = p
        .message_id()
        .as_ref()
        .map(|s| s.as_str().to_owned())
        .filter(|s| !s.is_empty());
    let kind = p
        .kind()
        .as_ref()
        .map(|s| s.as_str().to_owned())
        .filter(|s| !s.is_empty());
    let header = |name: &str| p.headers().as_ref().and_then(|h| h.inner().get(name).cloned());
    let aggregate_id = match header("aggregate_id") {
        Some(AMQPValue::LongString(s)) => String::from_utf8(s.as_bytes().to_vec()).ok(),
        Some(AMQPValue::ShortString(s)) => Some(s.as_str().to_owned()),
        _ => None,
    };
    let sequence = match header("sequence") {
        Some(AMQPValue::LongLongInt(n)) => Some(n),
        Some(AMQPValue::LongInt(n)) => Some(i64::from(n)),
        _ => None,
    };
    match (id, kind, aggregate_id, sequence) {
        (Some(id), Some(kind), Some(aggregate_id), Some(sequence)) => Ok(Event {
            id,
            routing_key: delivery.routing_key.as_str().to_owned(),
            kind,
            aggregate_id,
            sequence,
            payload: delivery.data.clone(),
        }),
        _ => Err("a message without the event's message_id, type, aggregate_id or sequence".into()),
    }
}

fn unavailable(e: lapin::Error) -> PublishError {
    PublishError::Unavailable(e.to_string())
}
