//! All SQL of the hotel service, the same statements for SQLite and PostgreSQL
//! (except one row lock, see below).
//!
//! Inventory rule: rooms are counted per room type and night in `room_nights`,
//! whose rows are created lazily (a missing row means all `total_rooms` are
//! free). Rooms move only inside a write transaction that first changes a hold
//! row's state with a conditional write (the gate: an insert, or an
//! `UPDATE … RETURNING` from the expected state), then adjusts `available` on
//! exactly that hold's nights by exactly its rooms. Taking rooms is one
//! conditional update over every night of the stay (`available >= n`) that must
//! touch every night, else the whole transaction rolls back: never
//! check-then-act, never part of a stay. So, at all times, for every room type
//! and night, `total_rooms = available + held + confirmed`.
//!
//! Every transaction that moves a room type's inventory first locks that room
//! type's row (`FOR NO KEY UPDATE` on PostgreSQL; SQLite's `BEGIN IMMEDIATE`
//! already admits one writer at a time), and touches one room type only. Night
//! rows of a room type are then changed by one transaction at a time, so two
//! stays that overlap on several nights cannot deadlock by locking those nights
//! in different orders. The sweeper expires at most a batch of one room type's
//! holds per transaction, so it never keeps other writers waiting for long.
//! (docs/architecture.md, "Inventory rules", explains why.)

mod holds;
mod search;

pub use holds::DEFAULT_SWEEP_BATCH;

use sqlx::{Any, FromRow, Transaction};
use travel::db::{Database, Dialect};
use travel::stored::{corrupt, count, date, money, overflow};
use travel::types::{Date, UnixMillis};

use crate::domain::{Hotel, NewHotel, NewRoomType, RoomType};
use crate::error::Error;

/// The hotel service's persistence.
#[derive(Debug, Clone)]
pub struct Store {
    db: Database,
}

/// One room type's rooms on one night, by where they are;
/// `total_rooms = available + held + confirmed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Inventory {
    /// Rooms of the type.
    pub total_rooms: i64,
    /// Rooms free to hold that night.
    pub available: i64,
    /// Rooms in HELD holds whose stay covers the night.
    pub held: i64,
    /// Rooms in CONFIRMED holds whose stay covers the night.
    pub confirmed: i64,
}

#[derive(FromRow)]
struct HotelRow {
    id: String,
    name: String,
    city: String,
    address: String,
}

#[derive(FromRow)]
struct RoomTypeRow {
    id: String,
    hotel_id: String,
    name: String,
    max_guests: i64,
    total_rooms: i64,
    price_minor: i64,
    currency: String,
}

const HOTEL_COLUMNS: &str = "SELECT id, name, city, address FROM hotels";
const ROOM_TYPE_COLUMNS: &str =
    "SELECT id, hotel_id, name, max_guests, total_rooms, price_minor, currency FROM room_types";

impl Store {
    /// A store over a migrated database.
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// Closes the database connections.
    pub async fn close(&self) {
        self.db.close().await;
    }

    /// Adds a hotel; with a request id, a retry returns the hotel created first.
    pub async fn create_hotel(&self, new: &NewHotel, id: &str, now: UnixMillis) -> Result<Hotel, Error> {
        let mut tx = self.db.begin_write().await?;
        let inserted = sqlx::query(
            "INSERT INTO hotels (id, name, city, city_key, address, request_id, request_hash, created_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (request_id) DO NOTHING",
        )
        .bind(id)
        .bind(new.name.as_str())
        .bind(new.city.as_str())
        .bind(new.city.key())
        .bind(new.address.as_str())
        .bind(new.request_id.as_ref().map(|r| r.as_str().to_owned()))
        .bind(new.fingerprint())
        .bind(now.unix_millis())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let first_id = if inserted == 1 {
            id.to_owned()
        } else {
            // The request id was seen before: a retry gets the first result.
            let request_id = request_id_of(new.request_id.as_ref());
            let (first_id, hash): (String, Option<String>) =
                sqlx::query_as("SELECT id, request_hash FROM hotels WHERE request_id = $1")
                    .bind(&request_id)
                    .fetch_one(&mut *tx)
                    .await?;
            if hash.as_deref() != Some(new.fingerprint().as_str()) {
                return Err(Error::RequestIdReused(request_id));
            }
            first_id
        };
        let hotel = fetch_hotel(&mut tx, &first_id).await?;
        tx.commit().await?;
        hotel.ok_or(Error::HotelNotFound(first_id))
    }

