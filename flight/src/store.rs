//! All SQL of the flight service, the same statements for SQLite and PostgreSQL.
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

use std::time::Duration;

use sqlx::{Any, FromRow, Transaction};
use travel::db::{Database, Dialect};
use travel::stored::{corrupt, count, money, overflow};
use travel::types::{HoldId, RequestId, UnixMillis};

use crate::domain::{Cursor, Flight, Hold, HoldRequest, HoldState, NewFlight, Search};
use crate::error::Error;

/// Most due holds one sweep transaction expires unless told otherwise.
pub const DEFAULT_SWEEP_BATCH: u32 = 100;

/// Expire every due hold of the flight (a flight has at most `MAX_CAPACITY` live holds).
const ALL: i64 = i64::MAX;

/// The flight service's persistence.
#[derive(Debug, Clone)]
pub struct Store {
    db: Database,
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
}

#[derive(FromRow)]
struct HoldRow {
    hold_id: String,
    flight_id: Option<String>,
    seats: i64,
    price_minor: i64,
    currency: String,
    state: String,
    expires_ms: i64,
}

const FLIGHT_COLUMNS: &str = "SELECT id, flight_number, origin, destination, departure_ms, arrival_ms, \
     price_minor, currency, capacity, available FROM flights";

impl Store {
    /// A store over a migrated database.
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// Closes the database connections.
    pub async fn close(&self) {
        self.db.close().await;
    }

