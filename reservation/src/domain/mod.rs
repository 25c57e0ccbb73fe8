//! The reservation domain: where a reservation is in its life ([`State`]), where
//! its checkout saga is ([`Step`]), the reservation with its flight and hotel
//! parts ([`Part`]), the validated checkout request ([`checkout`]), and why a
//! reservation failed ([`failure`]).

pub mod checkout;
pub mod failure;

pub use checkout::{Checkout, FlightPart, HotelPart};

use travel::types::{Date, HoldId, Money, UnixMillis};

/// Where a reservation is in its life (the contract's `ReservationState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// The saga is running: holding, compensating or confirming.
    Pending,
    /// Booked; stays CONFIRMED while a cancellation is releasing it.
    Confirmed,
    /// Not booked; every hold was released.
    Failed,
    /// Was confirmed, then cancelled; seats and rooms went back.
    Cancelled,
}

/// Where the saga of a reservation is; persisted before the work of the step
/// starts, so that a restart knows what to finish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Taking the holds (state PENDING). Undone by compensation if interrupted.
    Holding,
    /// Releasing every hold, then FAILED (state PENDING).
    Compensating,
    /// Past the pivot: confirming both holds, then CONFIRMED (state PENDING).
    /// From here the saga only moves forward.
    Confirming,
    /// Releasing the holds of a cancelled reservation, then CANCELLED (state CONFIRMED).
    Cancelling,
    /// Nothing left to do: CONFIRMED, FAILED or CANCELLED.
    Done,
}

macro_rules! stored_names {
    ($ty:ty { $($variant:ident => $name:literal),* $(,)? }) => {
        impl $ty {
            /// The name stored in the database.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $name),* }
            }

            /// Reads a stored name.
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($name => Some(Self::$variant),)* _ => None }
            }
        }
    };
}

stored_names!(State { Pending => "PENDING", Confirmed => "CONFIRMED", Failed => "FAILED", Cancelled => "CANCELLED" });
stored_names!(Step {
    Holding => "HOLDING",
    Compensating => "COMPENSATING",
    Confirming => "CONFIRMING",
    Cancelling => "CANCELLING",
    Done => "DONE",
});

/// Which part of a bundle: the seats or the rooms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The seats, at the flight service.
    Flight,
    /// The rooms, at the hotel service.
    Hotel,
}

impl Part {
    /// The part's name in messages for people: "flight" or "hotel".
    pub fn name(self) -> &'static str {
        match self {
            Self::Flight => "flight",
            Self::Hotel => "hotel",
        }
    }
}

impl std::fmt::Display for Part {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The flight part of a reservation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlightBooking {
    /// The flight.
    pub flight_id: String,
    /// Seats booked.
    pub seats: u32,
    /// `<reservation id>-flight`: the seat hold's id in the flight service.
    pub hold_id: HoldId,
    /// As priced by the flight service when the hold was taken.
    pub price: Option<Money>,
    /// When the seat hold expires unless confirmed, as the flight service said.
    pub hold_expires: Option<UnixMillis>,
}

/// The hotel part of a reservation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HotelBooking {
    /// The hotel.
    pub hotel_id: String,
    /// The room type, one of the hotel's.
    pub room_type_id: String,
    /// First night.
    pub check_in: Date,
    /// Day of departure.
    pub check_out: Date,
    /// Rooms on each night.
    pub rooms: u32,
    /// People staying.
    pub guests: u32,
    /// `<reservation id>-hotel`: the room hold's id in the hotel service.
    pub hold_id: HoldId,
    /// As priced by the hotel service when the hold was taken.
    pub price: Option<Money>,
    /// When the room hold expires unless confirmed, as the hotel service said.
    pub hold_expires: Option<UnixMillis>,
}

/// A reservation as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    /// Server-assigned id (a UUID).
    pub id: String,
    /// The `sub` of the token that booked it.
    pub user_id: String,
    /// Life-cycle state.
    pub state: State,
    /// Saga step.
    pub step: Step,
    /// The flight part, if any.
    pub flight: Option<FlightBooking>,
    /// The hotel part, if any.
    pub hotel: Option<HotelBooking>,
    /// Sum of the parts' prices; set when CONFIRMED.
    pub total: Option<Money>,
    /// Why it failed (recorded when compensation starts; shown when FAILED).
    pub failure_reason: Option<String>,
    /// Why it was cancelled (recorded when the cancellation begins).
    pub cancel_reason: Option<String>,
    /// When it was created.
    pub created: UnixMillis,
    /// When it last changed.
    pub updated: UnixMillis,
}

