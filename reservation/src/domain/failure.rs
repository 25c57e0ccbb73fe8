//! Why a reservation failed: the reasons the saga records, in words for people
//! (kept on the reservation, shown once it is FAILED), made here and only
//! here, and the small fixed set of kinds they fall into ([`Failure`]), which
//! the metrics count by. The kind is read back from the recorded words
//! because a saga may be finished by a later driver (a recovery pass, after a
//! restart) that knows only what was stored.

use std::fmt::Display;

use super::Part;

/// What a saga interrupted while holding is failed with by the driver that takes it over.
pub const INTERRUPTED: &str = "interrupted before both parts were held; nothing was booked";

/// A part was held but no price was recorded for it.
pub const UNPRICED: &str = "the price of a part could not be established";

/// The parts' prices add up to more than can be represented.
pub const TOTAL_TOO_LARGE: &str = "the total price is too large to book";

/// A reservation without any priced part (cannot happen for a valid checkout).
pub const NO_PRICED_PART: &str = "the reservation has no priced part";

/// The suffix of [`mixed_currencies`], by which it is recognised.
const MIXED_CURRENCIES_END: &str = "; a bundle must be in one currency";

/// What follows the part in [`expires_too_soon`], by which it is recognised.
const TOO_SOON: &str = " hold would expire too soon to be sure it is confirmed; nothing was booked";

/// What follows the part in [`refused`].
const REFUSED: &str = " was refused: ";

/// What follows the part in [`not_confirmed`].
const NOT_CONFIRMED: &str = " hold could not be confirmed: ";

/// A hold refused by `part`'s service (sold out, departed, unknown…), for `why`.
/// The refusals of both parts are joined with `"; "`, the flight first.
pub fn refused(part: Part, why: &impl Display) -> String {
    format!("the {part}{REFUSED}{why}")
}

/// `part`'s service could not be reached while holding.
pub fn unavailable(part: Part) -> String {
    format!("the {part} service is unavailable; nothing was booked")
}

/// `part`'s hold would not last long enough past the pivot to be confirmed for sure.
pub fn expires_too_soon(part: Part) -> String {
    format!("the {part}{TOO_SOON}")
}

/// `part`'s service refused to confirm its hold, for `why`.
pub fn not_confirmed(part: Part, why: &impl Display) -> String {
    format!("the {part}{NOT_CONFIRMED}{why}")
}

/// The flight is priced in `flight` and the hotel in `hotel`: no total.
pub fn mixed_currencies(flight: &str, hotel: &str) -> String {
    format!("the flight is priced in {flight} and the hotel in {hotel}{MIXED_CURRENCIES_END}")
}

/// The kind of a failure: the `reason` label of `travel_reservations_finished_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The flight service refused the seats (sold out, departed, unknown flight…).
    FlightRefused,
    /// The hotel service refused the rooms.
    HotelRefused,
    /// Both services refused.
    BothRefused,
    /// The flight service could not be reached while holding.
    FlightUnavailable,
    /// The hotel service could not be reached while holding.
    HotelUnavailable,
    /// A hold would have expired too soon after the pivot.
    HoldTooShort,
    /// A service refused to confirm a hold past the pivot.
    ConfirmRefused,
    /// The parts are priced in different currencies.
    MixedCurrencies,
    /// The prices make no total (one missing, or too large).
    PriceInvalid,
    /// The saga was interrupted while holding (a crash, a restart) and compensated.
    Interrupted,
    /// A reason this version does not write (an older version's, or none).
    Other,
}

impl Failure {
    /// The kind of the recorded `reason`.
    pub fn of(reason: &str) -> Self {
        let about = |part: Part, rest: &str| reason.starts_with(&format!("the {part}{rest}"));
        let either = |rest: &str| about(Part::Flight, rest) || about(Part::Hotel, rest);
        if about(Part::Flight, REFUSED) {
            if reason.contains(&format!("; the {}{REFUSED}", Part::Hotel)) {
                Self::BothRefused
            } else {
                Self::FlightRefused
            }
        } else if about(Part::Hotel, REFUSED) {
            Self::HotelRefused
        } else if reason == unavailable(Part::Flight) {
            Self::FlightUnavailable
        } else if reason == unavailable(Part::Hotel) {
            Self::HotelUnavailable
        } else if either(TOO_SOON) && reason.ends_with(TOO_SOON) {
            Self::HoldTooShort
        } else if either(NOT_CONFIRMED) {
            Self::ConfirmRefused
        } else if reason.starts_with("the flight is priced in ") && reason.ends_with(MIXED_CURRENCIES_END) {
            Self::MixedCurrencies
        } else if [UNPRICED, TOTAL_TOO_LARGE, NO_PRICED_PART].contains(&reason) {
            Self::PriceInvalid
        } else if reason == INTERRUPTED {
            Self::Interrupted
        } else {
            Self::Other
        }
    }

    /// The label value: snake_case, from this fixed set.
    pub fn label(self) -> &'static str {
        match self {
            Self::FlightRefused => "flight_refused",
            Self::HotelRefused => "hotel_refused",
            Self::BothRefused => "both_refused",
            Self::FlightUnavailable => "flight_unavailable",
            Self::HotelUnavailable => "hotel_unavailable",
            Self::HoldTooShort => "hold_too_short",
            Self::ConfirmRefused => "confirm_refused",
            Self::MixedCurrencies => "mixed_currencies",
            Self::PriceInvalid => "price_invalid",
            Self::Interrupted => "interrupted",
            Self::Other => "other",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_the_saga_records_has_its_kind() {
        let why = "flight f1 cannot be held: NOT_ENOUGH_SEATS";
        let both = [refused(Part::Flight, &why), refused(Part::Hotel, &"no rooms")].join("; ");
        let cases = [
            (refused(Part::Flight, &why), Failure::FlightRefused),
            (refused(Part::Hotel, &"no rooms"), Failure::HotelRefused),
            (both, Failure::BothRefused),
            (unavailable(Part::Flight), Failure::FlightUnavailable),
            (unavailable(Part::Hotel), Failure::HotelUnavailable),
            (expires_too_soon(Part::Hotel), Failure::HoldTooShort),
            (not_confirmed(Part::Flight, &"hold expired"), Failure::ConfirmRefused),
            (mixed_currencies("EUR", "USD"), Failure::MixedCurrencies),
            (UNPRICED.to_owned(), Failure::PriceInvalid),
            (TOTAL_TOO_LARGE.to_owned(), Failure::PriceInvalid),
            (NO_PRICED_PART.to_owned(), Failure::PriceInvalid),
            (INTERRUPTED.to_owned(), Failure::Interrupted),
            ("something an older version wrote".to_owned(), Failure::Other),
        ];
        for (reason, kind) in cases {
            assert_eq!(Failure::of(&reason), kind, "{reason}");
        }
    }

    #[test]
    fn the_messages_read_as_before() {
        assert_eq!(
            unavailable(Part::Hotel),
            "the hotel service is unavailable; nothing was booked"
        );
        assert_eq!(
            expires_too_soon(Part::Flight),
            "the flight hold would expire too soon to be sure it is confirmed; nothing was booked"
        );
        assert_eq!(refused(Part::Flight, &"x"), "the flight was refused: x");
    }
}
