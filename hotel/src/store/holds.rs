//! The room-hold life cycle in SQL: hold, confirm, release, expire. Each state
//! change is gated by one conditional write on the hold row, and moves exactly
//! that hold's rooms on exactly its nights, in the same transaction.

use std::collections::HashSet;
use std::time::Duration;

use sqlx::{Any, FromRow, Transaction};
use travel::types::{HoldId, UnixMillis};

use super::{Store, corrupt, count, date, lock_room_type, money, overflow};
use crate::domain::{Booking, Hold, HoldRequest, HoldState, Stay};
use crate::error::Error;

/// Most due holds one sweep transaction expires unless told otherwise.
pub const DEFAULT_SWEEP_BATCH: u32 = 100;

/// Expire every due hold of the room type (at most its rooms times its nights are live).
const ALL: i64 = i64::MAX;

#[derive(FromRow)]
struct HoldRow {
    hold_id: String,
    hotel_id: Option<String>,
    room_type_id: Option<String>,
    check_in: Option<String>,
    check_out: Option<String>,
    rooms: i64,
    guests: i64,
    price_minor: i64,
    currency: String,
    state: String,
    expires_ms: i64,
}

/// The rooms a hold had, as returned by the update that ended it.
#[derive(FromRow)]
struct Ended {
    room_type_id: Option<String>,
    check_in: Option<String>,
    check_out: Option<String>,
    rooms: i64,
}

