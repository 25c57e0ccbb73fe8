//! The row every query of a reservation reads, and its reading into the domain.

use sqlx::FromRow;
use travel::stored::{corrupt, count, date, money};
use travel::types::{HoldId, Money, UnixMillis};

use crate::domain::{FlightBooking, HotelBooking, Reservation, State, Step};
use crate::error::Error;

#[derive(FromRow)]
pub(super) struct Row {
    id: String,
    user_id: String,
    state: String,
    step: String,
    flight_id: Option<String>,
    seats: Option<i64>,
    flight_hold_id: Option<String>,
    flight_price_minor: Option<i64>,
    flight_currency: Option<String>,
    hotel_id: Option<String>,
    room_type_id: Option<String>,
    check_in: Option<String>,
    check_out: Option<String>,
    rooms: Option<i64>,
    guests: Option<i64>,
    hotel_hold_id: Option<String>,
    hotel_price_minor: Option<i64>,
    hotel_currency: Option<String>,
    total_minor: Option<i64>,
    total_currency: Option<String>,
    failure_reason: Option<String>,
    created_ms: i64,
    updated_ms: i64,
    flight_hold_expires_ms: Option<i64>,
    hotel_hold_expires_ms: Option<i64>,
    cancel_reason: Option<String>,
}

/// The columns a [`Row`] reads, in one place for every query that makes one.
macro_rules! row_columns {
    () => {
        "id, user_id, state, step, flight_id, seats, flight_hold_id, flight_price_minor, \
         flight_currency, hotel_id, room_type_id, check_in, check_out, rooms, guests, hotel_hold_id, \
         hotel_price_minor, hotel_currency, total_minor, total_currency, failure_reason, created_ms, updated_ms, \
         flight_hold_expires_ms, hotel_hold_expires_ms, cancel_reason"
    };
}

pub(super) const COLUMNS: &str = concat!("SELECT ", row_columns!(), " FROM reservations");

fn price(minor: Option<i64>, currency: Option<String>) -> Result<Option<Money>, sqlx::Error> {
    match (minor, currency) {
        (Some(minor), Some(currency)) => money(minor, &currency).map(Some),
        _ => Ok(None),
    }
}

fn hold_id(s: Option<String>) -> Result<HoldId, sqlx::Error> {
    HoldId::parse(&s.unwrap_or_default()).map_err(|_| corrupt("hold id"))
}

impl Row {
    pub(super) fn into_domain(self) -> Result<Reservation, Error> {
        let flight = match (self.flight_id, self.seats) {
            (Some(flight_id), Some(seats)) => Some(FlightBooking {
                flight_id,
                seats: count(seats, "seats")?,
                hold_id: hold_id(self.flight_hold_id)?,
                price: price(self.flight_price_minor, self.flight_currency)?,
                hold_expires: self.flight_hold_expires_ms.map(UnixMillis::from_unix_millis),
            }),
            _ => None,
        };
        let hotel = match (self.hotel_id, self.room_type_id, self.check_in, self.check_out) {
            (Some(hotel_id), Some(room_type_id), Some(check_in), Some(check_out)) => Some(HotelBooking {
                hotel_id,
                room_type_id,
                check_in: date(&check_in)?,
                check_out: date(&check_out)?,
                rooms: count(self.rooms.unwrap_or(-1), "rooms")?,
                guests: count(self.guests.unwrap_or(-1), "guests")?,
                hold_id: hold_id(self.hotel_hold_id)?,
                price: price(self.hotel_price_minor, self.hotel_currency)?,
                hold_expires: self.hotel_hold_expires_ms.map(UnixMillis::from_unix_millis),
            }),
            _ => None,
        };
        Ok(Reservation {
            id: self.id,
            user_id: self.user_id,
            state: State::parse(&self.state).ok_or_else(|| corrupt("state"))?,
            step: Step::parse(&self.step).ok_or_else(|| corrupt("step"))?,
            flight,
            hotel,
            total: price(self.total_minor, self.total_currency)?,
            failure_reason: self.failure_reason,
            cancel_reason: self.cancel_reason,
            created: UnixMillis::from_unix_millis(self.created_ms),
            updated: UnixMillis::from_unix_millis(self.updated_ms),
        })
    }
}
