//! The room-hold life cycle in SQL: taking rooms here; confirm, release and
//! expiry run the kit's hold statements (`travel::hold::store`, added to
//! [`Store`] by `hold_store_methods!`) over `room_holds`, under the room
//! type's lock. Each state change is gated by one
//! conditional write on the hold row, and moves exactly that hold's rooms on
//! exactly its nights (`nights.rs`), in the same transaction.

use std::time::Duration;

use sqlx::FromRow;
use tracing::Instrument as _;
use travel::db::Database;
use travel::hold::store::{self as holds, AnyQuery, HoldSpans, HoldStore, HoldTable, Tx};
use travel::hold::{HoldMetrics, Holds, StoredHold};
use travel::stored::{corrupt, count, date, overflow};
use travel::types::UnixMillis;

use super::nights;
use super::{Store, lock_room_type};
use crate::domain::{Booking, Hold, HoldRequest, Stay};
use crate::error::{ERROR_DOMAIN, Error};

/// A stored room hold.
#[derive(FromRow)]
pub struct RoomHoldRow {
    #[sqlx(flatten)]
    stored: StoredHold,
    hotel_id: Option<String>,
    room_type_id: Option<String>,
    check_in: Option<String>,
    check_out: Option<String>,
    rooms: i64,
    guests: i64,
}

impl HoldStore for Store {
    type Booking = Booking;
    type Row = RoomHoldRow;
    type Error = Error;

    const TABLE: HoldTable = HoldTable {
        name: "room_holds",
        columns: "hold_id, hotel_id, room_type_id, check_in, check_out, rooms, guests, price_minor, currency, \
                  state, expires_ms",
        lock_key: "room_type_id",
        tombstone: (
            "hotel_id, room_type_id, check_in, check_out, rooms, guests",
            "NULL, NULL, NULL, NULL, 0, 0",
        ),
    };
    const HOLDS: Holds = Holds {
        noun: "room hold",
        units: "rooms",
        domain: ERROR_DOMAIN,
    };
    const SPANS: HoldSpans = HoldSpans {
        confirm: "hotel.confirm_rooms",
        release: "hotel.release_rooms",
        expire: "hotel.expire_holds",
    };

    fn db(&self) -> &Database {
        &self.db
    }

    fn metrics(&self) -> &HoldMetrics {
        &self.holds
    }

    fn bind_booking<'q>(query: AnyQuery<'q>, b: &Booking) -> AnyQuery<'q> {
        query
            .bind(b.hotel_id.clone())
            .bind(b.room_type_id.clone())
            .bind(b.stay.check_in().iso())
            .bind(b.stay.check_out().iso())
            .bind(i64::from(b.rooms))
            .bind(i64::from(b.guests))
    }

    fn decode(row: RoomHoldRow) -> Result<Hold, sqlx::Error> {
        let booking = match (row.hotel_id, row.room_type_id, row.check_in, row.check_out) {
            (Some(hotel_id), Some(room_type_id), Some(check_in), Some(check_out)) => Some(Booking {
                hotel_id,
                room_type_id,
                stay: Stay::stored(date(&check_in)?, date(&check_out)?).ok_or_else(|| corrupt("stay"))?,
                rooms: count(row.rooms, "rooms")?,
                guests: count(row.guests, "guests")?,
            }),
            _ => None,
        };
        row.stored.into_hold(booking)
    }

    fn lock_key(booking: &Booking) -> &str {
        &booking.room_type_id
    }

    async fn lock(&self, tx: &mut Tx, room_type_id: &str) -> Result<(), Error> {
        lock_room_type(tx, self.db.dialect(), room_type_id).await.map(drop)
    }

    async fn give_back(tx: &mut Tx, _room_type_id: &str, taken: &[Booking]) -> Result<(), Error> {
        for booking in taken {
            nights::give_back(tx, booking).await?;
        }
        Ok(())
    }
}

impl Store {
    /// Takes rooms on every night of a stay under a hold id, all or nothing; a
    /// retry of the same hold returns it unchanged.
    /// A refusal is counted by its reason.
    pub async fn hold(&self, req: &HoldRequest, now: UnixMillis, ttl: Duration) -> Result<Hold, Error> {
        let held = self
            .take_rooms(req, now, ttl)
            .instrument(self.db.span("hotel.hold_rooms"))
            .await;
        if let Some(reason) = held.as_ref().err().and_then(Error::hold_refusal) {
            self.holds.refused(reason);
        }
        held
    }

    async fn take_rooms(&self, req: &HoldRequest, now: UnixMillis, ttl: Duration) -> Result<Hold, Error> {
        let b = &req.booking;
        let mut tx = self.db.begin_write().await?;
        let room_type = lock_room_type(&mut tx, self.db.dialect(), &b.room_type_id)
            .await?
            .filter(|rt| rt.hotel_id == b.hotel_id)
            .ok_or_else(|| Error::RoomTypeNotFound {
                room_type_id: b.room_type_id.clone(),
                hotel_id: Some(b.hotel_id.clone()),
            })?;
        // Expired holds of this room type give their rooms back before we count.
        let expired = holds::expire_all::<Self>(&mut tx, &room_type.id, now).await?;
        if !room_type.sleeps(b.rooms, b.guests) {
            return Err(Error::TooManyGuests {
                room_type_id: room_type.id,
                rooms: b.rooms,
                guests: b.guests,
                capacity: u64::from(room_type.max_guests) * u64::from(b.rooms),
            });
        }
        let price = room_type.stay_price(b.stay.nights(), b.rooms).ok_or_else(overflow)?;
        // A stay whose first night is before today (UTC, by the clock) takes no
        // new hold; a retry of one made in time still gets its answer below.
        let past = b.stay.check_in() < now.date();
        let inserted = !past && holds::insert_held::<Self>(&mut tx, &req.hold_id, b, &price, now, ttl).await?;
        if !inserted {
            return match holds::retried(self, tx, &req.hold_id, b, expired).await? {
                Some(existing) => Ok(existing),
                None if past => Err(Error::StayInPast(b.stay.check_in())),
                None => Err(Self::HOLDS.not_found(&req.hold_id).into()),
            };
        }
        if let Some((night, available)) = nights::take(&mut tx, &room_type, b).await? {
            tx.rollback().await?;
            return Err(Error::NotEnoughRooms {
                room_type_id: room_type.id,
                night,
                requested: b.rooms,
                available: count(available, "availability")?,
            });
        }
        holds::committed(self, tx, &req.hold_id, expired).await
    }
}

travel::hold_store_methods!(Store);
