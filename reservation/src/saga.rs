//! The checkout saga (docs/architecture.md, "The checkout saga"): PENDING with
//! deterministic hold ids first; holds in parallel; a refusal compensated by
//! releasing every hold; the pivot (CONFIRMING), after which the saga only moves
//! forward; CONFIRMED with the total from the prices the services returned.
//!
//! Every step is persisted before its work starts, by a conditional update on
//! the step being left and on the lease owner, so the same code drives a
//! checkout call, a cancellation, and the recovery of a saga a crash left behind.
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

use std::time::Duration;

use travel::SharedClock;
use travel::deadline::Deadline;
use travel::types::{HoldId, Money};

use crate::clients::{Clients, Held, Outcome, Retry, jitter};
use crate::domain::{self, Checkout, CrashPoint, FlightBooking, Reservation, State, Step};
use crate::error::Error;
use crate::store::{Lease, Part, Store, Transition};

/// How often a caller waiting for a checkout driven by another call re-reads it.
const POLL: Duration = Duration::from_millis(50);

/// Most HoldSeats retries of a bundle that holds its rooms and was refused
/// seats while other sagas hold seats on the flight (about 2 s of backoff).
pub const SEAT_RETRIES: u32 = 20;

/// The saga's settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How long one driver owns a running saga before recovery may take it over.
    pub lease: Duration,
    /// Longest a single outgoing call may take; also the budget of compensation
    /// and of one recovery step, which have no caller's deadline.
    pub call_timeout: Duration,
    /// Least time both holds must have left for the saga to pass the pivot.
    pub min_hold_ttl_at_pivot: Duration,
    /// Test seam: stop dead right after persisting this step. `None` in production.
    pub crash_after: Option<CrashPoint>,
}

/// Drives reservations through the saga.
#[derive(Debug, Clone)]
pub struct Saga {
    store: Store,
    clients: Clients,
    clock: SharedClock,
    settings: Settings,
}

/// The next step a driver decided on.
struct Move {
    step: Step,
    state: State,
    reason: Option<String>,
    total: Option<Money>,
}

impl Move {
    fn compensate(reason: impl Into<String>) -> Self {
        Self {
            step: Step::Compensating,
            state: State::Pending,
            reason: Some(reason.into()),
            total: None,
        }
    }

    fn finish(state: State, total: Option<Money>) -> Self {
        Self {
            step: Step::Done,
            state,
            reason: None,
            total,
        }
    }
}

/// What a driver does at a step: move on, or stop with the saga left for later.
enum Next {
    Move(Move),
    /// A service could not be reached: the message for the caller, if the call
    /// should fail (else the reservation is returned as it is).
    Stop(Option<String>),
}

impl Saga {
    /// A saga driver over `store` and `clients`.
    pub fn new(store: Store, clients: Clients, clock: SharedClock, settings: Settings) -> Self {
        Self {
            store,
            clients,
            clock,
            settings,
        }
    }

    /// The store, for reads.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Checks out for `user_id`, by `deadline`: a new reservation driven to
    /// CONFIRMED or FAILED, or the reservation this user's request id made before.
    pub async fn checkout(&self, user_id: &str, checkout: Checkout, deadline: Deadline) -> Result<Reservation, Error> {
        // A new stay in the past is refused before anything is held (the flight
        // service refuses departed flights itself); a retry of a checkout already
        // made returns that reservation, whatever day it is now.
        if checkout.starts_before(self.clock.now().date())
            && !self.store.request_seen(user_id, &checkout.request_id).await?
        {
            return Err(Error::StayInPast);
        }
        let owner = new_owner();
        let id = uuid::Uuid::now_v7().to_string();
        let (reservation, created) = self
            .store
            .create(&id, user_id, &checkout, self.lease(&owner), self.clock.now())
            .await?;
        if !created {
            return self
                .wait_while(reservation, deadline, |r| r.state == State::Pending)
                .await;
        }
        self.crash_at(CrashPoint::Holding)?;
        self.drive(reservation, &owner, deadline, true).await
    }

