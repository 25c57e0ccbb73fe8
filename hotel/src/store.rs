//! All SQL of the hotel service, the same statements for SQLite and PostgreSQL
//! (except one row lock, see below): the store itself and the room-type row
//! lock here, the catalog, the search and the room holds in the submodules.
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

mod catalog;
mod holds;
mod nights;
mod search;

pub use travel::hold::store::DEFAULT_SWEEP_BATCH;

use std::time::Duration;

use sqlx::FromRow;
use tracing::Instrument as _;
use travel::db::{Database, Dialect};
use travel::hold::HoldMetrics;
use travel::hold::store::{Tx, row_lock};
use travel::stored::{count, money};
use travel::types::{Date, UnixMillis};

use crate::domain::RoomType;
use crate::error::Error;

/// How many nights ahead, tonight included, the room-nights on sale are
/// counted: a room type sells nights without end, so the gauge needs a horizon.
pub const AVAILABLE_NIGHTS: u32 = 30;

/// The hotel service's persistence.
#[derive(Debug, Clone)]
pub struct Store {
    db: Database,
    /// Counts holds as their changes commit.
    holds: HoldMetrics,
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
struct RoomTypeRow {
    id: String,
    hotel_id: String,
    name: String,
    max_guests: i64,
    total_rooms: i64,
    price_minor: i64,
    currency: String,
}

const ROOM_TYPE_COLUMNS: &str =
    "SELECT id, hotel_id, name, max_guests, total_rooms, price_minor, currency FROM room_types";

impl Store {
    /// A store over a migrated database, counting holds into `holds`.
    pub fn new(db: Database, holds: HoldMetrics) -> Self {
        Self { db, holds }
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
        .instrument(self.db.span("hotel.inventory"))
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

    /// Room-nights still on sale at `now`: over every room type, the rooms free
    /// on each of the [`AVAILABLE_NIGHTS`] nights from tonight (UTC) on (the
    /// `travel_hotel_room_nights_available` gauge). A night no hold has touched
    /// has no `room_nights` row and all its rooms free.
    pub async fn room_nights_available(&self, now: UnixMillis) -> Result<i64, Error> {
        let first = now.date();
        let end = now
            .plus(Duration::from_secs(u64::from(AVAILABLE_NIGHTS) * 86_400))
            .date();
        let free: i64 = sqlx::query_scalar(
            "SELECT CAST(COALESCE((SELECT SUM(total_rooms) FROM room_types), 0) * $3 \
             - COALESCE((SELECT SUM(r.total_rooms - n.available) FROM room_nights n \
                         JOIN room_types r ON r.id = n.room_type_id WHERE n.night >= $1 AND n.night < $2), 0) \
             AS BIGINT)",
        )
        .bind(first.iso())
        .bind(end.iso())
        .bind(i64::from(AVAILABLE_NIGHTS))
        .fetch_one(self.db.pool())
        .instrument(self.db.span("hotel.room_nights_available"))
        .await?;
        Ok(free)
    }
}

/// One room type, read inside `tx`.
async fn fetch_room_type(tx: &mut Tx, id: &str) -> Result<Option<RoomType>, Error> {
    query_room_type(tx, id, "").await
}

/// One room type, locked until `tx` ends: the lock that serializes changes to the
/// room type's inventory on PostgreSQL (see the module doc).
async fn lock_room_type(tx: &mut Tx, dialect: Dialect, id: &str) -> Result<Option<RoomType>, Error> {
    query_room_type(tx, id, row_lock(dialect)).await
}

async fn query_room_type(tx: &mut Tx, id: &str, lock: &str) -> Result<Option<RoomType>, Error> {
    let sql = sqlx::AssertSqlSafe(format!("{ROOM_TYPE_COLUMNS} WHERE id = $1{lock}"));
    let row: Option<RoomTypeRow> = sqlx::query_as(sql).bind(id).fetch_optional(&mut **tx).await?;
    row.map(RoomTypeRow::into_domain).transpose()
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
