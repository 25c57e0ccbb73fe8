//! The flight service's errors and their one mapping to gRPC statuses: each
//! domain refusal to its canonical code, storage failures to a bare INTERNAL.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};
use travel::Violations;
use travel::types::HoldId;

/// Domain of the `google.rpc.ErrorInfo` attached to business refusals, so that
/// callers can tell them apart by `reason` without parsing messages.
pub const ERROR_DOMAIN: &str = "flight.travel";

/// Everything a flight RPC can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is malformed.
    #[error("{0}")]
    Invalid(#[from] Violations),
    /// No flight has this id.
    #[error("flight `{0}` not found")]
    FlightNotFound(String),
    /// No hold has this id.
    #[error("seat hold `{0}` not found")]
    HoldNotFound(HoldId),
    /// The flight has departed (by the service's clock): it takes no new hold.
    #[error("flight `{0}` has departed")]
    FlightDeparted(String),
    /// A new flight's departure is not after now.
    #[error("departure_time is not in the future")]
    DepartureInPast,
    /// Not enough seats are available.
    #[error("only {available} seat(s) available on flight `{flight_id}`, {requested} requested")]
    NotEnoughSeats {
        flight_id: String,
        requested: u32,
        available: u32,
    },
    /// The hold expired before it was confirmed.
    #[error("seat hold `{0}` has expired; its seats were returned to inventory")]
    HoldExpired(HoldId),
    /// The hold, or its id, was released.
    #[error("seat hold `{0}` was released")]
    HoldReleased(HoldId),
    /// The hold id is taken by a hold for other seats.
    #[error("hold id `{0}` is already used by a different hold")]
    HoldIdInUse(HoldId),
    /// The request id was used before for a different request.
    #[error("request_id `{0}` was already used for a different request")]
    RequestIdReused(String),
    /// The database failed; details are logged, not returned.
    #[error("storage failure: {0}")]
    Store(#[from] sqlx::Error),
}

impl From<Error> for Status {
    fn from(e: Error) -> Self {
        let message = e.to_string();
        match e {
            Error::Invalid(v) => v.into(),
            Error::FlightNotFound(_) | Error::HoldNotFound(_) => Status::not_found(message),
            Error::HoldIdInUse(_) | Error::RequestIdReused(_) => Status::already_exists(message),
            Error::NotEnoughSeats { .. } => refused(message, "NOT_ENOUGH_SEATS"),
            Error::FlightDeparted(_) => refused(message, "FLIGHT_DEPARTED"),
            Error::DepartureInPast => refused(message, "DEPARTURE_IN_PAST"),
            Error::HoldExpired(_) => refused(message, "HOLD_EXPIRED"),
            Error::HoldReleased(_) => refused(message, "HOLD_RELEASED"),
            Error::Store(cause) => travel::error::internal("flight store failed", &cause),
        }
    }
}

/// A FAILED_PRECONDITION with a machine-readable reason.
fn refused(message: String, reason: &str) -> Status {
    Status::with_error_details(
        Code::FailedPrecondition,
        message,
        ErrorDetails::with_error_info(reason, ERROR_DOMAIN, []),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_map_to_failed_precondition_with_a_reason() {
        let status = Status::from(Error::NotEnoughSeats {
            flight_id: "f".into(),
            requested: 2,
            available: 1,
        });
        assert_eq!(status.code(), Code::FailedPrecondition);
        assert_eq!(
            status.get_error_details().error_info().map(|i| i.reason.as_str()),
            Some("NOT_ENOUGH_SEATS")
        );
    }

    #[test]
    fn storage_failures_do_not_leak_details() {
        let status = Status::from(Error::Store(sqlx::Error::Protocol("SELECT secret FROM x".into())));
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("SELECT"));
    }
}
