//! All SQL of the flight service, the same statements for SQLite and PostgreSQL:
//! the store itself and the flight row lock here, the catalog, the search and
//! the seat holds in the submodules.
//!
//! Inventory rule: seats move only inside a write transaction that first changes
//! a hold row's state with a conditional update (the gate), then adjusts the
//! flight's `available` by exactly that hold's seats. Taking seats is one
//! conditional write (`available >= n`), never check-then-act. So, at all times,
//! `capacity = available + held + confirmed`.
//!
//! Lock order: every transaction that changes a hold or a flight's seats first
//! locks that one flight's row (`FOR NO KEY UPDATE` on PostgreSQL; SQLite's
//! `BEGIN IMMEDIATE` already admits one writer at a time), then touches hold
//! rows of that flight only. No transaction locks two flights, so writers
//! cannot deadlock; the sweeper expires at most a batch of one flight's holds
//! per transaction, so it never holds the write lock for long.
//! (docs/architecture.md, "Inventory rules".)

mod catalog;
mod holds;
mod search;

pub use travel::hold::store::DEFAULT_SWEEP_BATCH;

use sqlx::FromRow;
use tracing::Instrument as _;
use travel::db::{Database, Dialect};
use travel::hold::HoldMetrics;
use travel::hold::store::{Tx, row_lock};
use travel::stored::{count, money};
use travel::types::UnixMillis;

use crate::domain::{CancelReason, Cancellation, Flight};
use crate::error::Error;

/// The flight service's persistence.
#[derive(Debug, Clone)]
pub struct Store {
    db: Database,
    /// Counts holds as their changes commit.
    holds: HoldMetrics,
}

/// A flight's seats by where they are; `capacity = available + held + confirmed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Inventory {
    /// Seats on the flight.
    pub capacity: i64,
    /// Seats free to hold.
    pub available: i64,
    /// Seats in HELD holds.
    pub held: i64,
    /// Seats in CONFIRMED holds.
    pub confirmed: i64,
}

#[derive(FromRow)]
struct FlightRow {
    id: String,
    flight_number: String,
    origin: String,
    destination: String,
    departure_ms: i64,
    arrival_ms: i64,
    price_minor: i64,
    currency: String,
    capacity: i64,
    available: i64,
    cancelled_ms: Option<i64>,
    cancel_reason: Option<String>,
}

const FLIGHT_COLUMNS: &str = "SELECT id, flight_number, origin, destination, departure_ms, arrival_ms, \
     price_minor, currency, capacity, available, cancelled_ms, cancel_reason FROM flights";

impl Store {
    /// A store over a migrated database, counting holds into `holds`.
    pub fn new(db: Database, holds: HoldMetrics) -> Self {
        Self { db, holds }
    }

    /// Where a flight's seats are, for the conservation check.
    pub async fn inventory(&self, flight_id: &str) -> Result<Inventory, Error> {
        let (capacity, available, held, confirmed): (i64, i64, i64, i64) = sqlx::query_as(
            "SELECT f.capacity, f.available, \
             CAST(COALESCE((SELECT SUM(seats) FROM seat_holds WHERE flight_id = f.id AND state = 'HELD'), 0) AS BIGINT), \
             CAST(COALESCE((SELECT SUM(seats) FROM seat_holds WHERE flight_id = f.id AND state = 'CONFIRMED'), 0) AS BIGINT) \
             FROM flights f WHERE f.id = $1",
        )
        .bind(flight_id)
        .fetch_optional(self.db.pool())
        .instrument(self.db.span("flight.inventory"))
        .await?
        .ok_or_else(|| Error::FlightNotFound(flight_id.to_owned()))?;
        Ok(Inventory {
            capacity,
            available,
            held,
            confirmed,
        })
    }

    /// Seats still on sale at `now`: the free seats of every flight that has
    /// not departed and is not cancelled (the `travel_flight_seats_available` gauge).
    pub async fn seats_available(&self, now: UnixMillis) -> Result<i64, Error> {
        let seats: i64 = sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(available), 0) AS BIGINT) FROM flights \
             WHERE departure_ms > $1 AND cancelled_ms IS NULL",
        )
        .bind(now.unix_millis())
        .fetch_one(self.db.pool())
        .instrument(self.db.span("flight.seats_available"))
        .await?;
        Ok(seats)
    }
}

/// One flight, read inside `tx`.
async fn fetch_flight(tx: &mut Tx, id: &str) -> Result<Option<Flight>, Error> {
    query_flight(tx, id, "").await
}

/// One flight, locked until `tx` ends: the lock every change to its seats or
/// holds takes first (see the module doc).
async fn lock_flight(tx: &mut Tx, dialect: Dialect, id: &str) -> Result<Option<Flight>, Error> {
    query_flight(tx, id, row_lock(dialect)).await
}

async fn query_flight(tx: &mut Tx, id: &str, lock: &str) -> Result<Option<Flight>, Error> {
    let sql = sqlx::AssertSqlSafe(format!("{FLIGHT_COLUMNS} WHERE id = $1{lock}"));
    let row: Option<FlightRow> = sqlx::query_as(sql).bind(id).fetch_optional(&mut **tx).await?;
    row.map(FlightRow::into_domain).transpose()
}

impl FlightRow {
    fn into_domain(self) -> Result<Flight, Error> {
        Ok(Flight {
            seat_price: money(self.price_minor, &self.currency)?,
            capacity: count(self.capacity, "capacity")?,
            available: count(self.available, "availability")?,
            id: self.id,
            flight_number: self.flight_number,
            origin: self.origin,
            destination: self.destination,
            departure: UnixMillis::from_unix_millis(self.departure_ms),
            arrival: UnixMillis::from_unix_millis(self.arrival_ms),
            cancelled: self.cancelled_ms.map(|ms| Cancellation {
                at: UnixMillis::from_unix_millis(ms),
                reason: CancelReason::stored(self.cancel_reason.unwrap_or_default()),
            }),
        })
    }
}
