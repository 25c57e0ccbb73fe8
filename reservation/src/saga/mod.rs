//! The checkout saga (docs/architecture.md, "The checkout saga"): PENDING with
//! deterministic hold ids first; holds in parallel; a refusal compensated by
//! releasing every hold; the pivot (CONFIRMING), after which the saga only moves
//! forward; CONFIRMED with the total from the prices the services returned.
//!
//! Every step is persisted before its work starts, by a conditional update on
//! the step being left and on the lease owner, so the same code drives a
//! checkout call, a cancellation, and the recovery of a saga a crash left behind.
//!
//! Here: the entry points and the loop that drives a saga from step to step.
//! Taking the holds and the pivot: [`holds`]; confirming and releasing:
//! [`steps`]; the seat-retry rule: [`contention`]; leases: [`lease`]; spans and
//! step timings: [`observe`]; test-only crash points: [`crash`].

mod contention;
mod crash;
mod holds;
mod lease;
mod observe;
mod steps;

use std::time::Duration;

use tracing::Instrument as _;
use travel::SharedClock;
use travel::deadline::Deadline;

use crate::clients::Clients;
use crate::domain::{Checkout, Reservation, State, Step, failure};
use crate::error::Error;
use crate::metrics::Metrics;
use crate::store::{Created, Store};
use lease::new_owner;

pub use contention::SEAT_RETRIES;
pub use crash::CrashPoint;
use steps::Next;

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
    /// Test seam: stop dead right after persisting this step.
    #[cfg(feature = "crash-points")]
    pub crash_after: Option<CrashPoint>,
}

/// Drives reservations through the saga.
#[derive(Debug, Clone)]
pub struct Saga {
    store: Store,
    clients: Clients,
    clock: SharedClock,
    settings: Settings,
    metrics: Metrics,
    seat_holds_sent: contention::SeatHoldsSent,
}

/// Who drives a saga: what it does with one it finds at HOLDING.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Driver {
    /// The call that has just created the reservation: it takes the holds.
    Creator,
    /// Any other (a cancellation, a recovery pass): a saga at HOLDING was
    /// interrupted, so it compensates.
    Successor,
}

impl Saga {
    /// A saga driver over `store` and `clients`, counting into `metrics`.
    pub fn new(store: Store, clients: Clients, clock: SharedClock, settings: Settings, metrics: Metrics) -> Self {
        Self {
            store,
            clients,
            clock,
            settings,
            metrics,
            seat_holds_sent: contention::SeatHoldsSent::default(),
        }
    }

    /// The store, for reads.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The clock that decides when leases run out.
    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }

    /// The service's domain metrics (recovery sets the backlog).
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
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
        let created = self
            .store
            .create(&id, user_id, &checkout, self.lease(&owner), self.clock.now())
            .await?;
        let reservation = match created {
            Created::New(reservation) => reservation,
            Created::Existing(reservation) => {
                return self
                    .wait_while(reservation, deadline, |r| r.state == State::Pending)
                    .await;
            }
        };
        self.crash_at(CrashPoint::Holding)?;
        self.drive(reservation, &owner, deadline, Driver::Creator).await
    }

    /// Cancels a reservation (whose owner the caller was checked to be), for
    /// the reason `why` (`domain::cancelled`).
    pub async fn cancel(
        &self,
        reservation: Reservation,
        why: &'static str,
        deadline: Deadline,
    ) -> Result<Reservation, Error> {
        let owner = new_owner();
        match (reservation.state, reservation.step) {
            (State::Cancelled, _) => Ok(reservation),
            (State::Confirmed, Step::Done) => {
                if !self
                    .store
                    .begin_cancel(&reservation.id, self.lease(&owner), why, self.clock.now())
                    .await?
                {
                    // Changed meanwhile (another cancel started): look again.
                    let again = self.store.get(&reservation.id).await?;
                    return Box::pin(self.cancel(again, why, deadline)).await;
                }
                self.crash_at(CrashPoint::Cancelling)?;
                let reservation = self.store.get(&reservation.id).await?;
                self.drive(reservation, &owner, deadline, Driver::Successor).await
            }
            (State::Confirmed, Step::Cancelling) => {
                let now = self.clock.now();
                if self.store.claim(&reservation.id, self.lease(&owner), now).await? {
                    let reservation = self.store.get(&reservation.id).await?;
                    self.drive(reservation, &owner, deadline, Driver::Successor).await
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
    /// as the services allow; `Ok(None)` if another driver has it. In a
    /// `saga.recover` span with the reservation id.
    pub async fn recover(&self, reservation: Reservation) -> Result<Option<Reservation>, Error> {
        let span = tracing::info_span!("saga.recover", reservation.id = %reservation.id);
        self.take_over(reservation).instrument(span).await
    }

    async fn take_over(&self, reservation: Reservation) -> Result<Option<Reservation>, Error> {
        let owner = new_owner();
        let now = self.clock.now();
        if !self.store.claim(&reservation.id, self.lease(&owner), now).await? {
            return Ok(None);
        }
        // Read again: it may have moved on between the scan and the claim.
        let reservation = self.store.get(&reservation.id).await?;
        let deadline = Deadline::after(self.settings.call_timeout);
        match self
            .drive(reservation.clone(), &owner, deadline, Driver::Successor)
            .await
        {
            Ok(r) => Ok(Some(r)),
            Err(Error::Unavailable(why)) => {
                tracing::info!(reservation = %reservation.id, %why, "recovery left a saga for the next pass");
                Ok(Some(self.store.get(&reservation.id).await?))
            }
            Err(e) => Err(e),
        }
    }

    /// Drives `r`, owned by `owner`, step by step until it is done, a service
    /// cannot be reached, or another driver takes it.
    async fn drive(
        &self,
        mut r: Reservation,
        owner: &str,
        deadline: Deadline,
        driver: Driver,
    ) -> Result<Reservation, Error> {
        // Set when the call must fail with UNAVAILABLE even once the saga is done.
        let mut unavailable: Option<String> = None;
        while r.step != Step::Done {
            // Each step's work in a span of its own (see `observe`).
            let span = observe::step_span(r.step, &r.id);
            let next = match r.step {
                Step::Done => break, // as the loop's condition says
                Step::Holding => match driver {
                    Driver::Creator => {
                        let (next, why) = self.take_holds(&r, deadline).instrument(span.clone()).await?;
                        unavailable = why;
                        next
                    }
                    Driver::Successor => Next::compensate(failure::INTERRUPTED),
                },
                Step::Compensating => self.compensate(&r).instrument(span.clone()).await,
                Step::Confirming => self.confirm_all(&r, deadline).instrument(span.clone()).await,
                Step::Cancelling => self.finish_cancel(&r).instrument(span.clone()).await,
            };
            span.record("saga.next", next.label());
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
            let moved = self
                .store
                .advance(
                    &r.id,
                    r.step,
                    owner,
                    mv.transition(),
                    self.clock.now(),
                    crate::convert::finished_event,
                )
                .await?;
            r = self.store.get(&r.id).await?;
            if !moved {
                return Ok(r); // another driver has it now
            }
            if mv.step == Step::Done {
                // Only the driver whose move this was gets here: counted once.
                self.metrics.finished(mv.state, r.failure_reason.as_deref());
            }
            self.crash_after(mv.step)?;
        }
        match unavailable {
            Some(why) => Err(Error::Unavailable(why)),
            None => Ok(r),
        }
    }
}
