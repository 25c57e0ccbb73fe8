//! The seat-retry rule (docs/architecture.md, "The seat-retry rule"): how a
//! bundle that holds its rooms but was refused seats competes for the last
//! seats with other sagas on the same flight.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use travel::deadline::Deadline;
use travel::retry::Backoff;

use super::Saga;
use super::holds::Holds;
use crate::clients::{Held, Outcome};
use crate::domain::{FlightBooking, Part, Reservation};
use crate::error::Error;
use crate::metrics::Work;

/// Most HoldSeats retries of a bundle that holds its rooms and was refused
/// seats while other sagas hold seats on the flight (about 2 s of backoff).
pub const SEAT_RETRIES: u32 = 20;

/// Waits between seat retries: 10 ms, doubling up to 100 ms, jittered.
const SEAT_BACKOFF: Backoff = Backoff::new(Duration::from_millis(10), Duration::from_millis(150)).at_most(SEAT_RETRIES);

/// The first seat holds this process has sent and not yet recorded, by
/// flight: seats the flight service may have granted that `Store::seats_in_flux`
/// cannot see yet, because their price is not recorded. Without it, a bundle
/// waiting for seats could see nothing in flux, give up its room, and leave a
/// bundle whose seats were just granted to be refused the room and give the
/// seats back: one confirmed bundle fewer than the inventory allows. A waiter's
/// own retries are not counted, so waiters never wait for each other.
#[derive(Debug, Clone, Default)]
pub(super) struct SeatHoldsSent(Arc<Mutex<HashMap<String, usize>>>);

/// One seat hold counted in [`SeatHoldsSent`] until it is dropped.
pub(super) struct Sent {
    holds: SeatHoldsSent,
    flight_id: String,
}

impl SeatHoldsSent {
    /// Counts a seat hold on `flight_id` until the returned guard is dropped
    /// (once its outcome is recorded).
    pub(super) fn enter(&self, flight_id: &str) -> Sent {
        *self.lock().entry(flight_id.to_owned()).or_default() += 1;
        Sent {
            holds: self.clone(),
            flight_id: flight_id.to_owned(),
        }
    }

    /// Whether a seat hold on `flight_id` is sent and not yet recorded.
    fn any(&self, flight_id: &str) -> bool {
        self.lock().get(flight_id).is_some_and(|n| *n > 0)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, usize>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for Sent {
    fn drop(&mut self) {
        let mut counts = self.holds.lock();
        if let Some(n) = counts.get_mut(&self.flight_id) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                counts.remove(&self.flight_id);
            }
        }
    }
}

impl Saga {
    /// A bundle that holds its room but was refused seats for lack of them
    /// retries the seats ([`Saga::wait_for_seats`]); `holds` then has the last answer.
    pub(super) async fn retry_seats(
        &self,
        r: &Reservation,
        holds: &mut Holds,
        deadline: Deadline,
    ) -> Result<(), Error> {
        let Some(flight) = &r.flight else { return Ok(()) };
        let seats_sold_out = matches!(holds.of(Part::Flight), Some(Outcome::Refused(refusal)) if refusal.sold_out);
        let rooms_held = matches!(holds.of(Part::Hotel), Some(Outcome::Done(_)));
        if seats_sold_out && rooms_held {
            let waiting = self.wait_for_seats(r, flight, deadline);
            let outcome = self.timed(Work::RetrySeats, &r.id, waiting).await?;
            holds.set(Part::Flight, outcome);
        }
        Ok(())
    }

    /// A bundle that holds its room but was refused seats for lack of them
    /// retries the seats — at most [`SEAT_RETRIES`] times in all — while other
    /// sagas on the same flight really hold seats they may give back (see
    /// `Store::seats_in_flux`, and [`SeatHoldsSent`] for the holds this process
    /// has sent but not yet recorded), and once more after they settle. Only this way
    /// round: a bundle holding seats but refused rooms gives its seats up at once, and a bundle waiting
    /// like this one is not waited for. The rooms thus take precedence, as in a
    /// fixed lock order, so bundles racing for the last seats and rooms cannot
    /// each sit on what the other needs and all fail: as many bundles confirm
    /// as the scarcer inventory allows. A flight that is simply sold out costs
    /// one query and one more hold while no other saga is booking it; under a
    /// steady stream of bookings for it, a waiter may retry up to
    /// [`SEAT_RETRIES`] times (about 2 s, its rooms held meanwhile). Why, at
    /// length: docs/architecture.md, "The seat-retry rule".
    async fn wait_for_seats(
        &self,
        r: &Reservation,
        flight: &FlightBooking,
        deadline: Deadline,
    ) -> Result<Outcome<Held>, Error> {
        let mut retries = SEAT_BACKOFF.retries(deadline);
        loop {
            let in_flux = self.seat_holds_sent.any(&flight.flight_id)
                || self.store.seats_in_flux(&flight.flight_id, &r.id).await?;
            let holding = self.clients.flight().hold_seats(flight, deadline);
            let outcome = self.timed(Work::HoldFlight, &r.id, holding).await;
            self.record(r, Part::Flight, &outcome).await?;
            let still_sold_out = matches!(&outcome, Outcome::Refused(refusal) if refusal.sold_out);
            // No wait the budget cannot cover: the last answer stands instead.
            let no_time = deadline.remaining() <= retries.next_pause();
            if !still_sold_out || !in_flux || no_time || !retries.retry().await {
                return Ok(outcome);
            }
        }
    }
}
