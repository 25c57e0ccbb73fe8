//! The reservation service's errors and their one mapping to gRPC statuses:
//! each refusal to its canonical code, storage failures to a bare INTERNAL.

use tonic::Status;
use travel::Violations;

use crate::domain::State;

/// Everything a reservation RPC can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is malformed.
    #[error("{0}")]
    Invalid(#[from] Violations),
    /// No reservation with this id is visible to the caller.
    #[error("reservation `{0}` not found")]
    NotFound(String),
    /// The request id was used before by this caller for a different request.
    #[error("request_id `{0}` was already used for a different checkout")]
    RequestIdReused(String),
    /// The reservation's state does not allow the operation.
    #[error("reservation `{id}` is {state}; only a CONFIRMED reservation can be cancelled")]
    NotCancellable {
        /// The reservation.
        id: String,
        /// Its state.
        state: &'static str,
    },
    /// The hotel stay's check-in is before today.
    #[error("the stay starts before today; choose a check_in of today or later")]
    StayInPast,
    /// An operator's drive that the saga's step does not allow.
    #[error("reservation `{id}` {why}")]
    NotDrivable {
        /// The reservation.
        id: String,
        /// Why not, in words for the operator.
        why: &'static str,
    },
    /// An operator's drive of a saga that a driver holds right now.
    #[error(
        "reservation `{id}` is being driven right now (by the call that started it or by a recovery pass), \
         its lease runs until {until}; retry after that"
    )]
    Leased {
        /// The reservation.
        id: String,
        /// When the lease runs out (RFC 3339).
        until: String,
    },
    /// Service accounts do not book.
    #[error("service accounts cannot make or see reservations")]
    ServiceAccount,
    /// The flight or hotel service could not be reached; the message says which
    /// and what became of the reservation.
    #[error("{0}")]
    Unavailable(String),
    /// The service is stopping: it finishes the sagas in flight but starts no new one.
    #[error("the reservation service is shutting down; retry shortly (the same request_id makes a retry safe)")]
    ShuttingDown,
    /// The call's deadline passed before the saga finished.
    #[error("{0}")]
    DeadlineExceeded(String),
    /// Test seam: the saga stopped dead as a crashed process would (see
    /// `CrashPoint`); only with the `crash-points` feature.
    #[cfg(feature = "crash-points")]
    #[error("the reservation service stopped (injected crash)")]
    Crashed,
    /// The database failed; details are logged, not returned.
    #[error("storage failure: {0}")]
    Store(#[from] sqlx::Error),
    /// A saga task died; details are logged, not returned.
    #[error("saga task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

impl Error {
    /// The refusal for cancelling a reservation in `state`.
    pub fn not_cancellable(id: &str, state: State) -> Self {
        Self::NotCancellable {
            id: id.to_owned(),
            state: state.as_str(),
        }
    }
}

impl From<Error> for Status {
    fn from(e: Error) -> Self {
        let message = e.to_string();
        match e {
            Error::Invalid(v) => v.into(),
            Error::NotFound(_) => Status::not_found(message),
            Error::RequestIdReused(_) => Status::already_exists(message),
            Error::NotCancellable { .. } | Error::NotDrivable { .. } | Error::Leased { .. } => {
                Status::failed_precondition(message)
            }
            Error::StayInPast => <Status as tonic_types::StatusExt>::with_error_details(
                tonic::Code::FailedPrecondition,
                message,
                tonic_types::ErrorDetails::with_error_info("STAY_IN_PAST", "reservation.travel", []),
            ),
            Error::ServiceAccount => Status::permission_denied(message),
            Error::Unavailable(_) | Error::ShuttingDown => Status::unavailable(message),
            #[cfg(feature = "crash-points")]
            Error::Crashed => Status::unavailable(message),
            Error::DeadlineExceeded(_) => Status::deadline_exceeded(message),
            Error::Store(cause) => travel::error::internal("reservation store failed", &cause),
            Error::Task(cause) => travel::error::internal("reservation saga task failed", &cause),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::Code;

    #[test]
    fn refusals_map_to_their_codes() {
        assert_eq!(Status::from(Error::NotFound("r".into())).code(), Code::NotFound);
        assert_eq!(
            Status::from(Error::RequestIdReused("r".into())).code(),
            Code::AlreadyExists
        );
        assert_eq!(
            Status::from(Error::not_cancellable("r", State::Pending)).code(),
            Code::FailedPrecondition
        );
        assert_eq!(Status::from(Error::ServiceAccount).code(), Code::PermissionDenied);
        assert_eq!(Status::from(Error::StayInPast).code(), Code::FailedPrecondition);
        assert_eq!(Status::from(Error::Unavailable("x".into())).code(), Code::Unavailable);
    }

    #[test]
    fn storage_failures_do_not_leak_details() {
        travel::testing::assert_storage_failure_hidden(|e| Status::from(Error::Store(e)));
    }
}
