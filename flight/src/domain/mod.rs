//! The flight domain: validated values (flight numbers, airports, seat counts),
//! the requests the service acts on, and what a seat hold books (its life
//! cycle is the kit's, `travel::hold`).

mod hold;

pub use hold::{Hold, HoldRequest, HoldState, Seats};

use std::fmt;

use travel::types::{Date, Money, RequestId, UnixMillis};

/// A marketing flight number: a two-character airline designator (letters or
/// digits, at least one letter) and 1 to 4 digits, for example `TP1234`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlightNumber(String);

impl FlightNumber {
    /// Parses a flight number, upper-casing it.
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        let s = s.trim().to_ascii_uppercase();
        let b = s.as_bytes();
        let airline_ok =
            b.len() >= 3 && b[..2].iter().all(u8::is_ascii_alphanumeric) && b[..2].iter().any(u8::is_ascii_alphabetic);
        let number_ok = (3..=6).contains(&b.len()) && b[2..].iter().all(u8::is_ascii_digit);
        if airline_ok && number_ok {
            Ok(Self(s))
        } else {
            Err("must be a two-character airline code and 1 to 4 digits, for example TP1234")
        }
    }

    /// The flight number.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An IATA airport code: three upper-case letters, for example `LIS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Airport(String);

impl Airport {
    /// Parses an airport code; lower case is refused rather than guessed at.
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        if s.len() == 3 && s.bytes().all(|b| b.is_ascii_uppercase()) {
            Ok(Self(s.to_owned()))
        } else {
            Err("must be a three-letter upper-case IATA airport code, for example LIS")
        }
    }

    /// The code.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Airport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Most seats one hold or one search may ask for.
pub const MAX_SEATS_PER_HOLD: i32 = 9;
/// Most seats a flight may have.
pub const MAX_CAPACITY: i32 = 1000;
/// Highest seat price, in minor units: low enough that a hold's price (seat
/// price × [`MAX_SEATS_PER_HOLD`] seats), and a reservation's total with a
/// hotel stay, cannot overflow a 64-bit integer.
pub const MAX_SEAT_PRICE_MINOR: i64 = 1_000_000_000_000_000;

/// Parses a seat price: a valid [`Money`] of at most [`MAX_SEAT_PRICE_MINOR`].
pub fn seat_price(m: Option<&travel::pb::common::v1::Money>) -> Result<Money, String> {
    travel::hold::unit_price(m, MAX_SEAT_PRICE_MINOR)
}

/// New times for a flight (RescheduleFlight), validated: the arrival is after
/// the departure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reschedule {
    /// New departure instant.
    pub departure: UnixMillis,
    /// New arrival instant.
    pub arrival: UnixMillis,
    /// Why, for people (the same rules as a cancellation's reason).
    pub reason: CancelReason,
}

/// A flight to add to the catalog, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFlight {
    /// Marketing flight number.
    pub flight_number: FlightNumber,
    /// Departure airport.
    pub origin: Airport,
    /// Arrival airport, not the origin.
    pub destination: Airport,
    /// Departure instant; its UTC date is what searches match.
    pub departure: UnixMillis,
    /// Arrival instant, after departure.
    pub arrival: UnixMillis,
    /// Price of one seat.
    pub seat_price: Money,
    /// Seats on the flight.
    pub capacity: u32,
    /// Idempotency key, if the caller sent one.
    pub request_id: Option<RequestId>,
}

impl NewFlight {
    /// A fingerprint of everything but the request id, to tell a retry from a
    /// different request sent under the same id.
    pub fn fingerprint(&self) -> String {
        format!(
            "{:016x}",
            travel::page::fingerprint(&[
                self.flight_number.as_str(),
                self.origin.as_str(),
                self.destination.as_str(),
                &self.departure.unix_millis().to_string(),
                &self.arrival.unix_millis().to_string(),
                &self.seat_price.amount_minor.to_string(),
                self.seat_price.currency.as_str(),
                &self.capacity.to_string(),
            ])
        )
    }
}

/// A flight in the catalog with its current availability.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flight {
    /// Server-assigned id.
    pub id: String,
    /// Marketing flight number.
    pub flight_number: String,
    /// Departure airport code.
    pub origin: String,
    /// Arrival airport code.
    pub destination: String,
    /// Departure instant.
    pub departure: UnixMillis,
    /// Arrival instant.
    pub arrival: UnixMillis,
    /// Price of one seat.
    pub seat_price: Money,
    /// Seats on the flight.
    pub capacity: u32,
    /// Seats neither held nor confirmed.
    pub available: u32,
    /// Set once the airline cancelled the flight.
    pub cancelled: Option<Cancellation>,
}

