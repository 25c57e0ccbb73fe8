//! The outbox relay: a service's background task that publishes the rows of
//! its outbox to the broker in the order they were recorded, one at a time,
//! marking each sent only after the broker confirmed it; meanwhile every event
//! stays in the outbox, however long the broker is down. Sent rows are pruned
//! after the retention period.
//!
//! Order is kept per aggregate: a row that fails holds back the later rows
//! about the same aggregate, never the others. If the broker refuses one
//! message or returns it unroutable (no queue takes its routing key), that
//! aggregate is tried again after its own backoff, doubling from
//! [`FIRST_BACKOFF`] up to [`MAX_BACKOFF`], and the pass goes on with the
//! other aggregates. If the broker is unavailable, nothing else would get
//! through: the pass stops there and the whole relay backs off the same way.
//!
//! Delivery is at least once: a relay stopped between the broker's confirm
//! and the row's update, or two replicas relaying the same outbox, publish an
//! event twice; consumers apply it once by its id ([`super::inbox`]).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

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
    /// Aggregates whose last publish the broker refused or returned, and
    /// when to try them again (in memory: a restarted relay tries at once).
    held_back: Arc<Mutex<HashMap<String, (Instant, Backoff)>>>,
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
            held_back: Arc::default(),
        }
    }

    /// Publishes the pending rows, in order per aggregate: how many were
    /// published. Rows about an aggregate the broker refused (or returned)
    /// are left for that aggregate's next turn; an unavailable broker or
    /// database ends the pass with the error.
    pub async fn flush(&self) -> Result<usize, RelayError> {
        let mut published = 0;
        let mut after = 0;
        // Aggregates with an earlier row still pending: their later rows wait.
        let mut blocked: HashSet<String> = HashSet::new();
        self.metrics.pending.set(outbox::count_pending(&self.db).await?);
        loop {
            let batch = outbox::pending_after(&self.db, after, BATCH).await?;
            let full = batch.len() == BATCH as usize;
            for row in batch {
                after = row.position;
                if blocked.contains(&row.event.aggregate_id) || !self.due(&row.event.aggregate_id) {
                    blocked.insert(row.event.aggregate_id);
                    continue;
                }
                match self.broker.publish(&row.event).await {
                    Ok(()) => {
                        outbox::mark_sent(&self.db, row.position, self.clock.now()).await?;
                        self.held_back_lock().remove(&row.event.aggregate_id);
                        self.metrics
                            .published
                            .with_label_values(&[row.event.routing_key.as_str()])
                            .inc();
                        self.metrics.pending.dec();
                        published += 1;
                    }
                    Err(source) => {
                        self.metrics.failures.inc();
                        outbox::mark_failed(&self.db, row.position, &source.to_string()).await?;
                        if matches!(source, PublishError::Unavailable(_)) {
                            return Err(RelayError::Publish {
                                event_id: row.event.id,
                                source,
                            });
                        }
                        let delay = self.hold_back(&row.event.aggregate_id);
                        tracing::warn!(event.id = %row.event.id, aggregate = %row.event.aggregate_id, error = %source, retry_in = ?delay,
                            "the broker did not take an event; it and the later events about the same aggregate are kept and tried again");
                        blocked.insert(row.event.aggregate_id);
                    }
                }
            }
            if !full {
                return Ok(published);
            }
        }
    }

    /// Whether `aggregate` may be published now (it is not held back, or its
    /// backoff has run out).
    fn due(&self, aggregate: &str) -> bool {
        self.held_back_lock()
            .get(aggregate)
            .is_none_or(|(at, _)| *at <= Instant::now())
    }

    /// Holds `aggregate` back after a refused publish: for how long.
    fn hold_back(&self, aggregate: &str) -> Duration {
        let mut held_back = self.held_back_lock();
        let (at, backoff) = held_back
            .entry(aggregate.to_owned())
            .or_insert_with(|| (Instant::now(), Backoff::new(FIRST_BACKOFF, MAX_BACKOFF)));
        let delay = backoff.next_delay();
        *at = Instant::now() + delay;
        delay
    }

    fn held_back_lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Instant, Backoff)>> {
        self.held_back.lock().unwrap_or_else(PoisonError::into_inner)
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
