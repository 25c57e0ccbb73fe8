//! The saga as operators see it: a span for each step a driver takes
//! (`saga.holding`, `saga.confirming`, `saga.compensating`, `saga.cancelling`)
//! and, inside it, one for the work of each part at its service
//! (`saga.hold_flight`, `saga.release_hotel`, …, see [`Work`]), each with the
//! reservation id, so that a trace leads from the call that drove the saga
//! through its steps to the calls to the flight and hotel services. The work's
//! durations go to the step histogram ([`crate::metrics`]).

use std::future::Future;
use std::time::Instant;

use tracing::field::Empty;
use tracing::{Instrument as _, Span};

use super::Saga;
use super::steps::Next;
use crate::clients::Outcome;
use crate::domain::Step;
use crate::error::Error;
use crate::metrics::Work;

/// The span of a driver's work at `step` of reservation `id`. What the step
/// decided goes in `saga.next` ([`Next::label`]).
pub(super) fn step_span(step: Step, id: &str) -> Span {
    let name = match step {
        Step::Holding => "saga.holding",
        Step::Compensating => "saga.compensating",
        Step::Confirming => "saga.confirming",
        Step::Cancelling => "saga.cancelling",
        Step::Done => "saga.done",
    };
    tracing::info_span!("saga.step", otel.name = name, reservation.id = %id, saga.next = Empty)
}

/// What a step's work came to, as the `outcome` label and `saga.outcome`.
pub(super) trait Labelled {
    /// `ok`, `refused` or `unreachable`; `error` when the store failed.
    fn outcome(&self) -> &'static str;
}

impl<T> Labelled for Outcome<T> {
    fn outcome(&self) -> &'static str {
        self.label()
    }
}

impl<T> Labelled for Result<Outcome<T>, Error> {
    fn outcome(&self) -> &'static str {
        match self {
            Ok(outcome) => outcome.label(),
            Err(_) => "error",
        }
    }
}

impl Next {
    /// What the step decided, for `saga.next`: the step it moves to
    /// (`COMPENSATING`, `CONFIRMING`), the final state when it finishes the
    /// saga (`CONFIRMED`, `FAILED`, `CANCELLED`), or `stopped` when it left the
    /// saga for later (a service could not be reached).
    pub(super) fn label(&self) -> &'static str {
        match self {
            Self::Move(mv) if mv.step == Step::Done => mv.state.as_str(),
            Self::Move(mv) => mv.step.as_str(),
            Self::Stop(_) => "stopped",
        }
    }
}

impl Saga {
    /// Runs `work`, a step's work for reservation `id` at a service, in a span
    /// of its own (`saga.hold_flight`…, with `reservation.id` and
    /// `saga.outcome`), and times it into the step histogram.
    pub(super) async fn timed<O: Labelled>(&self, work: Work, id: &str, run: impl Future<Output = O>) -> O {
        let span = tracing::info_span!(
            "saga.work",
            otel.name = work.span_name(),
            reservation.id = %id,
            saga.outcome = Empty,
        );
        let started = Instant::now();
        let outcome = run.instrument(span.clone()).await;
        span.record("saga.outcome", outcome.outcome());
        self.metrics.step(work, outcome.outcome(), started.elapsed());
        outcome
    }
}
