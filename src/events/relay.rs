//! The outbox relay: a service's background task that publishes the rows of
//! its outbox to the broker in the order they were recorded, one at a time,
//! marking each sent only after the broker confirmed it. A failed publish
//! stops the pass there — a later event about the same aggregate must not
//! overtake it — and the relay tries again after a backoff that doubles up to
//! a ceiling; meanwhile every event stays in the outbox, however long the
//! broker is down. Sent rows are pruned after the retention period.
//!
//! Delivery is at least once: a relay stopped between the broker's confirm
//! and the row's update, or two replicas relaying the same outbox, publish an
//! event twice; consumers apply it once by its id ([`super::inbox`]).

use std::time::Duration;

use prometheus::{IntCounter, IntCounterVec, IntGauge, Opts};
use tokio_util::sync::CancellationToken;

use super::{Backoff, Broker, PublishError, outbox};
use crate::SharedClock;
use crate::db::Database;
use crate::metrics::Registry;
use crate::types::UnixMillis;

/// Rows read per query.
const BATCH: u32 = 100;
/// First wait after a failed publish; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// Longest wait between two tries while the broker is down.
const MAX_BACKOFF: Duration = Duration::from_secs(15);
/// How often sent rows older than the retention are deleted.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// The relay's counters, in the service's registry.
#[derive(Debug, Clone)]
pub struct RelayMetrics {
    published: IntCounterVec,
    failures: IntCounter,
    pending: IntGauge,
}

impl RelayMetrics {
    /// Registers `travel_events_published_total{routing_key}`,
    /// `travel_events_publish_failures_total` and `travel_outbox_pending`.
    pub fn register(registry: &Registry) -> crate::metrics::Result<Self> {
        let published = IntCounterVec::new(
            Opts::new(
                "travel_events_published_total",
                "Events the broker confirmed, by routing key.",
            ),
            &["routing_key"],
        )?;
        let failures = IntCounter::new(
            "travel_events_publish_failures_total",
            "Publishes that failed (broker down, refused, unroutable); the event stays in the outbox and is tried again.",
        )?;
        let pending = IntGauge::new(
            "travel_outbox_pending",
            "Events recorded in the outbox and not yet confirmed by the broker, as of the relay's last pass.",
        )?;
        registry.register(Box::new(published.clone()))?;
        registry.register(Box::new(failures.clone()))?;
        registry.register(Box::new(pending.clone()))?;
        Ok(Self {
            published,
            failures,
            pending,
        })
    }
}

/// Why a pass of the relay stopped early.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// The database failed.
    #[error("the outbox could not be read or updated: {0}")]
    Database(#[from] sqlx::Error),
    /// The broker did not take an event.
    #[error("publishing event {event_id} failed: {source}")]
    Publish {
        /// The event that is still pending.
        event_id: String,
        /// Why.
        source: PublishError,
    },
}

/// Publishes one service's outbox.
#[derive(Debug, Clone)]
pub struct Relay {
    db: Database,
    broker: Broker,
    clock: SharedClock,
    poll: Duration,
    retention: Duration,
    metrics: RelayMetrics,
}

impl Relay {
    /// A relay of `db`'s outbox to `broker`, looking for new rows every `poll`
    /// and keeping sent rows for `retention`.
    pub fn new(
        db: Database,
        broker: Broker,
        clock: SharedClock,
        poll: Duration,
        retention: Duration,
        metrics: RelayMetrics,
    ) -> Self {
        Self {
            db,
            broker,
            clock,
            poll,
            retention,
            metrics,
        }
    }

    /// Publishes every pending row, in order, until none is left or one
    /// fails: how many were published.
    pub async fn flush(&self) -> Result<usize, RelayError> {
        let mut published = 0;
        loop {
            let batch = outbox::pending(&self.db, BATCH).await?;
            self.metrics.pending.set(outbox::count_pending(&self.db).await?);
            let full = batch.len() == BATCH as usize;
            for row in batch {
                if let Err(source) = self.broker.publish(&row.event).await {
                    self.metrics.failures.inc();
                    outbox::mark_failed(&self.db, row.position, &source.to_string()).await?;
                    return Err(RelayError::Publish {
                        event_id: row.event.id,
                        source,
                    });
                }
                outbox::mark_sent(&self.db, row.position, self.clock.now()).await?;
                self.metrics
                    .published
                    .with_label_values(&[row.event.routing_key.as_str()])
                    .inc();
                self.metrics.pending.dec();
                published += 1;
            }
            if !full {
                return Ok(published);
            }
        }
    }

    /// Deletes the rows sent longer ago than the retention; how many.
    pub async fn prune(&self) -> Result<u64, sqlx::Error> {
        let now = self.clock.now().unix_millis();
        let keep = i64::try_from(self.retention.as_millis()).unwrap_or(i64::MAX);
        outbox::prune(&self.db, UnixMillis::from_unix_millis(now.saturating_sub(keep))).await
    }

    /// Relays until `stop` is cancelled: a pass every poll interval, a backoff
    /// after a failure, a prune every minute.
    pub async fn run(self, stop: CancellationToken) {
        tracing::info!(broker = %self.broker.describe(), "relaying the outbox");
        let mut backoff = Backoff::new(FIRST_BACKOFF, MAX_BACKOFF);
        let mut last_prune: Option<tokio::time::Instant> = None;
        stop.run_until_cancelled(async {
            loop {
                let wait = match self.flush().await {
                    Ok(_) => {
                        backoff.reset();
                        self.poll
                    }
                    Err(e) => {
                        let delay = backoff.next_delay();
                        tracing::warn!(error = %e, retry_in = ?delay, "the outbox relay could not publish; the events are kept and will be tried again");
                        delay
                    }
                };
                if last_prune.is_none_or(|at| at.elapsed() >= PRUNE_EVERY) {
                    last_prune = Some(tokio::time::Instant::now());
                    match self.prune().await {
                        Ok(0) => {}
                        Ok(n) => tracing::debug!(rows = n, "pruned sent events from the outbox"),
                        Err(e) => tracing::warn!(error = %e, "pruning the outbox failed; will retry"),
                    }
                }
                tokio::time::sleep(wait).await;
            }
        })
        .await;
    }
}