impl Store {
    /// Takes rooms on every night of a stay under a hold id, all or nothing; a
    /// retry of the same hold returns it unchanged.
    pub async fn hold(&self, req: &HoldRequest, now: UnixMillis, ttl: Duration) -> Result<Hold, Error> {
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
        expire_holds(&mut tx, &room_type.id, now, ALL).await?;
        if !room_type.sleeps(b.rooms, b.guests) {
            return Err(Error::TooManyGuests {
                room_type_id: room_type.id,
                rooms: b.rooms,
                guests: b.guests,
                capacity: u64::from(room_type.max_guests) * u64::from(b.rooms),
            });
        }
        let nights = b.stay.each_night();
        let price = room_type.stay_price(b.stay.nights(), b.rooms).ok_or_else(overflow)?;
        // A stay whose first night is before today (UTC, by the clock) takes no
        // new hold; a retry of one made in time still gets its answer below.
        let past = b.stay.check_in() < now.date();
        let inserted = if past {
            0
        } else {
            sqlx::query(
                "INSERT INTO room_holds (hold_id, hotel_id, room_type_id, check_in, check_out, rooms, guests, \
                 price_minor, currency, state, expires_ms, created_ms, updated_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'HELD', $10, $11, $11) ON CONFLICT (hold_id) DO NOTHING",
            )
            .bind(req.hold_id.as_str())
            .bind(&b.hotel_id)
            .bind(&b.room_type_id)
            .bind(b.stay.check_in().iso())
            .bind(b.stay.check_out().iso())
            .bind(i64::from(b.rooms))
            .bind(i64::from(b.guests))
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
                return Err(if past {
                    Error::StayInPast(b.stay.check_in())
                } else {
                    Error::HoldNotFound(req.hold_id.clone())
                });
            };
            tx.commit().await?;
            return match existing.state {
                _ if existing.booking.as_ref() != Some(b) => Err(if existing.is_tombstone() {
                    Error::HoldReleased(req.hold_id.clone())
                } else {
                    Error::HoldIdInUse(req.hold_id.clone())
                }),
                HoldState::Held | HoldState::Confirmed => Ok(existing),
                HoldState::Released => Err(Error::HoldReleased(req.hold_id.clone())),
                HoldState::Expired => Err(Error::HoldExpired(req.hold_id.clone())),
            };
        }
        // Nights no hold has touched yet get their row, with every room free.
        let values = (0..nights.len())
            .map(|i| format!("($1, ${}, $2)", i + 3))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "INSERT INTO room_nights (room_type_id, night, available) VALUES {values} \
             ON CONFLICT (room_type_id, night) DO NOTHING"
        );
        let mut insert = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&room_type.id)
            .bind(i64::from(room_type.total_rooms));
        for night in &nights {
            insert = insert.bind(night.iso());
        }
        insert.execute(&mut *tx).await?;
        // The one conditional write that takes the rooms: every night, or none.
        let taken: Vec<String> = sqlx::query_scalar(
            "UPDATE room_nights SET available = available - $1 \
             WHERE room_type_id = $2 AND night >= $3 AND night < $4 AND available >= $1 RETURNING night",
        )
        .bind(i64::from(b.rooms))
        .bind(&room_type.id)
        .bind(b.stay.check_in().iso())
        .bind(b.stay.check_out().iso())
        .fetch_all(&mut *tx)
        .await?;
        if taken.len() != nights.len() {
            let taken: HashSet<String> = taken.into_iter().collect();
            let short = nights
                .iter()
                .find(|n| !taken.contains(&n.iso()))
                .copied()
                .unwrap_or(b.stay.check_in());
            // That night's row was not updated: it still shows what was free.
            let available: i64 =
                sqlx::query_scalar("SELECT available FROM room_nights WHERE room_type_id = $1 AND night = $2")
                    .bind(&room_type.id)
                    .bind(short.iso())
                    .fetch_one(&mut *tx)
                    .await?;
            tx.rollback().await?;
            return Err(Error::NotEnoughRooms {
                room_type_id: room_type.id,
                night: short,
                requested: b.rooms,
                available: count(available, "availability")?,
            });
        }
        let hold = fetch_hold(&mut tx, &req.hold_id)
            .await?
            .ok_or_else(|| Error::HoldNotFound(req.hold_id.clone()))?;
        tx.commit().await?;
        Ok(hold)
    }

    /// Makes a HELD hold CONFIRMED; confirming again is a no-op. A hold whose time
    /// is up is expired here (its rooms returned) and refused.
    pub async fn confirm(&self, hold_id: &HoldId, now: UnixMillis) -> Result<Hold, Error> {
        let mut tx = self.db.begin_write().await?;
        let booking = fetch_hold(&mut tx, hold_id)
            .await?
            .ok_or_else(|| Error::HoldNotFound(hold_id.clone()))?
            .booking;
        if let Some(booking) = &booking {
            lock_room_type(&mut tx, self.db.dialect(), &booking.room_type_id).await?;
        }
        sqlx::query(
            "UPDATE room_holds SET state = 'CONFIRMED', updated_ms = $2 \
             WHERE hold_id = $1 AND state = 'HELD' AND expires_ms > $2",
        )
        .bind(hold_id.as_str())
        .bind(now.unix_millis())
        .execute(&mut *tx)
        .await?;
        let hold = fetch_hold(&mut tx, hold_id)
            .await?
            .ok_or_else(|| Error::HoldNotFound(hold_id.clone()))?;
        let outcome = match (&hold.state, &hold.booking) {
            (HoldState::Confirmed, _) => Ok(hold),
            (HoldState::Held, Some(booking)) => {
                // Its time is up (else the update above confirmed it): expire it now.
                expire_holds(&mut tx, &booking.room_type_id, now, ALL).await?;
                Err(Error::HoldExpired(hold_id.clone()))
            }
            (HoldState::Held | HoldState::Expired, _) => Err(Error::HoldExpired(hold_id.clone())),
            (HoldState::Released, _) => Err(Error::HoldReleased(hold_id.clone())),
        };
        tx.commit().await?;
        outcome
    }

    /// Gives a hold's rooms back on every night, whether HELD or CONFIRMED;
    /// releasing again is a no-op. An unknown id is recorded as released (a
    /// tombstone) and `None` returned.
    pub async fn release(&self, hold_id: &HoldId, now: UnixMillis) -> Result<Option<Hold>, Error> {
        let mut tx = self.db.begin_write().await?;
        if !self.release_live_hold(&mut tx, hold_id, now).await? {
            let tombstone = sqlx::query(
                "INSERT INTO room_holds (hold_id, hotel_id, room_type_id, check_in, check_out, rooms, guests, \
                 price_minor, currency, state, expires_ms, created_ms, updated_ms) \
                 VALUES ($1, NULL, NULL, NULL, NULL, 0, 0, 0, 'XXX', 'RELEASED', $2, $2, $2) \
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
            self.release_live_hold(&mut tx, hold_id, now).await?;
        }
        let hold = fetch_hold(&mut tx, hold_id).await?;
        tx.commit().await?;
        Ok(hold.filter(|h| !h.is_tombstone()))
    }

    /// Expires every HELD hold whose time is up at `now`, in batches of
    /// [`DEFAULT_SWEEP_BATCH`] of one room type each; returns how many.
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
    /// at `now`, all of one room type (the one whose hold has waited longest),
    /// and returns how many; 0 when none is due.
    pub async fn expire_due_batch(&self, now: UnixMillis, max: u32) -> Result<u64, Error> {
        loop {
            let room_type_id: Option<String> = sqlx::query_scalar(
                "SELECT room_type_id FROM room_holds WHERE state = 'HELD' AND expires_ms <= $1 \
                 AND room_type_id IS NOT NULL ORDER BY expires_ms LIMIT 1",
            )
            .bind(now.unix_millis())
            .fetch_optional(self.db.pool())
            .await?;
            let Some(room_type_id) = room_type_id else {
                return Ok(0);
            };
            let mut tx = self.db.begin_write().await?;
            lock_room_type(&mut tx, self.db.dialect(), &room_type_id).await?;
            let n = expire_holds(&mut tx, &room_type_id, now, i64::from(max.max(1))).await?;
            tx.commit().await?;
            if n > 0 {
                return Ok(n);
            }
            // Another writer expired them first; holds due at `now` only get
            // fewer, so looking again ends.
        }
    }

    /// Releases the hold if it is HELD or CONFIRMED, returning its rooms; false
    /// if there is no such live hold.
    async fn release_live_hold(
        &self,
        tx: &mut Transaction<'static, Any>,
        hold_id: &HoldId,
        now: UnixMillis,
    ) -> Result<bool, Error> {
        let Some(booking) = fetch_hold(tx, hold_id).await?.and_then(|h| h.booking) else {
            return Ok(false);
        };
        lock_room_type(tx, self.db.dialect(), &booking.room_type_id).await?;
        let released: Option<Ended> = sqlx::query_as(
            "UPDATE room_holds SET state = 'RELEASED', updated_ms = $2 \
             WHERE hold_id = $1 AND state IN ('HELD', 'CONFIRMED') \
             RETURNING room_type_id, check_in, check_out, rooms",
        )
        .bind(hold_id.as_str())
        .bind(now.unix_millis())
        .fetch_optional(&mut **tx)
        .await?;
        match released {
            Some(ended) => {
                give_back(tx, &ended).await?;
                Ok(true)
            }
            None => Ok(false),
        }
    }
}

