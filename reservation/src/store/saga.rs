//! The saga's writes: a hold's price and expiry, a step changed (with the
//! reservation's event in the outbox when the saga finishes), a saga
//! claimed, a cancellation begun, a driver stopping; and the seat-retry rule's
//! one query ([`Store::seats_in_flux`]).

use travel::db::Write as _;
use travel::events::{Event, outbox};
use travel::types::UnixMillis;

use super::row::{COLUMNS, Row};
use super::{Lease, Store, Transition};
use crate::clients::Held;
use crate::domain::{Part, Reservation, Step};
use crate::error::Error;

/// What is recorded when a driver stops at the confirm step without a message
/// (the confirm calls did not get through before its budget ran out).
const CONFIRM_STOPPED: &str =
    "the flight or hotel service could not be reached to confirm the holds; confirming is retried";

impl Store {
    /// Records the price a service gave a part's hold, and when the hold
    /// expires, while the saga is holding.
    pub async fn record_hold(&self, id: &str, part: Part, held: Held, now: UnixMillis) -> Result<(), Error> {
        self.in_span("reservation.record_hold", async {
            let sql = match part {
                Part::Flight => {
                    "UPDATE reservations SET flight_price_minor = $1, flight_currency = $2, flight_hold_expires_ms = $3, \
                     updated_ms = $4 WHERE id = $5 AND step = 'HOLDING'"
                }
                Part::Hotel => {
                    "UPDATE reservations SET hotel_price_minor = $1, hotel_currency = $2, hotel_hold_expires_ms = $3, \
                     updated_ms = $4 WHERE id = $5 AND step = 'HOLDING'"
                }
            };
            sqlx::query(sql)
                .bind(held.price.amount_minor)
                .bind(held.price.currency.as_str())
                .bind(held.expires.unix_millis())
                .bind(now.unix_millis())
                .bind(id)
                .write(&self.db)
                .await?;
            Ok(())
        })
        .await
    }

    /// Moves a reservation from step `from` as `to` says, if it is still at
    /// `from` and `owner` still drives it; false if not (another actor has it).
    /// A move that finishes the saga (step DONE) records, in the same
    /// transaction, the event `finished` makes of the finished reservation
    /// (ReservationConfirmed, ReservationCancelled or ReservationFailed).
    pub async fn advance(
        &self,
        id: &str,
        from: Step,
        owner: &str,
        to: Transition<'_>,
        now: UnixMillis,
        finished: impl FnOnce(&Reservation) -> Option<Event>,
    ) -> Result<bool, Error> {
        self.in_span("reservation.advance", async {
            let update = sqlx::query(
                "UPDATE reservations SET step = $1, state = $2, failure_reason = COALESCE($3, failure_reason), \
                 total_minor = COALESCE($4, total_minor), total_currency = COALESCE($5, total_currency), \
                 updated_ms = $6 WHERE id = $7 AND step = $8 AND lease_owner = $9",
            )
            .bind(to.step.as_str())
            .bind(to.state.as_str())
            .bind(to.failure_reason.map(str::to_owned))
            .bind(to.total.map(|t| t.amount_minor))
            .bind(to.total.map(|t| t.currency.as_str().to_owned()))
            .bind(now.unix_millis())
            .bind(id)
            .bind(from.as_str())
            .bind(owner);
            if to.step != Step::Done {
                // One statement, committed on its own (no event to go with it).
                return Ok(update.write(&self.db).await?.rows_affected() == 1);
            }
            let mut tx = self.db.begin_write().await?;
            let changed = update.execute(&mut *tx).await?.rows_affected() == 1;
            if changed {
                let sql = sqlx::AssertSqlSafe(format!("{COLUMNS} WHERE id = $1"));
                let row: Row = sqlx::query_as(sql).bind(id).fetch_one(&mut *tx).await?;
                if let Some(event) = finished(&row.into_domain()?) {
                    outbox::record(&mut tx, &event, now).await?;
                }
            }
            tx.commit().await?;
            Ok(changed)
        })
        .await
    }

