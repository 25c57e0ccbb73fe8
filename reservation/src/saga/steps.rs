//! The work of the steps after HOLDING, for every part of the bundle at once:
//! confirming the holds (past the pivot), releasing them (compensation,
//! cancellation). Each step decides the next one ([`Next`]); `Saga::drive`
//! persists it.

use futures::future::{BoxFuture, join_all};
use travel::deadline::Deadline;
use travel::types::{HoldId, Money};

use super::Saga;
use crate::clients::{BundlePart, Outcome, Retry};
use crate::domain::{self, Part, Reservation, State, Step, failure};
use crate::metrics::{Action, Work};
use crate::store::Transition;

/// The next step a driver decided on.
pub(super) struct Move {
    pub(super) step: Step,
    pub(super) state: State,
    pub(super) reason: Option<String>,
    pub(super) total: Option<Money>,
}

impl Move {
    /// The change of step that persists this move.
    pub(super) fn transition(&self) -> Transition<'_> {
        Transition {
            step: self.step,
            state: self.state,
            failure_reason: self.reason.as_deref(),
            total: self.total,
        }
    }

    pub(super) fn finish(state: State, total: Option<Money>) -> Self {
        Self {
            step: Step::Done,
            state,
            reason: None,
            total,
        }
    }
}

/// What a driver does at a step: move on, or stop with the saga left for later.
pub(super) enum Next {
    Move(Move),
    /// A service could not be reached: the message for the caller, if the call
    /// should fail (else the reservation is returned as it is).
    Stop(Option<String>),
}

impl Next {
    /// On to compensation, failing for `reason`.
    pub(super) fn compensate(reason: impl Into<String>) -> Self {
        Self::Move(Move {
            step: Step::Compensating,
            state: State::Pending,
            reason: Some(reason.into()),
            total: None,
        })
    }
}

impl Saga {
    /// Confirms every hold, retrying until they succeed or `deadline` passes.
    pub(super) async fn confirm_all(&self, r: &Reservation, deadline: Deadline) -> Next {
        let confirmed = self
            .on_each_hold(r, Action::Confirm, |part, hold| {
                part.confirm(hold, deadline, Retry::UntilDeadline)
            })
            .await;
        for (part, outcome) in &confirmed {
            if let Outcome::Refused(why) = outcome {
                return Next::compensate(failure::not_confirmed(*part, why));
            }
        }
        if confirmed.iter().any(|(_, o)| *o != Outcome::Done(())) {
            return Next::Stop(None); // recovery keeps confirming
        }
        // Every part present must have its recorded price: a total that quietly
        // left one out would charge less than was booked.
        let unpriced =
            r.flight.as_ref().is_some_and(|f| f.price.is_none()) || r.hotel.as_ref().is_some_and(|h| h.price.is_none());
        if unpriced {
            tracing::error!(reservation = %r.id, "a held part has no recorded price; compensating");
            return Next::compensate(failure::UNPRICED);
        }
        match domain::total(
            r.flight.as_ref().and_then(|f| f.price),
            r.hotel.as_ref().and_then(|h| h.price),
        ) {
            Ok(total) => Next::Move(Move::finish(State::Confirmed, Some(total))),
            Err(why) => Next::compensate(why),
        }
    }

    /// Compensation: releases every hold, then FAILED.
    pub(super) async fn compensate(&self, r: &Reservation) -> Next {
        match self.release_all(r).await {
            Ok(()) => Next::Move(Move::finish(State::Failed, None)),
            Err(part) => Next::Stop(Some(format!(
                "the {part} service is unavailable; nothing was booked, and what was held will be released when it is back"
            ))),
        }
    }

    /// The work of a cancellation: releases every hold, then CANCELLED.
    pub(super) async fn finish_cancel(&self, r: &Reservation) -> Next {
        match self.release_all(r).await {
            Ok(()) => Next::Move(Move::finish(State::Cancelled, None)),
            Err(part) => Next::Stop(Some(format!(
                "the {part} service is unavailable; the cancellation will be finished when it is back"
            ))),
        }
    }

    /// Releases every hold of `r` (a tombstone for one never taken), within a
    /// call timeout; `Err` names a part whose service could not be reached.
    async fn release_all(&self, r: &Reservation) -> Result<(), Part> {
        let deadline = Deadline::after(self.settings.call_timeout);
        let released = self.on_each_hold(r, Action::Release, |part, hold| part.release(hold, deadline));
        for (part, outcome) in released.await {
            match outcome {
                Outcome::Done(()) => {}
                // Releases are idempotent and accept unknown ids, so a refusal means
                // something is wrong (credentials, say). The inventory may still be
                // taken: stop, and let recovery try again, rather than call it released.
                Outcome::Refused(why) => {
                    tracing::error!(reservation = %r.id, part = part.name(), %why, "a release was refused; will retry");
                    return Err(part);
                }
                Outcome::Unreachable(_) => return Err(part),
            }
        }
        Ok(())
    }

    /// `act` (the `action`) on the hold of every part `r` has, all at once,
    /// each timed in a span of its own; a part it does not have counts as
    /// done. Flight first.
    async fn on_each_hold<'a>(
        &'a self,
        r: &'a Reservation,
        action: Action,
        act: impl Fn(&'a dyn BundlePart, &'a HoldId) -> BoxFuture<'a, Outcome<()>>,
    ) -> Vec<(Part, Outcome<()>)> {
        join_all(self.clients.parts().map(|part| {
            let acting = r.hold_id(part.part()).map(|hold| act(part, hold));
            async move {
                let outcome = match acting {
                    Some(acting) => self.timed(Work::of(action, part.part()), &r.id, acting).await,
                    None => Outcome::Done(()),
                };
                (part.part(), outcome)
            }
        }))
        .await
    }
}
