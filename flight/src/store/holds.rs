//! The seat-hold life cycle in SQL: taking seats here; confirm, release and
//! expiry run the kit's hold statements (`travel::hold::store`, added to
//! [`Store`] by `hold_store_methods!`) over `seat_holds`, under the flight's
//! lock, giving seats back to the flight.

use std::time::Duration;

use sqlx::FromRow;
use tracing::Instrument as _;
use travel::db::Database;
use travel::hold::store::{self as holds, AnyQuery, HoldSpans, HoldStore, HoldTable, Tx};
use travel::hold::{HoldMetrics, Holds, StoredHold};
use travel::stored::{count, overflow};
use travel::types::UnixMillis;

use super::{Store, lock_flight};
use crate::domain::{Hold, HoldRequest, Seats};
use crate::error::{ERROR_DOMAIN, Error};

/// A stored seat hold.
#[derive(FromRow)]
pub struct SeatHoldRow {
    #[sqlx(flatten)]
    stored: StoredHold,
    flight_id: Option<String>,
    seats: i64,
}

impl HoldStore for Store {
    type Booking = Seats;
    type Row = SeatHoldRow;
    type Error = Error;

    const TABLE: HoldTable = HoldTable {
        name: "seat_holds",
        columns: "hold_id, flight_id, seats, price_minor, currency, state, expires_ms",
        lock_key: "flight_id",
        tombstone: ("flight_id, seats", "NULL, 0"),
    };
    const HOLDS: Holds = Holds {
        noun: "seat hold",
        units: "seats",
        domain: ERROR_DOMAIN,
    };
    const SPANS: HoldSpans = HoldSpans {
        confirm: "flight.confirm_seats",
        release: "flight.release_seats",
        expire: "flight.expire_holds",
    };

    fn db(&self) -> &Database {
        &self.db
    }

    fn metrics(&self) -> &HoldMetrics {
        &self.holds
    }

    fn bind_booking<'q>(query: AnyQuery<'q>, seats: &Seats) -> AnyQuery<'q> {
        query.bind(seats.flight_id.clone()).bind(i64::from(seats.seats))
    }

    fn decode(row: SeatHoldRow) -> Result<Hold, sqlx::Error> {
        let seats = count(row.seats, "seats")?;
        let booking = row.flight_id.map(|flight_id| Seats { flight_id, seats });
        row.stored.into_hold(booking)
    }

    fn lock_key(booking: &Seats) -> &str {
        &booking.flight_id
    }

    async fn lock(&self, tx: &mut Tx, flight_id: &str) -> Result<(), Error> {
        lock_flight(tx, self.db.dialect(), flight_id).await.map(drop)
    }

    async fn give_back(tx: &mut Tx, flight_id: &str, taken: &[Seats]) -> Result<(), Error> {
        if taken.is_empty() {
            return Ok(());
        }
        sqlx::query("UPDATE flights SET available = available + $1 WHERE id = $2")
            .bind(taken.iter().map(|s| i64::from(s.seats)).sum::<i64>())
            .bind(flight_id)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }
}

impl Store {
    /// Takes seats under a hold id; a retry of the same hold returns it
    /// unchanged. A refusal is counted by its reason.
    pub async fn hold(&self, req: &HoldRequest, now: UnixMillis, ttl: Duration) -> Result<Hold, Error> {
        let held = self
            .take_seats(req, now, ttl)
            .instrument(self.db.span("flight.hold_seats"))
            .await;
        if let Some(reason) = held.as_ref().err().and_then(Error::hold_refusal) {
            self.holds.refused(reason);
        }
        held
    }

    async fn take_seats(&self, req: &HoldRequest, now: UnixMillis, ttl: Duration) -> Result<Hold, Error> {
        let mut tx = self.db.begin_write().await?;
        let flight = lock_flight(&mut tx, self.db.dialect(), &req.flight_id)
            .await?
            .ok_or_else(|| Error::FlightNotFound(req.flight_id.clone()))?;
        // Expired holds on this flight give their seats back before we count.
        let expired = holds::expire_all::<Self>(&mut tx, &req.flight_id, now).await?;
        let price = flight.seat_price.times(i64::from(req.seats)).ok_or_else(overflow)?;
        // A departed or cancelled flight takes no new hold; a retry of one
        // made before still gets its answer below.
        let departed = flight.departure <= now;
        let cancelled = flight.cancelled.is_some();
        let inserted = !departed
            && !cancelled
            && holds::insert_held::<Self>(&mut tx, &req.hold_id, &req.booking(), &price, now, ttl).await?;
        if !inserted {
            return match holds::retried(self, tx, &req.hold_id, &req.booking(), expired).await? {
                Some(existing) => Ok(existing),
                None if cancelled => Err(Error::FlightCancelled(req.flight_id.clone())),
                None if departed => Err(Error::FlightDeparted(req.flight_id.clone())),
                None => Err(Self::HOLDS.not_found(&req.hold_id).into()),
            };
        }
        let taken = sqlx::query("UPDATE flights SET available = available - $1 WHERE id = $2 AND available >= $1")
            .bind(i64::from(req.seats))
            .bind(&req.flight_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if taken == 0 {
            tx.rollback().await?;
            let available = self.get_flight(&req.flight_id).await.map(|f| f.available).unwrap_or(0);
            return Err(Error::NotEnoughSeats {
                flight_id: req.flight_id.clone(),
                requested: req.seats,
                available,
            });
        }
        holds::committed(self, tx, &req.hold_id, expired).await
    }
}

travel::hold_store_methods!(Store);