    /// Cancels a reservation (whose owner the caller was checked to be).
    pub async fn cancel(&self, reservation: Reservation, deadline: Deadline) -> Result<Reservation, Error> {
        let owner = new_owner();
        match (reservation.state, reservation.step) {
            (State::Cancelled, _) => Ok(reservation),
            (State::Confirmed, Step::Done) => {
                if !self
                    .store
                    .begin_cancel(&reservation.id, self.lease(&owner), self.clock.now())
                    .await?
                {
                    // Changed meanwhile (another cancel started): look again.
                    let again = self.store.get(&reservation.id).await?;
                    return Box::pin(self.cancel(again, deadline)).await;
                }
                self.crash_at(CrashPoint::Cancelling)?;
                let reservation = self.store.get(&reservation.id).await?;
                self.drive(reservation, &owner, deadline, false).await
            }
            (State::Confirmed, Step::Cancelling) => {
                let now = self.clock.now();
                if self.store.claim(&reservation.id, self.lease(&owner), now).await? {
                    let reservation = self.store.get(&reservation.id).await?;
                    self.drive(reservation, &owner, deadline, false).await
                } else {
                    let r = self
                        .wait_while(reservation, deadline, |r| r.step == Step::Cancelling)
                        .await?;
                    if r.step == Step::Cancelling {
                        return Err(Error::Unavailable(
                            "the cancellation is still in progress; retry later to see it finished".into(),
                        ));
                    }
                    Ok(r)
                }
            }
            (state, _) => Err(Error::not_cancellable(&reservation.id, state)),
        }
    }

    /// Takes over an unfinished saga whose lease ran out and drives it as far
    /// as the services allow; `Ok(None)` if another driver has it.
    pub async fn recover(&self, reservation: Reservation) -> Result<Option<Reservation>, Error> {
        let owner = new_owner();
        let now = self.clock.now();
        if !self.store.claim(&reservation.id, self.lease(&owner), now).await? {
            return Ok(None);
        }
        // Read again: it may have moved on between the scan and the claim.
        let reservation = self.store.get(&reservation.id).await?;
        let deadline = Deadline::after(self.settings.call_timeout);
        match self.drive(reservation.clone(), &owner, deadline, false).await {
            Ok(r) => Ok(Some(r)),
            Err(Error::Unavailable(why)) => {
                tracing::info!(reservation = %reservation.id, %why, "recovery left a saga for the next pass");
                Ok(Some(self.store.get(&reservation.id).await?))
            }
            Err(e) => Err(e),
        }
    }

    /// Drives `r`, owned by `owner`, step by step until it is done, a service
    /// cannot be reached, or another driver takes it. At HOLDING, the driver
    /// that created the reservation takes the holds (`fresh`); any other
    /// driver found it interrupted and compensates.
    async fn drive(
        &self,
        mut r: Reservation,
        owner: &str,
        deadline: Deadline,
        fresh: bool,
    ) -> Result<Reservation, Error> {
        // Set when the call must fail with UNAVAILABLE even once the saga is done.
        let mut unavailable: Option<String> = None;
        loop {
            let next = match r.step {
                Step::Done => break,
                Step::Holding if fresh => {
                    let (next, why) = self.take_holds(&r, deadline).await?;
                    unavailable = why;
                    next
                }
                Step::Holding => Next::Move(Move::compensate(
                    "interrupted before both parts were held; nothing was booked",
                )),
                Step::Compensating => self.release_all(&r, Deadline::after(self.settings.call_timeout)).await.map_or_else(
                    |part| Next::Stop(Some(format!("the {part} service is unavailable; nothing was booked, and what was held will be released when it is back"))),
                    |()| Next::Move(Move::finish(State::Failed, None)),
                ),
                Step::Confirming => self.confirm_all(&r, deadline).await,
                Step::Cancelling => self.release_all(&r, Deadline::after(self.settings.call_timeout)).await.map_or_else(
                    |part| Next::Stop(Some(format!("the {part} service is unavailable; the cancellation will be finished when it is back"))),
                    |()| Next::Move(Move::finish(State::Cancelled, None)),
                ),
            };
            let mv = match next {
                Next::Move(mv) => mv,
                Next::Stop(why) => {
                    let last_error = why.as_deref().or(unavailable.as_deref());
                    self.store.stop(&r.id, owner, last_error, self.clock.now()).await?;
                    return match why.or(unavailable) {
                        Some(why) => Err(Error::Unavailable(why)),
                        None => self.store.get(&r.id).await,
                    };
                }
            };
            let to = Transition {
                step: mv.step,
                state: mv.state,
                failure_reason: mv.reason.as_deref(),
                total: mv.total,
            };
            let moved = self.store.advance(&r.id, r.step, owner, to, self.clock.now()).await?;
            r = self.store.get(&r.id).await?;
            if !moved {
                return Ok(r); // another driver has it now
            }
            match mv.step {
                Step::Compensating => self.crash_at(CrashPoint::Compensating)?,
                Step::Confirming => self.crash_at(CrashPoint::Confirming)?,
                _ => {}
            }
        }
        match unavailable {
            Some(why) => Err(Error::Unavailable(why)),
            None => Ok(r),
        }
    }