impl Reservation {
    /// The hold id of `part`, if the reservation has that part.
    pub fn hold_id(&self, part: Part) -> Option<&HoldId> {
        match part {
            Part::Flight => self.flight.as_ref().map(|f| &f.hold_id),
            Part::Hotel => self.hotel.as_ref().map(|h| &h.hold_id),
        }
    }
}

/// Why a reservation was cancelled, in words for people (`cancel_reason`).
pub mod cancelled {
    /// By its owner, with CancelReservation.
    pub const BY_CUSTOMER: &str = "cancelled by the customer";
    /// By an administrator, with CancelReservation on someone else's reservation.
    pub const BY_ADMIN: &str = "cancelled by an administrator";
    /// Because the flight service reported the flight cancelled (FlightCancelled).
    pub const FLIGHT_CANCELLED: &str = "flight cancelled by the airline";
}

/// The hold id of a reservation's flight part.
pub fn flight_hold_id(reservation_id: &str) -> Result<HoldId, &'static str> {
    HoldId::parse(&format!("{reservation_id}-flight"))
}

/// The hold id of a reservation's hotel part.
pub fn hotel_hold_id(reservation_id: &str) -> Result<HoldId, &'static str> {
    HoldId::parse(&format!("{reservation_id}-hotel"))
}

/// True when a hold that `expires` still has at least `min` left at `now`:
/// the condition for passing the pivot on it.
pub fn lasts(expires: UnixMillis, now: UnixMillis, min: std::time::Duration) -> bool {
    let min_ms = i64::try_from(min.as_millis()).unwrap_or(i64::MAX);
    expires.unix_millis().saturating_sub(now.unix_millis()) >= min_ms
}

/// The total of a reservation from the prices the services returned: exact
/// integer minor units, refused (with a reason for people) when the parts are
/// priced in different currencies or the sum overflows.
pub fn total(flight: Option<Money>, hotel: Option<Money>) -> Result<Money, String> {
    match (flight, hotel) {
        (Some(f), Some(h)) if f.currency != h.currency => {
            Err(failure::mixed_currencies(f.currency.as_str(), h.currency.as_str()))
        }
        (Some(f), Some(h)) => f
            .amount_minor
            .checked_add(h.amount_minor)
            .map(|amount_minor| Money {
                amount_minor,
                currency: f.currency,
            })
            .ok_or_else(|| failure::TOTAL_TOO_LARGE.to_owned()),
        (Some(one), None) | (None, Some(one)) => Ok(one),
        (None, None) => Err(failure::NO_PRICED_PART.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use travel::types::Currency;

    fn money(amount_minor: i64, currency: &str) -> Money {
        Money {
            amount_minor,
            currency: Currency::parse(currency).unwrap(),
        }
    }

    #[test]
    fn states_and_steps_round_trip_through_storage() {
        for s in [State::Pending, State::Confirmed, State::Failed, State::Cancelled] {
            assert_eq!(State::parse(s.as_str()), Some(s));
        }
        for s in [
            Step::Holding,
            Step::Compensating,
            Step::Confirming,
            Step::Cancelling,
            Step::Done,
        ] {
            assert_eq!(Step::parse(s.as_str()), Some(s));
        }
        assert_eq!(Step::parse("nope"), None);
    }

    #[test]
    fn hold_ids_derive_from_the_reservation_id() {
        let id = "0190f5b2-7c1e-7a3b-9d4e-123456789abc";
        assert_eq!(flight_hold_id(id).unwrap().as_str(), format!("{id}-flight"));
        assert_eq!(hotel_hold_id(id).unwrap().as_str(), format!("{id}-hotel"));
    }

    #[test]
    fn a_hold_lasts_only_with_the_minimum_left() {
        let now = UnixMillis::from_unix_millis(1_000_000);
        let min = std::time::Duration::from_secs(60);
        assert!(lasts(UnixMillis::from_unix_millis(1_060_000), now, min));
        assert!(!lasts(UnixMillis::from_unix_millis(1_059_999), now, min));
        assert!(!lasts(UnixMillis::from_unix_millis(0), now, min), "expired");
    }

    #[test]
    fn totals_are_exact_and_refuse_mixed_currencies() {
        assert_eq!(
            total(Some(money(24_000, "EUR")), Some(money(36_000, "EUR"))),
            Ok(money(60_000, "EUR"))
        );
        assert_eq!(total(None, Some(money(1, "USD"))), Ok(money(1, "USD")));
        let mixed = total(Some(money(1, "EUR")), Some(money(1, "USD"))).unwrap_err();
        assert_eq!(
            mixed,
            "the flight is priced in EUR and the hotel in USD; a bundle must be in one currency"
        );
        assert!(total(Some(money(i64::MAX, "EUR")), Some(money(1, "EUR"))).is_err());
    }
}
