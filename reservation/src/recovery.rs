//! The recovery loop: on start-up and every interval, takes over each saga whose
//! driver is gone (its lease ran out: a crash, a restart, a call that gave up)
//! and drives it to a terminal state — HOLDING and COMPENSATING to FAILED (every
//! hold released), CONFIRMING to CONFIRMED, CANCELLING to CANCELLED. A saga
//! whose service is still unreachable is left for the next pass. Each pass
//! first sets to be cancelled any CONFIRMED reservation on a flight the
//! airline cancelled (see `store::events`).
//!
//! A pass drives up to `concurrency` sagas at once, those past the pivot
//! first, so that a dependency that answers slowly or not at all (each stuck
//! saga costing up to a call timeout) does not make the backlog outlive the holds.
//! (docs/architecture.md, "Recovery".)
//!
//! Each pass is a `saga.recovery` span (the `saga.recover` of each saga it
//! takes over inside), and ends by counting the backlog into the
//! `travel_saga_unfinished` and `travel_saga_oldest_unfinished_age_seconds` gauges.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;
use tracing::field::Empty;
use travel::SharedClock;

use crate::domain::Step;
use crate::error::Error;
use crate::saga::Saga;

/// Most sagas one pass takes on past the pivot, and most at the other steps
/// (a share of their own, so that sagas stuck confirming cannot starve them).
const BATCH: u32 = 100;

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pass {
    /// Sagas driven to a terminal state.
    pub finished: usize,
    /// Sagas taken over but left unfinished (a service is unreachable).
    pub left: usize,
}

/// Runs recovery passes, one at a time (the timer's and the tests' alike).
#[derive(Debug, Clone)]
pub struct Recovery {
    saga: Saga,
    clock: SharedClock,
    /// Most sagas one pass drives at the same time.
    concurrency: usize,
    one_at_a_time: Arc<tokio::sync::Mutex<()>>,
    /// Asks the loop of [`Recovery::run`] for a pass now ([`Recovery::nudge`]).
    nudged: Arc<tokio::sync::Notify>,
}

impl Recovery {
    /// Recovery over `saga`'s reservations, driving up to `concurrency` at once.
    pub fn new(saga: Saga, clock: SharedClock, concurrency: usize) -> Self {
        Self {
            saga,
            clock,
            concurrency: concurrency.max(1),
            one_at_a_time: Arc::new(tokio::sync::Mutex::new(())),
            nudged: Arc::new(tokio::sync::Notify::new()),
        }
    }

    /// One pass over every unfinished saga whose lease has run out, in a
    /// `saga.recovery` span that says how many were due and what became of them.
    pub async fn run_once(&self) -> Result<Pass, Error> {
        let _one = self.one_at_a_time.lock().await;
        let span = tracing::info_span!(
            "saga.recovery",
            recovery.due = Empty,
            recovery.driven = Empty,
            recovery.finished = Empty,
            recovery.left = Empty,
            recovery.unfinished = Empty,
        );
        self.pass(&span).instrument(span.clone()).await
    }

    /// The work of a pass, whose results go on `span`.
    async fn pass(&self, span: &tracing::Span) -> Result<Pass, Error> {
        // A reservation confirmed after its flight's cancellation was applied
        // (its checkout was past the pivot then) is cancelled like the others.
        let late = self.saga.store().cancel_on_cancelled_flights(self.clock.now()).await?;
        if late > 0 {
            tracing::info!(
                reservations = late,
                "cancelling reservations confirmed on a cancelled flight"
            );
        }
        let due = self.saga.store().unfinished(self.clock.now(), BATCH).await?;
        span.record("recovery.due", due.len());
        // Started in the order of the queries (CONFIRMING first), `concurrency` at a time.
        let mut driven = futures::stream::iter(due)
            .map(|reservation| async move {
                let id = reservation.id.clone();
                (id, self.saga.recover(reservation).await)
            })
            .buffer_unordered(self.concurrency);
        let mut pass = Pass::default();
        while let Some((id, outcome)) = driven.next().await {
            match outcome {
                Ok(Some(r)) if r.step == Step::Done => pass.finished += 1,
                Ok(Some(_)) => pass.left += 1,
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(reservation = %id, error = %e, "recovering a saga failed; will retry");
                    pass.left += 1;
                }
            }
        }
        span.record("recovery.driven", pass.finished + pass.left);
        span.record("recovery.finished", pass.finished);
        span.record("recovery.left", pass.left);
        let backlog = self.saga.store().backlog().await?;
        span.record("recovery.unfinished", backlog.unfinished);
        self.saga.metrics().backlog(backlog, self.clock.now());
        Ok(pass)
    }

    /// Asks the background loop ([`Recovery::run`]) for a pass as soon as the
    /// one under way, if any, is done, without waiting for it: what a consumer
    /// does after committing work for recovery to drive.
    pub fn nudge(&self) {
        self.nudged.notify_one();
    }

    /// A pass now and then every `interval`, or sooner when nudged, until
    /// `stop`; failures are logged and retried.
    pub async fn run(self, interval: Duration, stop: CancellationToken) {
        let recovery = &self;
        let nudged = self.nudged.clone();
        travel::background::every_or_nudged(interval, &nudged, stop, move || async move {
            match recovery.run_once().await {
                Ok(Pass { finished: 0, left: 0 }) => {}
                Ok(pass) => tracing::info!(finished = pass.finished, left = pass.left, "recovery pass"),
                Err(e) => tracing::warn!(error = %e, "recovery pass failed; will retry"),
            }
        })
        .await;
    }
}