    /// Takes both holds at once, recording each price as soon as it is known;
    /// decides the next step, and why the call must fail if a service was unreachable.
    async fn take_holds(&self, r: &Reservation, deadline: Deadline) -> Result<(Next, Option<String>), Error> {
        let flight = async {
            let Some(f) = &r.flight else { return Ok(None) };
            let outcome = self.clients.hold_seats(f, deadline).await;
            self.record(r, Part::Flight, &outcome).await?;
            Ok::<_, Error>(Some(outcome))
        };
        let hotel = async {
            let Some(h) = &r.hotel else { return Ok(None) };
            let outcome = self.clients.hold_rooms(h, deadline).await;
            self.record(r, Part::Hotel, &outcome).await?;
            Ok::<_, Error>(Some(outcome))
        };
        let (flight, hotel) = tokio::join!(flight, hotel);
        let (mut flight, hotel) = (flight?, hotel?);
        if let (Some(f), Some(Outcome::Refused(refusal)), Some(Outcome::Done(_))) = (&r.flight, &flight, &hotel)
            && refusal.sold_out
        {
            flight = Some(self.wait_for_seats(r, f, deadline).await?);
        }
        let parts = [("flight", flight), ("hotel", hotel)];
        let refusals: Vec<String> = parts
            .iter()
            .filter_map(|(part, o)| match o {
                Some(Outcome::Refused(why)) => Some(format!("the {part} was refused: {why}")),
                _ => None,
            })
            .collect();
        if !refusals.is_empty() {
            return Ok((Next::Move(Move::compensate(refusals.join("; "))), None));
        }
        if let Some((part, _)) = parts.iter().find(|(_, o)| matches!(o, Some(Outcome::Unreachable(_)))) {
            let why = format!("the {part} service is unavailable; nothing was booked");
            return Ok((Next::Move(Move::compensate(why.clone())), Some(why)));
        }
        self.crash_at(CrashPoint::Held)?;
        let held = |o: &Option<Outcome<Held>>| match o {
            Some(Outcome::Done(h)) => Some(*h),
            _ => None,
        };
        let now = self.clock.now();
        let min = self.settings.min_hold_ttl_at_pivot;
        for (part, outcome) in &parts {
            if let Some(h) = held(outcome)
                && !domain::lasts(h.expires, now, min)
            {
                tracing::warn!(reservation = %r.id, part, "a hold would expire too soon after the pivot; compensating");
                let why =
                    format!("the {part} hold would expire too soon to be sure it is confirmed; nothing was booked");
                return Ok((Next::Move(Move::compensate(why)), None));
            }
        }
        let price = |o: &Option<Outcome<Held>>| held(o).map(|h| h.price);
        Ok(match domain::total(price(&parts[0].1), price(&parts[1].1)) {
            Ok(_) => (
                Next::Move(Move {
                    step: Step::Confirming,
                    state: State::Pending,
                    reason: None,
                    total: None,
                }),
                None,
            ),
            Err(why) => (Next::Move(Move::compensate(why)), None),
        })
    }