    /// Adds a flight; with a request id, a retry returns the flight created first.
    pub async fn create_flight(&self, new: &NewFlight, id: &str, now: UnixMillis) -> Result<Flight, Error> {
        let mut tx = self.db.begin_write().await?;
        let inserted = sqlx::query(
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
        .bind(i64::from(new.capacity))
        .bind(new.request_id.as_ref().map(|r| r.as_str().to_owned()))
        .bind(new.fingerprint())
        .bind(now.unix_millis())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let flight = if inserted == 1 {
            fetch_flight(&mut tx, id).await?
        } else {
            // The request id was seen before: a retry gets the first result.
            let request_id = new
                .request_id
                .as_ref()
                .map(|r| r.as_str().to_owned())
                .unwrap_or_default();
            let (first_id, hash): (String, Option<String>) =
                sqlx::query_as("SELECT id, request_hash FROM flights WHERE request_id = $1")
                    .bind(&request_id)
                    .fetch_one(&mut *tx)
                    .await?;
            if hash.as_deref() != Some(new.fingerprint().as_str()) {
                return Err(Error::RequestIdReused(request_id));
            }
            fetch_flight(&mut tx, &first_id).await?
        };
        tx.commit().await?;
        flight.ok_or_else(|| Error::FlightNotFound(id.to_owned()))
    }

    /// True when a flight was already created with `request_id`.
    pub async fn request_seen(&self, request_id: Option<&RequestId>) -> Result<bool, Error> {
        let Some(request_id) = request_id else { return Ok(false) };
        let seen: Option<(String,)> = sqlx::query_as("SELECT id FROM flights WHERE request_id = $1")
            .bind(request_id.as_str())
            .fetch_optional(self.db.pool())
            .await?;
        Ok(seen.is_some())
    }

    /// One flight.
    pub async fn get_flight(&self, id: &str) -> Result<Flight, Error> {
        let sql = sqlx::AssertSqlSafe(format!("{FLIGHT_COLUMNS} WHERE id = $1"));
        let row: Option<FlightRow> = sqlx::query_as(sql).bind(id).fetch_optional(self.db.pool()).await?;
        row.map(FlightRow::into_domain)
            .transpose()?
            .ok_or_else(|| Error::FlightNotFound(id.to_owned()))
    }

    /// One page of a search, and the cursor of the next page if there is one.
    pub async fn search(&self, search: &Search) -> Result<(Vec<Flight>, Option<Cursor>), Error> {
        let (after_ms, after_id) = match &search.after {
            Some(c) => (c.departure.unix_millis(), c.id.clone()),
            None => (i64::MIN, String::new()),
        };
        let sql = sqlx::AssertSqlSafe(format!(
            "{FLIGHT_COLUMNS} WHERE origin = $1 AND destination = $2 AND departure_date = $3 \
             AND available >= $4 AND (departure_ms > $5 OR (departure_ms = $5 AND id > $6)) \
             ORDER BY departure_ms, id LIMIT $7"
        ));
        let rows: Vec<FlightRow> = sqlx::query_as(sql)
            .bind(search.origin.as_str())
            .bind(search.destination.as_str())
            .bind(search.date.iso())
            .bind(i64::from(search.passengers))
            .bind(after_ms)
            .bind(after_id)
            .bind(i64::from(search.page_size) + 1)
            .fetch_all(self.db.pool())
            .await?;
        let mut flights = rows
            .into_iter()
            .map(FlightRow::into_domain)
            .collect::<Result<Vec<_>, _>>()?;
        let next = if flights.len() > search.page_size as usize {
            flights.truncate(search.page_size as usize);
            flights.last().map(|f| Cursor {
                departure: f.departure,
                id: f.id.clone(),
            })
        } else {
            None
        };
        Ok((flights, next))
    }

    /// Takes seats under a hold id; a retry of the same hold returns it unchanged.
    pub async fn hold(&self, req: &HoldRequest, now: UnixMillis, ttl: Duration) -> Result<Hold, Error> {
        let mut tx = self.db.begin_write().await?;
        let flight = lock_flight(&mut tx, self.db.dialect(), &req.flight_id)
            .await?
            .ok_or_else(|| Error::FlightNotFound(req.flight_id.clone()))?;
        // Expired holds on this flight give their seats back before we count.
        expire_holds(&mut tx, &req.flight_id, now, ALL).await?;
        let price = flight.seat_price.times(i64::from(req.seats)).ok_or_else(overflow)?;
        // A departed flight takes no new hold; a retry of one made before still
        // gets its answer below.
        let departed = flight.departure <= now;
        let inserted = if departed {
            0
        } else {
            sqlx::query(
                "INSERT INTO seat_holds (hold_id, flight_id, seats, price_minor, currency, state, expires_ms, \
                 created_ms, updated_ms) VALUES ($1, $2, $3, $4, $5, 'HELD', $6, $7, $7) \
                 ON CONFLICT (hold_id) DO NOTHING",
            )
            .bind(req.hold_id.as_str())
            .bind(&req.flight_id)
            .bind(i64::from(req.seats))
            .bind(price.amount_minor)
            .bind(price.currency.as_str())
            .bind(now.plus(ttl).unix_millis())
            .bind(now.unix_millis())
            .execute(&mut *tx)
            .await?
            .rows_affected()
        };
        if inserted == 0 {
            let Some(existing) = fetch_hold(&mut tx, &req.hold_id).await? else {
                return Err(if departed {
                    Error::FlightDeparted(req.flight_id.clone())
                } else {
                    Error::HoldNotFound(req.hold_id.clone())
                });
            };
            tx.commit().await?;
            return match existing.state {
                _ if existing.flight_id.as_deref() != Some(req.flight_id.as_str()) || existing.seats != req.seats => {
                    Err(if existing.is_tombstone() {
                        Error::HoldReleased(req.hold_id.clone())
                    } else {
                        Error::HoldIdInUse(req.hold_id.clone())
                    })
                }
                HoldState::Held | HoldState::Confirmed => Ok(existing),
                HoldState::Released => Err(Error::HoldReleased(req.hold_id.clone())),
                HoldState::Expired => Err(Error::HoldExpired(req.hold_id.clone())),
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
        let hold = fetch_hold(&mut tx, &req.hold_id)
            .await?
            .ok_or_else(|| Error::HoldNotFound(req.hold_id.clone()))?;
        tx.commit().await?;
        Ok(hold)
    }

    /// Makes a HELD hold CONFIRMED; confirming again is a no-op. A hold whose time
    /// is up is expired here (its seats returned) and refused.
    pub async fn confirm(&self, hold_id: &HoldId, now: UnixMillis) -> Result<Hold, Error> {
        let mut tx = self.db.begin_write().await?;
        let flight_id = fetch_hold(&mut tx, hold_id)
            .await?
            .ok_or_else(|| Error::HoldNotFound(hold_id.clone()))?
            .flight_id;
        if let Some(flight_id) = &flight_id {
            lock_flight(&mut tx, self.db.dialect(), flight_id).await?;
        }
        sqlx::query(
            "UPDATE seat_holds SET state = 'CONFIRMED', updated_ms = $2 \
             WHERE hold_id = $1 AND state = 'HELD' AND expires_ms > $2",
        )
        .bind(hold_id.as_str())
        .bind(now.unix_millis())
        .execute(&mut *tx)
        .await?;
        let hold = fetch_hold(&mut tx, hold_id)
            .await?
            .ok_or_else(|| Error::HoldNotFound(hold_id.clone()))?;
        let outcome = match hold.state {
            HoldState::Confirmed => Ok(hold),
            HoldState::Held => {
                // Its time is up (else the update above confirmed it): expire it now.
                if let Some(flight_id) = &flight_id {
                    expire_holds(&mut tx, flight_id, now, ALL).await?;
                }
                Err(Error::HoldExpired(hold_id.clone()))
            }
            HoldState::Expired => Err(Error::HoldExpired(hold_id.clone())),
            HoldState::Released => Err(Error::HoldReleased(hold_id.clone())),
        };
        tx.commit().await?;
        outcome
    }

    /// Gives a hold's seats back, whether HELD or CONFIRMED; releasing again is a
    /// no-op. An unknown id is recorded as released (a tombstone) and `None` returned.
    pub async fn release(&self, hold_id: &HoldId, now: UnixMillis) -> Result<Option<Hold>, Error> {
        let mut tx = self.db.begin_write().await?;
        if !release_live_hold(&mut tx, self.db.dialect(), hold_id, now).await? {
            let tombstone = sqlx::query(
                "INSERT INTO seat_holds (hold_id, flight_id, seats, price_minor, currency, state, expires_ms, \
                 created_ms, updated_ms) VALUES ($1, NULL, 0, 0, 'XXX', 'RELEASED', $2, $2, $2) \
                 ON CONFLICT (hold_id) DO NOTHING",
            )
            .bind(hold_id.as_str())
            .bind(now.unix_millis())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if tombstone == 1 {
                tx.commit().await?;
                return Ok(None);
            }
            // A hold with this id appeared meanwhile: release it if it is live.
            release_live_hold(&mut tx, self.db.dialect(), hold_id, now).await?;
        }
        let hold = fetch_hold(&mut tx, hold_id).await?;
        tx.commit().await?;
        Ok(hold.filter(|h| !h.is_tombstone()))
    }

    /// Expires every HELD hold whose time is up at `now`, in batches of
    /// [`DEFAULT_SWEEP_BATCH`]; returns how many.
    pub async fn expire_due_holds(&self, now: UnixMillis) -> Result<u64, Error> {
        let mut total = 0;
        loop {
            match self.expire_due_batch(now, DEFAULT_SWEEP_BATCH).await? {
                0 => return Ok(total),
                n => total += n,
            }
        }
    }

    /// One sweep transaction: expires at most `max` HELD holds whose time is up
    /// at `now`, all of one flight (the one whose hold has waited longest), and
    /// returns how many; 0 when none is due.
    pub async fn expire_due_batch(&self, now: UnixMillis, max: u32) -> Result<u64, Error> {
        loop {
            let flight_id: Option<String> = sqlx::query_scalar(
                "SELECT flight_id FROM seat_holds WHERE state = 'HELD' AND expires_ms <= $1 \
                 AND flight_id IS NOT NULL ORDER BY expires_ms LIMIT 1",
            )
            .bind(now.unix_millis())
            .fetch_optional(self.db.pool())
            .await?;
            let Some(flight_id) = flight_id else {
                return Ok(0);
            };
            let mut tx = self.db.begin_write().await?;
            lock_flight(&mut tx, self.db.dialect(), &flight_id).await?;
            let n = expire_holds(&mut tx, &flight_id, now, i64::from(max.max(1))).await?;
            tx.commit().await?;
            if n > 0 {
                return Ok(n);
            }
            // Another writer expired them first; holds due at `now` only get
            // fewer, so looking again ends.
        }
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
        .await?
        .ok_or_else(|| Error::FlightNotFound(flight_id.to_owned()))?;
        Ok(Inventory {
            capacity,
            available,
            held,
            confirmed,
        })
    }
}

/// Releases the hold if it is HELD or CONFIRMED, returning its seats; false if
/// there is no such live hold. Locks the hold's flight first.
async fn release_live_hold(
    tx: &mut Transaction<'static, Any>,
    dialect: Dialect,
    hold_id: &HoldId,
    now: UnixMillis,
) -> Result<bool, Error> {
    let Some(flight_id) = fetch_hold(tx, hold_id).await?.and_then(|h| h.flight_id) else {
        return Ok(false); // no hold, or a tombstone (which is never live)
    };
    lock_flight(tx, dialect, &flight_id).await?;
    let released: Option<(Option<String>, i64)> = sqlx::query_as(
        "UPDATE seat_holds SET state = 'RELEASED', updated_ms = $2 \
         WHERE hold_id = $1 AND state IN ('HELD', 'CONFIRMED') RETURNING flight_id, seats",
    )
    .bind(hold_id.as_str())
    .bind(now.unix_millis())
    .fetch_optional(&mut **tx)
    .await?;
    match released {
        Some((Some(flight_id), seats)) => {
            give_back(tx, &flight_id, seats).await?;
            Ok(true)
        }
        Some((None, _)) => Ok(true),
        None => Ok(false),
    }
}

/// Marks up to `max` HELD holds of one flight whose time is up as EXPIRED,
/// oldest first, and returns their seats; returns how many holds expired. The
/// caller holds the flight's lock.
async fn expire_holds(
    tx: &mut Transaction<'static, Any>,
    flight_id: &str,
    now: UnixMillis,
    max: i64,
) -> Result<u64, Error> {
    let seats: Vec<i64> = sqlx::query_scalar(
        "UPDATE seat_holds SET state = 'EXPIRED', updated_ms = $1 \
         WHERE hold_id IN (SELECT hold_id FROM seat_holds \
             WHERE flight_id = $2 AND state = 'HELD' AND expires_ms <= $1 \
             ORDER BY expires_ms, hold_id LIMIT $3) \
         AND state = 'HELD' RETURNING seats",
    )
    .bind(now.unix_millis())
    .bind(flight_id)
    .bind(max)
    .fetch_all(&mut **tx)
    .await?;
    if !seats.is_empty() {
        give_back(tx, flight_id, seats.iter().sum()).await?;
    }
    Ok(seats.len() as u64)
}

async fn give_back(tx: &mut Transaction<'static, Any>, flight_id: &str, seats: i64) -> Result<(), Error> {
    sqlx::query("UPDATE flights SET available = available + $1 WHERE id = $2")
        .bind(seats)
        .bind(flight_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn fetch_flight(tx: &mut Transaction<'static, Any>, id: &str) -> Result<Option<Flight>, Error> {
    query_flight(tx, id, "").await
}

/// One flight, locked until `tx` ends: the lock every change to its seats or
/// holds takes first (see the module doc).
async fn lock_flight(tx: &mut Transaction<'static, Any>, dialect: Dialect, id: &str) -> Result<Option<Flight>, Error> {
    let lock = match dialect {
        Dialect::Postgres => " FOR NO KEY UPDATE",
        // BEGIN IMMEDIATE already holds the database's one write lock.
        Dialect::Sqlite => "",
    };
    query_flight(tx, id, lock).await
}

async fn query_flight(tx: &mut Transaction<'static, Any>, id: &str, lock: &str) -> Result<Option<Flight>, Error> {
    let sql = sqlx::AssertSqlSafe(format!("{FLIGHT_COLUMNS} WHERE id = $1{lock}"));
    let row: Option<FlightRow> = sqlx::query_as(sql).bind(id).fetch_optional(&mut **tx).await?;
    row.map(FlightRow::into_domain).transpose()
}

async fn fetch_hold(tx: &mut Transaction<'static, Any>, hold_id: &HoldId) -> Result<Option<Hold>, Error> {
    let row: Option<HoldRow> = sqlx::query_as(
        "SELECT hold_id, flight_id, seats, price_minor, currency, state, expires_ms FROM seat_holds WHERE hold_id = $1",
    )
    .bind(hold_id.as_str())
    .fetch_optional(&mut **tx)
    .await?;
    row.map(HoldRow::into_domain).transpose()
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
        })
    }
}

impl HoldRow {
    fn into_domain(self) -> Result<Hold, Error> {
        let tombstone = self.flight_id.is_none();
        Ok(Hold {
            hold_id: HoldId::parse(&self.hold_id).map_err(|_| corrupt("hold id"))?,
            seats: count(self.seats, "seats")?,
            total_price: if tombstone {
                money(0, "XXX")?
            } else {
                money(self.price_minor, &self.currency)?
            },
            state: HoldState::parse(&self.state).ok_or_else(|| corrupt("hold state"))?,
            expires_at: UnixMillis::from_unix_millis(self.expires_ms),
            flight_id: self.flight_id,
        })
    }
}
