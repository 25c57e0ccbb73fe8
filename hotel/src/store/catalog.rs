//! The hotel catalog in SQL: adding hotels and room types (idempotent by
//! request id) and reading a hotel back with its room types.

use sqlx::FromRow;
use tracing::Instrument as _;
use travel::hold::store::Tx;
use travel::request_store::{first_created, insert_once};
use travel::types::UnixMillis;

use super::{ROOM_TYPE_COLUMNS, RoomTypeRow, Store, fetch_room_type};
use crate::domain::{Hotel, NewHotel, NewRoomType, RoomType};
use crate::error::Error;

#[derive(FromRow)]
struct HotelRow {
    id: String,
    name: String,
    city: String,
    address: String,
}

const HOTEL_COLUMNS: &str = "SELECT id, name, city, address FROM hotels";

impl Store {
    /// Adds a hotel; with a request id, a retry returns the hotel created first.
    pub async fn create_hotel(&self, new: &NewHotel, id: &str, now: UnixMillis) -> Result<Hotel, Error> {
        async {
            let mut tx = self.db.begin_write().await?;
            let insert = sqlx::query(
                "INSERT INTO hotels (id, name, city, city_key, address, request_id, request_hash, created_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (request_id) DO NOTHING",
            )
            .bind(id)
            .bind(new.name.as_str())
            .bind(new.city.as_str())
            .bind(new.city.key())
            .bind(new.address.as_str());
            let inserted = insert_once(&mut tx, insert, new.request_id.as_ref(), new.fingerprint(), now).await?;
            let first_id = if inserted {
                id.to_owned()
            } else {
                // The request id was seen before: a retry gets the first result.
                let first = first_created(&mut tx, "hotels", new.request_id.as_ref(), &new.fingerprint()).await?;
                if !first.same_request {
                    return Err(Error::RequestIdReused(first.request_id));
                }
                first.id
            };
            let hotel = fetch_hotel(&mut tx, &first_id).await?;
            tx.commit().await?;
            hotel.ok_or(Error::HotelNotFound(first_id))
        }
        .instrument(self.db.span("hotel.create_hotel"))
        .await
    }

    /// Adds a room type after the hotel's others; with a request id, a retry
    /// returns the room type added first.
    pub async fn add_room_type(&self, new: &NewRoomType, id: &str, now: UnixMillis) -> Result<RoomType, Error> {
        async {
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
            let insert = sqlx::query(
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
            .bind(new.nightly_price.currency.as_str());
            let inserted = insert_once(&mut tx, insert, new.request_id.as_ref(), new.fingerprint(), now).await?;
            if !inserted {
                // A retry: nothing to keep (not even the number taken above).
                let first = first_created(&mut tx, "room_types", new.request_id.as_ref(), &new.fingerprint()).await?;
                let room_type = fetch_room_type(&mut tx, &first.id).await?;
                tx.rollback().await?;
                if !first.same_request {
                    return Err(Error::RequestIdReused(first.request_id));
                }
                return room_type.ok_or_else(|| Error::HotelNotFound(new.hotel_id.clone()));
            }
            let room_type = fetch_room_type(&mut tx, id).await?;
            tx.commit().await?;
            room_type.ok_or_else(|| Error::HotelNotFound(new.hotel_id.clone()))
        }
        .instrument(self.db.span("hotel.add_room_type"))
        .await
    }

    /// One hotel with its room types, in the order they were added.
    pub async fn get_hotel(&self, id: &str) -> Result<Hotel, Error> {
        async {
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
        .instrument(self.db.span("hotel.get_hotel"))
        .await
    }
}

async fn fetch_hotel(tx: &mut Tx, id: &str) -> Result<Option<Hotel>, Error> {
    let sql = sqlx::AssertSqlSafe(format!("{HOTEL_COLUMNS} WHERE id = $1"));
    let row: Option<HotelRow> = sqlx::query_as(sql).bind(id).fetch_optional(&mut **tx).await?;
    Ok(row.map(HotelRow::into_domain))
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