    /// Takes over an unfinished saga whose lease has run out at `now`, at
    /// whatever step it is; false if it is done or someone else holds it.
    pub async fn claim(&self, id: &str, lease: Lease<'_>, now: UnixMillis) -> Result<bool, Error> {
        self.in_span("reservation.claim", async {
            let claimed = sqlx::query(
                "UPDATE reservations SET lease_owner = $1, lease_until_ms = $2 \
                 WHERE id = $3 AND step <> 'DONE' AND lease_until_ms <= $4",
            )
            .bind(lease.owner)
            .bind(lease.until.unix_millis())
            .bind(id)
            .bind(now.unix_millis())
            .write(&self.db)
            .await?
            .rows_affected();
            Ok(claimed == 1)
        })
        .await
    }

    /// Starts cancelling a CONFIRMED reservation (step CANCELLING, owned by
    /// `lease`) for the reason `why`; false if it is not CONFIRMED and at rest.
    pub async fn begin_cancel(&self, id: &str, lease: Lease<'_>, why: &str, now: UnixMillis) -> Result<bool, Error> {
        self.in_span("reservation.begin_cancel", async {
            let started = sqlx::query(
                "UPDATE reservations SET step = 'CANCELLING', lease_owner = $1, lease_until_ms = $2, updated_ms = $3, \
                 cancel_reason = $5 WHERE id = $4 AND state = 'CONFIRMED' AND step = 'DONE'",
            )
            .bind(lease.owner)
            .bind(lease.until.unix_millis())
            .bind(now.unix_millis())
            .bind(id)
            .bind(why)
            .write(&self.db)
            .await?
            .rows_affected();
            Ok(started == 1)
        })
        .await
    }

    /// A driver `owner` stopping without finishing the saga: records why
    /// (`None`: its confirm calls did not get through), for operators, and
    /// gives up its lease so that the next recovery pass (or a retry) may take
    /// the saga over at once — in one update, and only while `owner` still
    /// drives it, so that a driver that lost the saga cannot write over the
    /// row of the one that has it now.
    pub async fn stop(&self, id: &str, owner: &str, why: Option<&str>, now: UnixMillis) -> Result<(), Error> {
        self.in_span("reservation.stop", async {
            // Expired as of now, not of the epoch: recovery takes the longest-waiting
            // sagas first, so one stuck on a service that is down goes to the back of
            // the queue instead of starving the others.
            sqlx::query(
                "UPDATE reservations SET last_error = $1, last_error_ms = $2, lease_until_ms = $2 \
                 WHERE id = $3 AND lease_owner = $4",
            )
            .bind(why.unwrap_or(CONFIRM_STOPPED))
            .bind(now.unix_millis())
            .bind(id)
            .bind(owner)
            .write(&self.db)
            .await?;
            Ok(())
        })
        .await
    }

    /// True when a saga other than `except` on `flight_id` really holds seats
    /// it may give back: its seat hold was taken (its price is recorded) and it
    /// has not passed the pivot or finished releasing (HOLDING or COMPENSATING).
    /// A saga that holds no seats — refused, not yet answered, or a bundle
    /// waiting for seats itself (see `Saga::wait_for_seats`) — does not count.
    pub async fn seats_in_flux(&self, flight_id: &str, except: &str) -> Result<bool, Error> {
        self.in_span("reservation.seats_in_flux", async {
            // Read where the writes are: on SQLite, a hold recorded by another
            // saga a moment ago may still wait for its group's COMMIT, and a
            // read on the pool would not see it yet (nothing is written here).
            let mut tx = self.db.begin_write().await?;
            let (n,): (i64,) = sqlx::query_as(
                "SELECT CAST(COUNT(*) AS BIGINT) FROM reservations WHERE flight_id = $1 AND id <> $2 \
                 AND step IN ('HOLDING', 'COMPENSATING') AND flight_price_minor IS NOT NULL",
            )
            .bind(flight_id)
            .bind(except)
            .fetch_one(&mut *tx)
            .await?;
            tx.rollback().await?;
            Ok(n > 0)
        })
        .await
    }
}
