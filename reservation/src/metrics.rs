//! The reservation service's domain metrics, registered in the service's own
//! registry (served on `/metrics` with the kit's RED series): reservations
//! finished, by final state and kind of failure; how long each call a saga
//! step makes to the flight or hotel service took, by outcome; and the
//! recovery backlog. Every label value comes from a small fixed set; the
//! reservation id goes on the saga's spans, never here.

use std::time::Duration;

use prometheus::{Gauge, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry};
use travel::types::UnixMillis;

use crate::domain::failure::Failure;
use crate::domain::{Part, State};
use crate::store::Backlog;

/// The work of one saga step at one service: the `step` label of
/// `travel_saga_step_duration_seconds`, and the name of its span (`saga.<label>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Work {
    /// HoldSeats (also each retry of the seat-retry rule).
    HoldFlight,
    /// HoldRooms.
    HoldHotel,
    /// The seat-retry rule's wait for seats, all its HoldSeats together.
    RetrySeats,
    /// ConfirmSeats, retried until it succeeds or the budget runs out.
    ConfirmFlight,
    /// ConfirmRooms, likewise.
    ConfirmHotel,
    /// ReleaseSeats (compensation, cancellation).
    ReleaseFlight,
    /// ReleaseRooms.
    ReleaseHotel,
}

/// What a step does with a part's hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Takes it.
    Hold,
    /// Confirms it (past the pivot).
    Confirm,
    /// Releases it.
    Release,
}

impl Work {
    /// `action` on the hold of `part`.
    pub fn of(action: Action, part: Part) -> Self {
        match (action, part) {
            (Action::Hold, Part::Flight) => Self::HoldFlight,
            (Action::Hold, Part::Hotel) => Self::HoldHotel,
            (Action::Confirm, Part::Flight) => Self::ConfirmFlight,
            (Action::Confirm, Part::Hotel) => Self::ConfirmHotel,
            (Action::Release, Part::Flight) => Self::ReleaseFlight,
            (Action::Release, Part::Hotel) => Self::ReleaseHotel,
        }
    }

    /// The `step` label.
    pub fn label(self) -> &'static str {
        match self {
            Self::HoldFlight => "hold_flight",
            Self::HoldHotel => "hold_hotel",
            Self::RetrySeats => "retry_seats",
            Self::ConfirmFlight => "confirm_flight",
            Self::ConfirmHotel => "confirm_hotel",
            Self::ReleaseFlight => "release_flight",
            Self::ReleaseHotel => "release_hotel",
        }
    }

    /// The name of its span.
    pub fn span_name(self) -> &'static str {
        match self {
            Self::HoldFlight => "saga.hold_flight",
            Self::HoldHotel => "saga.hold_hotel",
            Self::RetrySeats => "saga.retry_seats",
            Self::ConfirmFlight => "saga.confirm_flight",
            Self::ConfirmHotel => "saga.confirm_hotel",
            Self::ReleaseFlight => "saga.release_flight",
            Self::ReleaseHotel => "saga.release_hotel",
        }
    }
}

/// The reservation service's domain metrics.
#[derive(Debug, Clone)]
pub struct Metrics {
    finished: IntCounterVec,
    step_seconds: HistogramVec,
    unfinished: IntGauge,
    oldest_age: Gauge,
}

impl Metrics {
    /// Registers the metrics in `registry`:
    /// `travel_reservations_finished_total{state, reason}`,
    /// `travel_saga_step_duration_seconds{step, outcome}`,
    /// `travel_saga_unfinished` and `travel_saga_oldest_unfinished_age_seconds`.
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let finished = IntCounterVec::new(
            Opts::new(
                "travel_reservations_finished_total",
                "Reservations that reached a final state (confirmed, failed, cancelled), once each; \
                 for failed ones, the kind of failure (none otherwise).",
            ),
            &["state", "reason"],
        )?;
        let step_seconds = HistogramVec::new(
            HistogramOpts::new(
                "travel_saga_step_duration_seconds",
                "Time a saga step's work at the flight or hotel service took, retries included, \
                 by step and outcome (ok, refused, unreachable).",
            )
            .buckets(travel::metrics::LATENCY_BUCKETS.to_vec()),
            &["step", "outcome"],
        )?;
        let unfinished = IntGauge::new(
            "travel_saga_unfinished",
            "Sagas not yet at a final state, as the last recovery pass counted them.",
        )?;
        let oldest_age = Gauge::new(
            "travel_saga_oldest_unfinished_age_seconds",
            "Age of the oldest saga not yet at a final state, as of the last recovery pass (0 if none).",
        )?;
        registry.register(Box::new(finished.clone()))?;
        registry.register(Box::new(step_seconds.clone()))?;
        registry.register(Box::new(unfinished.clone()))?;
        registry.register(Box::new(oldest_age.clone()))?;
        Ok(Self {
            finished,
            step_seconds,
            unfinished,
            oldest_age,
        })
    }

    /// A reservation reached the final `state`, failed for `reason` if FAILED.
    pub fn finished(&self, state: State, reason: Option<&str>) {
        let (state, reason) = match state {
            State::Confirmed => ("confirmed", "none"),
            State::Cancelled => ("cancelled", "none"),
            State::Failed => ("failed", Failure::of(reason.unwrap_or_default()).label()),
            // Not final: nothing to count (the saga never finishes in PENDING).
            State::Pending => return,
        };
        self.finished.with_label_values(&[state, reason]).inc();
    }

    /// `work` took `elapsed` and came to `outcome` (ok, refused, unreachable).
    pub fn step(&self, work: Work, outcome: &'static str, elapsed: Duration) {
        self.step_seconds
            .with_label_values(&[work.label(), outcome])
            .observe(elapsed.as_secs_f64());
    }

    /// The backlog a recovery pass found at `now`.
    pub fn backlog(&self, backlog: Backlog, now: UnixMillis) {
        self.unfinished
            .set(i64::try_from(backlog.unfinished).unwrap_or(i64::MAX));
        let age_ms = backlog.oldest_created.map_or(0, |created| {
            now.unix_millis().saturating_sub(created.unix_millis()).max(0)
        });
        self.oldest_age.set(age_ms as f64 / 1000.0);
    }
}