/// Marks up to `max` HELD holds of one room type whose time is up as EXPIRED,
/// oldest first, and returns their rooms; returns how many holds expired. The
/// caller holds the room type's lock.
async fn expire_holds(
    tx: &mut Transaction<'static, Any>,
    room_type_id: &str,
    now: UnixMillis,
    max: i64,
) -> Result<u64, Error> {
    let expired: Vec<Ended> = sqlx::query_as(
        "UPDATE room_holds SET state = 'EXPIRED', updated_ms = $1 \
         WHERE hold_id IN (SELECT hold_id FROM room_holds \
             WHERE room_type_id = $2 AND state = 'HELD' AND expires_ms <= $1 \
             ORDER BY expires_ms, hold_id LIMIT $3) \
         AND state = 'HELD' RETURNING room_type_id, check_in, check_out, rooms",
    )
    .bind(now.unix_millis())
    .bind(room_type_id)
    .bind(max)
    .fetch_all(&mut **tx)
    .await?;
    for ended in &expired {
        give_back(tx, ended).await?;
    }
    Ok(expired.len() as u64)
}

/// Returns an ended hold's rooms on every night of its stay. Every night must
/// have its row (the hold created it) and stay within the room type's total;
/// anything else is corruption, and the transaction is abandoned.
async fn give_back(tx: &mut Transaction<'static, Any>, ended: &Ended) -> Result<(), Error> {
    let (Some(room_type_id), Some(check_in), Some(check_out)) =
        (&ended.room_type_id, &ended.check_in, &ended.check_out)
    else {
        return Ok(()); // a tombstone holds nothing
    };
    let stay = Stay::stored(date(check_in)?, date(check_out)?).ok_or_else(|| corrupt("stay"))?;
    let restored = sqlx::query(
        "UPDATE room_nights SET available = available + $1 \
         WHERE room_type_id = $2 AND night >= $3 AND night < $4 \
         AND available + $1 <= (SELECT total_rooms FROM room_types WHERE id = $2)",
    )
    .bind(ended.rooms)
    .bind(room_type_id)
    .bind(check_in)
    .bind(check_out)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if restored != u64::from(stay.nights()) {
        return Err(corrupt("room inventory").into());
    }
    Ok(())
}

async fn fetch_hold(tx: &mut Transaction<'static, Any>, hold_id: &HoldId) -> Result<Option<Hold>, Error> {
    let row: Option<HoldRow> = sqlx::query_as(
        "SELECT hold_id, hotel_id, room_type_id, check_in, check_out, rooms, guests, price_minor, currency, \
         state, expires_ms FROM room_holds WHERE hold_id = $1",
    )
    .bind(hold_id.as_str())
    .fetch_optional(&mut **tx)
    .await?;
    row.map(HoldRow::into_domain).transpose()
}

impl HoldRow {
    fn into_domain(self) -> Result<Hold, Error> {
        let booking = match (self.hotel_id, self.room_type_id, self.check_in, self.check_out) {
            (Some(hotel_id), Some(room_type_id), Some(check_in), Some(check_out)) => Some(Booking {
                hotel_id,
                room_type_id,
                stay: Stay::stored(date(&check_in)?, date(&check_out)?).ok_or_else(|| corrupt("stay"))?,
                rooms: count(self.rooms, "rooms")?,
                guests: count(self.guests, "guests")?,
            }),
            _ => None,
        };
        Ok(Hold {
            hold_id: HoldId::parse(&self.hold_id).map_err(|_| corrupt("hold id"))?,
            total_price: if booking.is_none() {
                money(0, "XXX")?
            } else {
                money(self.price_minor, &self.currency)?
            },
            state: HoldState::parse(&self.state).ok_or_else(|| corrupt("hold state"))?,
            expires_at: UnixMillis::from_unix_millis(self.expires_ms),
            booking,
        })
    }
}