    /// Adds a room type after the hotel's others; with a request id, a retry
    /// returns the room type added first.
    pub async fn add_room_type(&self, new: &NewRoomType, id: &str, now: UnixMillis) -> Result<RoomType, Error> {
        let mut tx = self.db.begin_write().await?;
        // Numbers the room type within its hotel, and locks the hotel row so that
        // concurrent additions to one hotel are numbered one after the other.
        let ordinal: Option<i64> = sqlx::query_scalar(
            "UPDATE hotels SET room_type_count = room_type_count + 1 WHERE id = $1 RETURNING room_type_count",
        )
        .bind(&new.hotel_id)
        .fetch_optional(&mut *tx)
        .await?;
        let ordinal = ordinal.ok_or_else(|| Error::HotelNotFound(new.hotel_id.clone()))?;
        let inserted = sqlx::query(
            "INSERT INTO room_types (id, hotel_id, ordinal, name, max_guests, total_rooms, price_minor, currency, \
             request_id, request_hash, created_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
             ON CONFLICT (request_id) DO NOTHING",
        )
        .bind(id)
        .bind(&new.hotel_id)
        .bind(ordinal)
        .bind(new.name.as_str())
        .bind(i64::from(new.max_guests))
        .bind(i64::from(new.total_rooms))
        .bind(new.nightly_price.amount_minor)
        .bind(new.nightly_price.currency.as_str())
        .bind(new.request_id.as_ref().map(|r| r.as_str().to_owned()))
        .bind(new.fingerprint())
        .bind(now.unix_millis())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            // A retry: nothing to keep (not even the number taken above).
            let request_id = request_id_of(new.request_id.as_ref());
            let (first_id, hash): (String, Option<String>) =
                sqlx::query_as("SELECT id, request_hash FROM room_types WHERE request_id = $1")
                    .bind(&request_id)
                    .fetch_one(&mut *tx)
                    .await?;
            let first = fetch_room_type(&mut tx, &first_id).await?;
            tx.rollback().await?;
            if hash.as_deref() != Some(new.fingerprint().as_str()) {
                return Err(Error::RequestIdReused(request_id));
            }
            return first.ok_or_else(|| Error::HotelNotFound(new.hotel_id.clone()));
        }
        let room_type = fetch_room_type(&mut tx, id).await?;
        tx.commit().await?;
        room_type.ok_or_else(|| Error::HotelNotFound(new.hotel_id.clone()))
    }

    /// One hotel with its room types, in the order they were added.
    pub async fn get_hotel(&self, id: &str) -> Result<Hotel, Error> {
        let sql = sqlx::AssertSqlSafe(format!("{HOTEL_COLUMNS} WHERE id = $1"));
        let row: Option<HotelRow> = sqlx::query_as(sql).bind(id).fetch_optional(self.db.pool()).await?;
        let mut hotel = row
            .map(HotelRow::into_domain)
            .ok_or_else(|| Error::HotelNotFound(id.to_owned()))?;
        let sql = sqlx::AssertSqlSafe(format!("{ROOM_TYPE_COLUMNS} WHERE hotel_id = $1 ORDER BY ordinal"));
        let rows: Vec<RoomTypeRow> = sqlx::query_as(sql).bind(id).fetch_all(self.db.pool()).await?;
        hotel.room_types = rows
            .into_iter()
            .map(RoomTypeRow::into_domain)
            .collect::<Result<_, _>>()?;
        Ok(hotel)
    }

    /// Where one room type's rooms are on one night, for the conservation check.
    pub async fn inventory(&self, room_type_id: &str, night: Date) -> Result<Inventory, Error> {
        let (total_rooms, available, held, confirmed): (i64, i64, i64, i64) = sqlx::query_as(
            "SELECT r.total_rooms, \
             COALESCE((SELECT n.available FROM room_nights n WHERE n.room_type_id = r.id AND n.night = $2), \
                      r.total_rooms), \
             CAST(COALESCE((SELECT SUM(h.rooms) FROM room_holds h WHERE h.room_type_id = r.id \
                  AND h.state = 'HELD' AND h.check_in <= $2 AND h.check_out > $2), 0) AS BIGINT), \
             CAST(COALESCE((SELECT SUM(h.rooms) FROM room_holds h WHERE h.room_type_id = r.id \
                  AND h.state = 'CONFIRMED' AND h.check_in <= $2 AND h.check_out > $2), 0) AS BIGINT) \
             FROM room_types r WHERE r.id = $1",
        )
        .bind(room_type_id)
        .bind(night.iso())
        .fetch_optional(self.db.pool())
        .await?
        .ok_or_else(|| Error::RoomTypeNotFound {
            room_type_id: room_type_id.to_owned(),
            hotel_id: None,
        })?;
        Ok(Inventory {
            total_rooms,
            available,
            held,
            confirmed,
        })
    }
}

