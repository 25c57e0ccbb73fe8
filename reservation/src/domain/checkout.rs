//! A validated checkout request: a flight part, a hotel part, or both, and the
//! caller's idempotency key, with the fingerprint that tells a retry of the same
//! request from a different request sent under the same key.

use travel::types::{Date, RequestId};

/// Most seats one checkout may book.
pub const MAX_SEATS: i32 = 9;
/// Most rooms one checkout may book on each night.
pub const MAX_ROOMS: i32 = 9;
/// Most people one stay may be for.
pub const MAX_GUESTS: i32 = 20;
/// Most nights one stay may have.
pub const MAX_NIGHTS: i64 = 30;

/// Seats on a flight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlightPart {
    /// The flight.
    pub flight_id: String,
    /// Seats, 1 to [`MAX_SEATS`].
    pub seats: u32,
}

/// Rooms in a hotel for the nights [check_in, check_out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HotelPart {
    /// The hotel.
    pub hotel_id: String,
    /// The room type.
    pub room_type_id: String,
    /// First night.
    pub check_in: Date,
    /// Day of departure: after check-in, at most [`MAX_NIGHTS`] later.
    pub check_out: Date,
    /// Rooms on each night, 1 to [`MAX_ROOMS`].
    pub rooms: u32,
    /// People staying, 1 to [`MAX_GUESTS`].
    pub guests: u32,
}

/// A validated Checkout: at least one part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkout {
    /// The caller's idempotency key.
    pub request_id: RequestId,
    /// Seats to book, if any.
    pub flight: Option<FlightPart>,
    /// Rooms to book, if any.
    pub hotel: Option<HotelPart>,
}

/// Why `check_out` is not acceptable after `check_in`, if it is not.
pub fn check_stay(check_in: Date, check_out: Date) -> Result<(), String> {
    let nights = check_in.days_until(check_out);
    if nights < 1 {
        Err("must be after check_in".into())
    } else if nights > MAX_NIGHTS {
        Err(format!("must be at most {MAX_NIGHTS} nights after check_in"))
    } else {
        Ok(())
    }
}

impl Checkout {
    /// True when the hotel part's first night is before `today` (UTC): a stay
    /// in the past cannot be booked.
    pub fn starts_before(&self, today: Date) -> bool {
        self.hotel.as_ref().is_some_and(|h| h.check_in < today)
    }

    /// A fingerprint of everything but the request id.
    pub fn fingerprint(&self) -> String {
        let flight = self
            .flight
            .as_ref()
            .map(|f| format!("{}|{}", f.flight_id, f.seats))
            .unwrap_or_default();
        let hotel = self
            .hotel
            .as_ref()
            .map(|h| {
                format!(
                    "{}|{}|{}|{}|{}|{}",
                    h.hotel_id, h.room_type_id, h.check_in, h.check_out, h.rooms, h.guests
                )
            })
            .unwrap_or_default();
        format!("{:016x}", travel::page::fingerprint(&["checkout", &flight, &hotel]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> Date {
        Date::parse_iso(s).unwrap()
    }

    fn checkout(seats: u32) -> Checkout {
        Checkout {
            request_id: RequestId::parse_optional("r1").unwrap().unwrap(),
            flight: Some(FlightPart {
                flight_id: "f1".into(),
                seats,
            }),
            hotel: None,
        }
    }

    #[test]
    fn stays_need_one_to_thirty_nights() {
        assert!(check_stay(date("2030-03-01"), date("2030-03-02")).is_ok());
        assert!(check_stay(date("2030-03-01"), date("2030-03-01")).is_err());
        assert!(check_stay(date("2030-03-01"), date("2030-03-31")).is_ok());
        assert!(check_stay(date("2030-03-01"), date("2030-04-01")).is_err());
    }

    #[test]
    fn a_stay_starting_before_today_is_in_the_past() {
        let mut c = checkout(1);
        assert!(!c.starts_before(date("2030-03-02")), "no hotel part");
        c.hotel = Some(HotelPart {
            hotel_id: "h1".into(),
            room_type_id: "rt1".into(),
            check_in: date("2030-03-01"),
            check_out: date("2030-03-03"),
            rooms: 1,
            guests: 1,
        });
        assert!(c.starts_before(date("2030-03-02")));
        assert!(!c.starts_before(date("2030-03-01")), "checking in today is fine");
    }

    #[test]
    fn fingerprints_tell_different_requests_apart() {
        assert_eq!(checkout(1).fingerprint(), checkout(1).fingerprint());
        assert_ne!(checkout(1).fingerprint(), checkout(2).fingerprint());
    }
}
