//! Taking the holds, and the pivot: whether the saga may go on to CONFIRMING.
//!
//! Hold TTL versus recovery: after the pivot only the call that made it (for at
//! most its budget, 20 s by default) or a recovery pass (one takes a saga over
//! at most lease + interval after it was last driven, 60 s + 5 s by default)
//! confirms the holds, retrying on every pass. So the saga pivots only if both
//! holds (their `expires_at`, as the services returned it, is kept) have at
//! least `min_hold_ttl_at_pivot` left (5 minutes by default, which start-up
//! checks is above lease + interval + a call timeout); if not, it compensates
//! and the reservation ends FAILED with that reason. A hold then expires after
//! the pivot only if a service stays unreachable for longer than that.

use futures::future::join_all;
use travel::deadline::Deadline;
use travel::types::Money;

use super::steps::{Move, Next};
use super::{CrashPoint, Saga};
use crate::clients::{BundlePart, Held, Outcome};
use crate::domain::{self, Part, Reservation, State, Step, failure};
use crate::error::Error;
use crate::metrics::{Action, Work};

/// What the hold of each part came to, flight first (`None`: the reservation
/// has no such part).
pub(super) struct Holds(Vec<(Part, Option<Outcome<Held>>)>);

impl Holds {
    /// What `part`'s hold came to, if the reservation has that part.
    pub(super) fn of(&self, part: Part) -> Option<&Outcome<Held>> {
        self.0.iter().find(|(p, _)| *p == part).and_then(|(_, o)| o.as_ref())
    }

    /// Replaces what `part`'s hold came to.
    pub(super) fn set(&mut self, part: Part, outcome: Outcome<Held>) {
        if let Some((_, o)) = self.0.iter_mut().find(|(p, _)| *p == part) {
            *o = Some(outcome);
        }
    }

    fn iter(&self) -> impl Iterator<Item = (Part, Option<&Outcome<Held>>)> {
        self.0.iter().map(|(p, o)| (*p, o.as_ref()))
    }

    fn price(&self, part: Part) -> Option<Money> {
        match self.of(part) {
            Some(Outcome::Done(h)) => Some(h.price),
            _ => None,
        }
    }
}

impl Saga {
    /// Takes every hold at once, recording each price as soon as it is known;
    /// decides the next step, and why the call must fail if a service was unreachable.
    pub(super) async fn take_holds(
        &self,
        r: &Reservation,
        deadline: Deadline,
    ) -> Result<(Next, Option<String>), Error> {
        // A part whose service's breaker is open would fail at once: the bundle
        // fails before anything is held, the other part's hold included.
        if let Some(part) = self
            .clients
            .parts()
            .into_iter()
            .find(|p| p.in_bundle(r) && p.breaker_open())
        {
            let why = failure::unavailable(part.part());
            return Ok((Next::compensate(why.clone()), Some(why)));
        }
        let taken = join_all(self.clients.parts().map(|part| self.hold(part, r, deadline))).await;
        let mut holds = Holds(taken.into_iter().collect::<Result<_, _>>()?);
        self.retry_seats(r, &mut holds, deadline).await?;
        let refusals: Vec<String> = holds
            .iter()
            .filter_map(|(part, o)| match o {
                Some(Outcome::Refused(why)) => Some(failure::refused(part, why)),
                _ => None,
            })
            .collect();
        if !refusals.is_empty() {
            return Ok((Next::compensate(refusals.join("; ")), None));
        }
        if let Some((part, _)) = holds.iter().find(|(_, o)| matches!(o, Some(Outcome::Unreachable(_)))) {
            let why = failure::unavailable(part);
            return Ok((Next::compensate(why.clone()), Some(why)));
        }
        self.crash_at(CrashPoint::Held)?;
        Ok((self.pivot(r, &holds), None))
    }

    /// Every part held: on to CONFIRMING, the pivot, if every hold lasts long
    /// enough after it and the parts' prices make a total; else compensation.
    fn pivot(&self, r: &Reservation, holds: &Holds) -> Next {
        let now = self.clock.now();
        let min = self.settings.min_hold_ttl_at_pivot;
        for (part, outcome) in holds.iter() {
            if let Some(Outcome::Done(h)) = outcome
                && !domain::lasts(h.expires, now, min)
            {
                tracing::warn!(reservation = %r.id, part = part.name(), "a hold would expire too soon after the pivot; compensating");
                return Next::compensate(failure::expires_too_soon(part));
            }
        }
        match domain::total(holds.price(Part::Flight), holds.price(Part::Hotel)) {
            Ok(_) => Next::Move(Move {
                step: Step::Confirming,
                state: State::Pending,
                reason: None,
                total: None,
            }),
            Err(why) => Next::compensate(why),
        }
    }

    /// Holds `part` of `r`, if `r` has it, and records the hold.
    async fn hold(
        &self,
        part: &dyn BundlePart,
        r: &Reservation,
        deadline: Deadline,
    ) -> Result<(Part, Option<Outcome<Held>>), Error> {
        let Some(holding) = part.hold(r, deadline) else {
            return Ok((part.part(), None));
        };
        // Counted from before the call until the price is recorded (seat-retry rule).
        let _sent = match (&r.flight, part.part()) {
            (Some(flight), Part::Flight) => Some(self.seat_holds_sent.enter(&flight.flight_id)),
            _ => None,
        };
        let outcome = self.timed(Work::of(Action::Hold, part.part()), &r.id, holding).await;
        self.record(r, part.part(), &outcome).await?;
        Ok((part.part(), Some(outcome)))
    }

    /// Records the price and expiry of a hold just taken.
    pub(super) async fn record(&self, r: &Reservation, part: Part, outcome: &Outcome<Held>) -> Result<(), Error> {
        if let Outcome::Done(held) = outcome {
            self.store.record_hold(&r.id, part, *held, self.clock.now()).await?;
        }
        Ok(())
    }
}