    /// A bundle that holds its room but was refused seats for lack of them
    /// retries the seats — at most [`SEAT_RETRIES`] times in all — while other
    /// sagas on the same flight really hold seats they may give back (see
    /// `Store::seats_in_flux`), and once more after they settle. Only this way
    /// round: a bundle holding seats but refused rooms gives its seats up at once, and a bundle waiting
    /// like this one is not waited for. The rooms thus take precedence, as in a
    /// fixed lock order, so bundles racing for the last seats and rooms cannot
    /// each sit on what the other needs and all fail: as many bundles confirm
    /// as the scarcer inventory allows. A flight that is simply sold out costs
    /// one query and one more hold. Why, at length: docs/architecture.md,
    /// "The seat-retry rule".
    async fn wait_for_seats(
        &self,
        r: &Reservation,
        flight: &FlightBooking,
        deadline: Deadline,
    ) -> Result<Outcome<Held>, Error> {
        let mut pause = Duration::from_millis(10);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let in_flux = self.store.seats_in_flux(&flight.flight_id, &r.id).await?;
            let outcome = self.clients.hold_seats(flight, deadline).await;
            self.record(r, Part::Flight, &outcome).await?;
            let still_sold_out = matches!(&outcome, Outcome::Refused(refusal) if refusal.sold_out);
            if !still_sold_out || !in_flux || attempt >= SEAT_RETRIES || deadline.remaining() <= pause {
                return Ok(outcome);
            }
            tokio::time::sleep(jitter(pause)).await;
            pause = (pause * 2).min(Duration::from_millis(100));
        }
    }

    /// Records the price and expiry of a hold just taken.
    async fn record(&self, r: &Reservation, part: Part, outcome: &Outcome<Held>) -> Result<(), Error> {
        if let Outcome::Done(held) = outcome {
            self.store.record_hold(&r.id, part, *held, self.clock.now()).await?;
        }
        Ok(())
    }

    /// Confirms both holds, retrying until they succeed or `deadline` passes.
    async fn confirm_all(&self, r: &Reservation, deadline: Deadline) -> Next {
        let (flight, hotel) = tokio::join!(
            self.confirm(Part::Flight, r.flight.as_ref().map(|f| &f.hold_id), deadline),
            self.confirm(Part::Hotel, r.hotel.as_ref().map(|h| &h.hold_id), deadline),
        );
        for (part, outcome) in [("flight", &flight), ("hotel", &hotel)] {
            if let Outcome::Refused(why) = outcome {
                return Next::Move(Move::compensate(format!(
                    "the {part} hold could not be confirmed: {why}"
                )));
            }
        }
        if flight != Outcome::Done(()) || hotel != Outcome::Done(()) {
            return Next::Stop(None); // recovery keeps confirming
        }
        // Every part present must have its recorded price: a total that quietly
        // left one out would charge less than was booked.
        let unpriced =
            r.flight.as_ref().is_some_and(|f| f.price.is_none()) || r.hotel.as_ref().is_some_and(|h| h.price.is_none());
        if unpriced {
            tracing::error!(reservation = %r.id, "a held part has no recorded price; compensating");
            return Next::Move(Move::compensate(
                "the price of a part could not be established".to_owned(),
            ));
        }
        match domain::total(
            r.flight.as_ref().and_then(|f| f.price),
            r.hotel.as_ref().and_then(|h| h.price),
        ) {
            Ok(total) => Next::Move(Move::finish(State::Confirmed, Some(total))),
            Err(why) => Next::Move(Move::compensate(why)),
        }
    }

    /// Releases every hold of `r` (a tombstone for one never taken); `Err` names
    /// a service that could not be reached.
    async fn release_all(&self, r: &Reservation, deadline: Deadline) -> Result<(), &'static str> {
        let (flight, hotel) = tokio::join!(
            self.release(Part::Flight, r.flight.as_ref().map(|f| &f.hold_id), deadline),
            self.release(Part::Hotel, r.hotel.as_ref().map(|h| &h.hold_id), deadline),
        );
        for (part, outcome) in [("flight", flight), ("hotel", hotel)] {
            match outcome {
                Outcome::Done(()) => {}
                // Releases are idempotent and accept unknown ids, so a refusal means
                // something is wrong (credentials, say). The inventory may still be
                // taken: stop, and let recovery try again, rather than call it released.
                Outcome::Refused(why) => {
                    tracing::error!(reservation = %r.id, part, %why, "a release was refused; will retry");
                    return Err(part);
                }
                Outcome::Unreachable(_) => return Err(part),
            }
        }
        Ok(())
    }

    /// Confirms one part's hold, if the reservation has that part.
    async fn confirm(&self, part: Part, hold: Option<&HoldId>, deadline: Deadline) -> Outcome<()> {
        match hold {
            Some(hold) => self.clients.confirm(part, hold, deadline, Retry::UntilDeadline).await,
            None => Outcome::Done(()),
        }
    }

    /// Releases one part's hold, if the reservation has that part.
    async fn release(&self, part: Part, hold: Option<&HoldId>, deadline: Deadline) -> Outcome<()> {
        match hold {
            Some(hold) => self.clients.release(part, hold, deadline).await,
            None => Outcome::Done(()),
        }
    }

    /// Re-reads `r` every [`POLL`] while `busy` holds, until `deadline`.
    async fn wait_while(
        &self,
        mut r: Reservation,
        deadline: Deadline,
        busy: impl Fn(&Reservation) -> bool,
    ) -> Result<Reservation, Error> {
        while busy(&r) && deadline.remaining() > POLL {
            tokio::time::sleep(POLL).await;
            r = self.store.get(&r.id).await?;
        }
        Ok(r)
    }

    fn lease<'a>(&self, owner: &'a str) -> Lease<'a> {
        Lease {
            owner,
            until: self.clock.now().plus(self.settings.lease),
        }
    }

    /// The test seam: a crash right here, if configured.
    fn crash_at(&self, point: CrashPoint) -> Result<(), Error> {
        if self.settings.crash_after == Some(point) {
            tracing::warn!(?point, "injected crash");
            return Err(Error::Crashed);
        }
        Ok(())
    }
}

/// A fresh lease owner: one per call or recovery attempt.
fn new_owner() -> String {
    uuid::Uuid::new_v4().to_string()
}