/// When and why a flight was cancelled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cancellation {
    /// When CancelFlight committed.
    pub at: UnixMillis,
    /// Why, as the airline said (may be empty).
    pub reason: CancelReason,
}

/// Why a flight was cancelled or rescheduled, in words for people: at most
/// [`CancelReason::MAX_CHARS`] characters, none of them a control character.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CancelReason(String);

impl CancelReason {
    /// Longest reason, in characters.
    pub const MAX_CHARS: usize = 200;

    /// Parses a reason, trimming white space at either end.
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        let s = s.trim();
        if s.chars().count() > Self::MAX_CHARS {
            Err("must be at most 200 characters")
        } else if s.chars().any(char::is_control) {
            Err("must not contain control characters")
        } else {
            Ok(Self(s.to_owned()))
        }
    }

    /// The reason as stored (it was checked when written).
    pub fn stored(s: String) -> Self {
        Self(s)
    }

    /// The reason.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where a search page starts: after this departure and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// Departure of the last flight of the previous page.
    pub departure: UnixMillis,
    /// Id of the last flight of the previous page.
    pub id: String,
}

impl Cursor {
    /// The cursor's text inside a page token.
    pub fn encode(&self) -> String {
        format!("{}|{}", self.departure.unix_millis(), self.id)
    }

    /// Reads [`Cursor::encode`]'s text.
    pub fn decode(s: &str) -> Option<Self> {
        let (ms, id) = s.split_once('|')?;
        Some(Self {
            departure: UnixMillis::from_unix_millis(ms.parse().ok()?),
            id: id.to_owned(),
        })
    }
}

/// A validated SearchFlights request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Search {
    /// Departure airport.
    pub origin: Airport,
    /// Arrival airport.
    pub destination: Airport,
    /// UTC date of departure.
    pub date: Date,
    /// Seats wanted.
    pub passengers: u32,
    /// Flights per page.
    pub page_size: u32,
    /// Where this page starts; `None` for the first page.
    pub after: Option<Cursor>,
}

impl Search {
    /// The query's fingerprint, which binds page tokens to it.
    pub fn fingerprint(origin: &str, destination: &str, date: &str, passengers: u32) -> u64 {
        travel::page::fingerprint(&["flights", origin, destination, date, &passengers.to_string()])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flight_numbers_need_an_airline_and_digits() {
        assert_eq!(FlightNumber::parse("tp1234").map(|f| f.0), Ok("TP1234".into()));
        assert!(FlightNumber::parse("U21").is_ok());
        assert!(FlightNumber::parse("12345").is_err());
        assert!(FlightNumber::parse("TP12345").is_err());
        assert!(FlightNumber::parse("TP").is_err());
        assert!(FlightNumber::parse("T-123").is_err());
    }

    #[test]
    fn airports_are_three_upper_case_letters() {
        assert!(Airport::parse("LIS").is_ok());
        assert!(Airport::parse("lis").is_err());
        assert!(Airport::parse("LISB").is_err());
        assert!(Airport::parse("L1S").is_err());
    }

    #[test]
    fn seat_prices_are_capped_so_that_a_hold_cannot_overflow() {
        let money = |amount_minor| travel::pb::common::v1::Money {
            amount_minor,
            currency_code: "EUR".into(),
        };
        assert!(seat_price(Some(&money(MAX_SEAT_PRICE_MINOR))).is_ok());
        assert!(seat_price(Some(&money(MAX_SEAT_PRICE_MINOR + 1))).is_err());
        assert!(seat_price(Some(&money(i64::MAX))).is_err());
        assert!(seat_price(Some(&money(-1))).is_err());
        assert!(seat_price(None).is_err());
        let price = seat_price(Some(&money(MAX_SEAT_PRICE_MINOR))).expect("the cap is a valid price");
        assert!(price.times(i64::from(MAX_SEATS_PER_HOLD)).is_some());
    }

    #[test]
    fn cancel_reasons_are_short_and_printable() {
        assert_eq!(
            CancelReason::parse("  crew shortage ").map(|r| r.0),
            Ok("crew shortage".into())
        );
        assert!(CancelReason::parse("").is_ok());
        assert!(CancelReason::parse(&"x".repeat(200)).is_ok());
        assert!(CancelReason::parse(&"x".repeat(201)).is_err());
        assert!(CancelReason::parse("storm\u{0}").is_err());
        assert!(CancelReason::parse("a\nb").is_err());
    }

    #[test]
    fn cursors_round_trip() {
        let c = Cursor {
            departure: UnixMillis::from_unix_millis(42),
            id: "f-1".into(),
        };
        assert_eq!(Cursor::decode(&c.encode()), Some(c));
        assert_eq!(Cursor::decode("garbage"), None);
    }
}
