//! The flight service's errors and their one mapping to gRPC statuses: each
//! domain refusal to its canonical code, storage failures to a bare INTERNAL.

use tonic::Status;
use travel::Violations;
use travel::hold::{HoldError, refused};

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
    /// A flight was created before under the request id, from a different request.
    #[error("request_id `{0}` was already used for a different request")]
    RequestIdReused(String),
    /// The flight has departed (by the service's clock): it takes no new hold.
    #[error("flight `{0}` has departed")]
    FlightDeparted(String),
    /// The airline cancelled the flight: it takes no new hold.
    #[error("flight `{0}` was cancelled by the airline")]
    FlightCancelled(String),
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
    /// A seat hold refused: unknown, expired, released, or its id taken.
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
            Self::NotEnoughSeats { .. } => Some("sold_out"),
            Self::FlightDeparted(_) => Some("flight_departed"),
            Self::FlightCancelled(_) => Some("flight_cancelled"),
            Self::FlightNotFound(_) => Some("flight_not_found"),
            Self::Hold(e) => Some(e.refusal.reason()),
            Self::Invalid(_) | Self::RequestIdReused(_) | Self::DepartureInPast | Self::Store(_) => None,
        }
    }
}

impl From<Error> for Status {
    fn from(e: Error) -> Self {
        let message = e.to_string();
        match e {
            Error::Invalid(v) => v.into(),
            Error::FlightNotFound(_) => Status::not_found(message),
            Error::RequestIdReused(_) => Status::already_exists(message),
            Error::NotEnoughSeats { .. } => refused(message, "NOT_ENOUGH_SEATS", ERROR_DOMAIN),
            Error::FlightDeparted(_) => refused(message, "FLIGHT_DEPARTED", ERROR_DOMAIN),
            Error::FlightCancelled(_) => refused(message, "FLIGHT_CANCELLED", ERROR_DOMAIN),
            Error::DepartureInPast => refused(message, "DEPARTURE_IN_PAST", ERROR_DOMAIN),
            Error::Hold(refusal) => refusal.into(),
            Error::Store(cause) => travel::error::internal("flight store failed", &cause),
        }
    }
}

#[cfg(test)]
mod tests {
    use tonic::Code;
    use tonic_types::StatusExt;

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
        travel::testing::assert_storage_failure_hidden(|e| Status::from(Error::Store(e)));
    }
}
