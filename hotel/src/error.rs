//! The hotel service's errors and their one mapping to gRPC statuses: each
//! domain refusal to its canonical code, storage failures to a bare INTERNAL.

use tonic::Status;
use travel::Violations;
use travel::hold::{HoldError, refused};
use travel::types::Date;

/// Domain of the `google.rpc.ErrorInfo` attached to business refusals, so that
/// callers can tell them apart by `reason` without parsing messages.
pub const ERROR_DOMAIN: &str = "hotel.travel";

/// Everything a hotel RPC can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is malformed.
    #[error("{0}")]
    Invalid(#[from] Violations),
    /// No hotel has this id.
    #[error("hotel `{0}` not found")]
    HotelNotFound(String),
    /// A hotel or room type was created before under the request id, from a different request.
    #[error("request_id `{0}` was already used for a different request")]
    RequestIdReused(String),
    /// No room type has this id (in the hotel named, if one is).
    #[error(
        "room type `{room_type_id}` not found{}",
        .hotel_id.as_ref().map(|h| format!(" in hotel `{h}`")).unwrap_or_default()
    )]
    RoomTypeNotFound {
        room_type_id: String,
        hotel_id: Option<String>,
    },
    /// Some night of the stay has fewer free rooms than requested.
    #[error(
        "only {available} room(s) of room type `{room_type_id}` free on the night of {night}, {requested} requested"
    )]
    NotEnoughRooms {
        room_type_id: String,
        night: Date,
        requested: u32,
        available: u32,
    },
    /// The rooms requested cannot sleep the guests. The request is well-formed
    /// (every field valid on its own), but the room type's capacity refuses it:
    /// a FAILED_PRECONDITION with reason TOO_MANY_GUESTS, like the other refusals
    /// that depend on the catalog rather than on the request alone.
    #[error("{rooms} room(s) of room type `{room_type_id}` sleep at most {capacity} guest(s), {guests} requested")]
    TooManyGuests {
        room_type_id: String,
        rooms: u32,
        guests: u32,
        capacity: u64,
    },
    /// The stay's check-in is before today (UTC, by the service's clock).
    #[error("check_in {0} is in the past")]
    StayInPast(Date),
    /// A room hold refused: unknown, expired, released, or its id taken.
    #[error(transparent)]
    Hold(#[from] HoldError),
    /// The database failed; details are logged, not returned.
    #[error("storage failure: {0}")]
    Store(#[from] sqlx::Error),
}

impl Error {
    /// Why a hold request was refused, as the `reason` label of
    /// `travel_holds_refused_total`; `None` for what is not a refusal (a
    /// malformed request, a storage failure).
    pub fn hold_refusal(&self) -> Option<&'static str> {
        match self {
            Self::NotEnoughRooms { .. } => Some("sold_out"),
            Self::StayInPast(_) => Some("stay_in_past"),
            Self::RoomTypeNotFound { .. } => Some("room_type_not_found"),
            Self::TooManyGuests { .. } => Some("too_many_guests"),
            Self::Hold(e) => Some(e.refusal.reason()),
            Self::Invalid(_) | Self::HotelNotFound(_) | Self::RequestIdReused(_) | Self::Store(_) => None,
        }
    }
}

impl From<Error> for Status {
    fn from(e: Error) -> Self {
        let message = e.to_string();
        match e {
            Error::Invalid(v) => v.into(),
            Error::HotelNotFound(_) | Error::RoomTypeNotFound { .. } => Status::not_found(message),
            Error::RequestIdReused(_) => Status::already_exists(message),
            Error::NotEnoughRooms { .. } => refused(message, "NOT_ENOUGH_ROOMS", ERROR_DOMAIN),
            Error::TooManyGuests { .. } => refused(message, "TOO_MANY_GUESTS", ERROR_DOMAIN),
            Error::StayInPast(_) => refused(message, "STAY_IN_PAST", ERROR_DOMAIN),
            Error::Hold(refusal) => refusal.into(),
            Error::Store(cause) => travel::error::internal("hotel store failed", &cause),
        }
    }
}

#[cfg(test)]
mod tests {
    use tonic::Code;
    use tonic_types::StatusExt;

    use super::*;

    fn reason(status: &Status) -> Option<String> {
        status.get_error_details().error_info().map(|i| i.reason.clone())
    }

    #[test]
    fn refusals_map_to_failed_precondition_with_a_reason() {
        let status = Status::from(Error::NotEnoughRooms {
            room_type_id: "rt".into(),
            night: Date::parse_iso("2026-05-02").unwrap(),
            requested: 2,
            available: 1,
        });
        assert_eq!(status.code(), Code::FailedPrecondition);
        assert_eq!(reason(&status).as_deref(), Some("NOT_ENOUGH_ROOMS"));
        assert!(status.message().contains("2026-05-02"), "{}", status.message());
    }

    #[test]
    fn guests_that_do_not_fit_are_a_failed_precondition() {
        let status = Status::from(Error::TooManyGuests {
            room_type_id: "rt".into(),
            rooms: 1,
            guests: 3,
            capacity: 2,
        });
        assert_eq!(status.code(), Code::FailedPrecondition);
        assert_eq!(reason(&status).as_deref(), Some("TOO_MANY_GUESTS"));
    }

    #[test]
    fn storage_failures_do_not_leak_details() {
        travel::testing::assert_storage_failure_hidden(|e| Status::from(Error::Store(e)));
    }
}
