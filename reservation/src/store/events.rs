//! The events the reservation service applies, in SQL: a flight the airline
//! cancelled, recorded with the event in the inbox, and every CONFIRMED
//! reservation on it set to be cancelled (step CANCELLING, its lease run out,
//! so that the recovery drives the cancellation: persisted, recoverable).

use travel::db::Write as _;
use travel::events::{Event, inbox};
use travel::types::UnixMillis;

use super::Store;
use crate::domain::cancelled;
use crate::error::Error;

/// A FlightCancelled event, as the store applies it.
#[derive(Debug, Clone)]
pub struct FlightCancellation<'a> {
    /// The event (its id goes into the inbox).
    pub event: &'a Event,
    /// The flight cancelled.
    pub flight_id: &'a str,
    /// Why, as the airline said.
    pub reason: &'a str,
}

/// The lease owner of a reservation set to be cancelled by an event: nobody
/// drives it yet, and its lease has run out, so the next recovery pass takes it.
const NO_DRIVER: &str = "flight-cancelled";

/// Sets every CONFIRMED reservation at rest on a cancelled flight to be
/// cancelled; `$1` is now.
const CANCEL_ON_CANCELLED_FLIGHTS: &str = "UPDATE reservations SET step = 'CANCELLING', cancel_reason = $2, \
     lease_owner = $3, lease_until_ms = 0, updated_ms = $1 \
     WHERE state = 'CONFIRMED' AND step = 'DONE' AND flight_id IN (SELECT flight_id FROM cancelled_flights)";

impl Store {
    /// Applies a FlightCancelled once: records the event in the inbox and the
    /// flight as cancelled, and sets every CONFIRMED reservation on it to be
    /// cancelled, all in one transaction. `None` if the event was applied
    /// before (nothing changes); otherwise how many reservations it set.
    pub async fn apply_flight_cancelled(
        &self,
        cancellation: &FlightCancellation<'_>,
        now: UnixMillis,
    ) -> Result<Option<u64>, Error> {
        self.in_span("reservation.apply_flight_cancelled", async {
            let mut tx = self.db.begin_write().await?;
            if !inbox::first_time(&mut tx, cancellation.event, now).await? {
                tx.rollback().await?;
                return Ok(None);
            }
            sqlx::query(
                "INSERT INTO cancelled_flights (flight_id, reason, event_id, cancelled_ms) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (flight_id) DO NOTHING",
            )
            .bind(cancellation.flight_id)
            .bind(cancellation.reason)
            .bind(&cancellation.event.id)
            .bind(now.unix_millis())
            .execute(&mut *tx)
            .await?;
            let set = sqlx::query(CANCEL_ON_CANCELLED_FLIGHTS)
                .bind(now.unix_millis())
                .bind(cancelled::FLIGHT_CANCELLED)
                .bind(NO_DRIVER)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            tx.commit().await?;
            Ok(Some(set))
        })
        .await
    }

    /// Sets to be cancelled every CONFIRMED reservation on a flight cancelled
    /// before it was confirmed (its checkout was past the pivot when the
    /// event arrived); how many. Each recovery pass runs it first.
    pub async fn cancel_on_cancelled_flights(&self, now: UnixMillis) -> Result<u64, Error> {
        self.in_span("reservation.cancel_on_cancelled_flights", async {
            let set = sqlx::query(CANCEL_ON_CANCELLED_FLIGHTS)
                .bind(now.unix_millis())
                .bind(cancelled::FLIGHT_CANCELLED)
                .bind(NO_DRIVER)
                .write(&self.db)
                .await?
                .rows_affected();
            Ok(set)
        })
        .await
    }
}