fn request_id_of(request_id: Option<&travel::types::RequestId>) -> String {
    request_id.map(|r| r.as_str().to_owned()).unwrap_or_default()
}

async fn fetch_hotel(tx: &mut Transaction<'static, Any>, id: &str) -> Result<Option<Hotel>, Error> {
    let sql = sqlx::AssertSqlSafe(format!("{HOTEL_COLUMNS} WHERE id = $1"));
    let row: Option<HotelRow> = sqlx::query_as(sql).bind(id).fetch_optional(&mut **tx).await?;
    Ok(row.map(HotelRow::into_domain))
}

/// One room type, read inside `tx`.
async fn fetch_room_type(tx: &mut Transaction<'static, Any>, id: &str) -> Result<Option<RoomType>, Error> {
    query_room_type(tx, id, "").await
}

/// One room type, locked until `tx` ends: the lock that serializes changes to the
/// room type's inventory on PostgreSQL (see the module doc).
async fn lock_room_type(
    tx: &mut Transaction<'static, Any>,
    dialect: Dialect,
    id: &str,
) -> Result<Option<RoomType>, Error> {
    let lock = match dialect {
        Dialect::Postgres => " FOR NO KEY UPDATE",
        // BEGIN IMMEDIATE already holds the database's one write lock.
        Dialect::Sqlite => "",
    };
    query_room_type(tx, id, lock).await
}

async fn query_room_type(tx: &mut Transaction<'static, Any>, id: &str, lock: &str) -> Result<Option<RoomType>, Error> {
    let sql = sqlx::AssertSqlSafe(format!("{ROOM_TYPE_COLUMNS} WHERE id = $1{lock}"));
    let row: Option<RoomTypeRow> = sqlx::query_as(sql).bind(id).fetch_optional(&mut **tx).await?;
    row.map(RoomTypeRow::into_domain).transpose()
}

impl HotelRow {
    fn into_domain(self) -> Hotel {
        Hotel {
            id: self.id,
            name: self.name,
            city: self.city,
            address: self.address,
            room_types: Vec::new(),
        }
    }
}

impl RoomTypeRow {
    fn into_domain(self) -> Result<RoomType, Error> {
        Ok(RoomType {
            nightly_price: money(self.price_minor, &self.currency)?,
            max_guests: count(self.max_guests, "max guests")?,
            total_rooms: count(self.total_rooms, "total rooms")?,
            id: self.id,
            hotel_id: self.hotel_id,
            name: self.name,
        })
    }
}
