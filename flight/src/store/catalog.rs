//! The flight catalog in SQL: adding a flight (idempotent by request id),
//! reading one back, and cancelling or rescheduling one (with its event, in
//! the outbox, numbered by the flight's `event_sequence`).

use tracing::Instrument as _;
use travel::request_store::{first_created, insert_once};
use travel::types::{RequestId, UnixMillis};

use travel::events::{Event, outbox};

use super::{FLIGHT_COLUMNS, FlightRow, Store, fetch_flight, lock_flight};
use crate::domain::{CancelReason, Flight, NewFlight, Reschedule};
use crate::error::Error;
use travel::hold::store::Tx;

impl Store {
    /// Adds a flight; with a request id, a retry returns the flight created first.
    pub async fn create_flight(&self, new: &NewFlight, id: &str, now: UnixMillis) -> Result<Flight, Error> {
        async {
            let mut tx = self.db.begin_write().await?;
            let insert = sqlx::query(
                "INSERT INTO flights (id, flight_number, origin, destination, departure_date, departure_ms, \
                 arrival_ms, price_minor, currency, capacity, available, request_id, request_hash, created_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11, $12, $13) \
                 ON CONFLICT (request_id) DO NOTHING",
            )
            .bind(id)
            .bind(new.flight_number.as_str())
            .bind(new.origin.as_str())
            .bind(new.destination.as_str())
            .bind(new.departure.date().iso())
            .bind(new.departure.unix_millis())
            .bind(new.arrival.unix_millis())
            .bind(new.seat_price.amount_minor)
            .bind(new.seat_price.currency.as_str())
            .bind(i64::from(new.capacity));
            let inserted = insert_once(&mut tx, insert, new.request_id.as_ref(), new.fingerprint(), now).await?;
            let flight = if inserted {
                fetch_flight(&mut tx, id).await?
            } else {
                // The request id was seen before: a retry gets the first result.
                let first = first_created(&mut tx, "flights", new.request_id.as_ref(), &new.fingerprint()).await?;
                if !first.same_request {
                    return Err(Error::RequestIdReused(first.request_id));
                }
                fetch_flight(&mut tx, &first.id).await?
            };
            tx.commit().await?;
            flight.ok_or_else(|| Error::FlightNotFound(id.to_owned()))
        }
        .instrument(self.db.span("flight.create_flight"))
        .await
    }

    /// True when a flight was already created with `request_id`.
    pub async fn request_seen(&self, request_id: Option<&RequestId>) -> Result<bool, Error> {
        let Some(request_id) = request_id else { return Ok(false) };
        let seen: Option<(String,)> = sqlx::query_as("SELECT id FROM flights WHERE request_id = $1")
            .bind(request_id.as_str())
            .fetch_optional(self.db.pool())
            .instrument(self.db.span("flight.request_seen"))
            .await?;
        Ok(seen.is_some())
    }

    /// Cancels flight `id` at `now` for `reason` and records, in the same
    /// transaction, the event `event(&flight, sequence)` makes of the cancelled
    /// flight (`sequence`: the flight's next event number).
    /// A flight already cancelled is returned unchanged, with no second event;
    /// one that has departed (by `now`) is refused.
    pub async fn cancel_flight(
        &self,
        id: &str,
        reason: &CancelReason,
        now: UnixMillis,
        event: impl FnOnce(&Flight, i64) -> Event,
    ) -> Result<Flight, Error> {
        async {
            let mut tx = self.db.begin_write().await?;
            let flight = lock_flight(&mut tx, self.db.dialect(), id)
                .await?
                .ok_or_else(|| Error::FlightNotFound(id.to_owned()))?;
            if flight.cancelled.is_some() {
                tx.rollback().await?;
                return Ok(flight);
            }
            if flight.departure <= now {
                tx.rollback().await?;
                return Err(Error::FlightDeparted(id.to_owned()));
            }
            let (sequence,): (i64,) = sqlx::query_as(
                "UPDATE flights SET cancelled_ms = $1, cancel_reason = $2, event_sequence = event_sequence + 1 \
                 WHERE id = $3 RETURNING event_sequence",
            )
            .bind(now.unix_millis())
            .bind(reason.as_str())
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
            commit_with_event(tx, id, now, |flight| event(flight, sequence)).await
        }
        .instrument(self.db.span("flight.cancel_flight"))
        .await
    }

    /// Moves flight `id` to `change`'s times at `now` and records, in the same
    /// transaction, the event `event(&previous, &flight, sequence)` makes of the
    /// change. A flight that already has those times is returned unchanged, with
    /// no event. Refused, in this order: an unknown flight, a cancelled one, one
    /// that has departed (by `now`, at its current time), a new departure that
    /// is not after `now`.
    pub async fn reschedule_flight(
        &self,
        id: &str,
        change: &Reschedule,
        now: UnixMillis,
        event: impl FnOnce(&Flight, &Flight, i64) -> Event,
    ) -> Result<Flight, Error> {
        async {
            let mut tx = self.db.begin_write().await?;
            let previous = lock_flight(&mut tx, self.db.dialect(), id)
                .await?
                .ok_or_else(|| Error::FlightNotFound(id.to_owned()))?;
            if previous.cancelled.is_some() {
                tx.rollback().await?;
                return Err(Error::FlightCancelled(id.to_owned()));
            }
            if previous.departure <= now {
                tx.rollback().await?;
                return Err(Error::FlightDeparted(id.to_owned()));
            }
            if change.departure <= now {
                tx.rollback().await?;
                return Err(Error::DepartureInPast);
            }
            if (previous.departure, previous.arrival) == (change.departure, change.arrival) {
                tx.rollback().await?;
                return Ok(previous);
            }
            let (sequence,): (i64,) = sqlx::query_as(
                "UPDATE flights SET departure_date = $1, departure_ms = $2, arrival_ms = $3, \
                 event_sequence = event_sequence + 1 WHERE id = $4 RETURNING event_sequence",
            )
            .bind(change.departure.date().iso())
            .bind(change.departure.unix_millis())
            .bind(change.arrival.unix_millis())
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
            commit_with_event(tx, id, now, |flight| event(&previous, flight, sequence)).await
        }
        .instrument(self.db.span("flight.reschedule_flight"))
        .await
    }

    /// One flight.
    pub async fn get_flight(&self, id: &str) -> Result<Flight, Error> {
        let sql = sqlx::AssertSqlSafe(format!("{FLIGHT_COLUMNS} WHERE id = $1"));
        let row: Option<FlightRow> = sqlx::query_as(sql)
            .bind(id)
            .fetch_optional(self.db.pool())
            .instrument(self.db.span("flight.get_flight"))
            .await?;
        row.map(FlightRow::into_domain)
            .transpose()?
            .ok_or_else(|| Error::FlightNotFound(id.to_owned()))
    }
}

/// Reads flight `id` back after a change made in `tx`, records the event
/// `event` makes of it in the outbox in the same transaction, and commits.
async fn commit_with_event(
    mut tx: Tx,
    id: &str,
    now: UnixMillis,
    event: impl FnOnce(&Flight) -> Event,
) -> Result<Flight, Error> {
    let flight = fetch_flight(&mut tx, id)
        .await?
        .ok_or_else(|| Error::FlightNotFound(id.to_owned()))?;
    outbox::record(&mut tx, &event(&flight), now).await?;
    tx.commit().await?;
    Ok(flight)
}
