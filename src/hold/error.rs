//! Why a hold operation is refused, the same in every inventory service, and
//! the one mapping of those refusals to gRPC statuses.

use std::fmt;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::types::HoldId;

/// How one service's holds are named in its messages, and the
/// `google.rpc.ErrorInfo` domain its refusals carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Holds {
    /// A hold, as messages call it ("seat hold").
    pub noun: &'static str,
    /// What a hold takes ("seats").
    pub units: &'static str,
    /// The domain of the service's `ErrorInfo` (`flight.travel`).
    pub domain: &'static str,
}

impl Holds {
    /// The refusal of `hold_id` for `refusal`.
    pub fn refuse(self, refusal: Refusal, hold_id: &HoldId) -> HoldError {
        HoldError {
            holds: self,
            refusal,
            hold_id: hold_id.clone(),
        }
    }

    /// No hold has this id.
    pub fn not_found(self, hold_id: &HoldId) -> HoldError {
        self.refuse(Refusal::NotFound, hold_id)
    }
}

/// Why a hold operation was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No hold has the id (NOT_FOUND).
    NotFound,
    /// The id is taken by a hold for something else (ALREADY_EXISTS).
    IdInUse,
    /// The hold expired before it was confirmed (HOLD_EXPIRED).
    Expired,
    /// The hold, or its id, was released (HOLD_RELEASED).
    Released,
}

impl Refusal {
    /// The refusal as a metric's `reason` label.
    pub fn reason(self) -> &'static str {
        match self {
            Self::NotFound => "hold_not_found",
            Self::IdInUse => "hold_id_in_use",
            Self::Expired => "hold_expired",
            Self::Released => "hold_released",
        }
    }
}

/// A refused hold operation: which hold, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldError {
    /// The service's names for its holds.
    pub holds: Holds,
    /// Why.
    pub refusal: Refusal,
    /// The hold id asked for.
    pub hold_id: HoldId,
}

impl fmt::Display for HoldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Holds { noun, units, .. } = self.holds;
        let id = &self.hold_id;
        match self.refusal {
            Refusal::NotFound => write!(f, "{noun} `{id}` not found"),
            Refusal::IdInUse => write!(f, "hold id `{id}` is already used by a different hold"),
            Refusal::Expired => write!(f, "{noun} `{id}` has expired; its {units} were returned to inventory"),
            Refusal::Released => write!(f, "{noun} `{id}` was released"),
        }
    }
}

impl std::error::Error for HoldError {}

impl From<HoldError> for Status {
    fn from(e: HoldError) -> Self {
        let message = e.to_string();
        let domain = e.holds.domain;
        match e.refusal {
            Refusal::NotFound => Status::not_found(message),
            Refusal::IdInUse => Status::already_exists(message),
            Refusal::Expired => refused(message, "HOLD_EXPIRED", domain),
            Refusal::Released => refused(message, "HOLD_RELEASED", domain),
        }
    }
}

/// A FAILED_PRECONDITION with a machine-readable `reason` of `domain`, so that
/// callers tell business refusals apart without parsing messages.
pub fn refused(message: String, reason: &str, domain: &str) -> Status {
    Status::with_error_details(
        Code::FailedPrecondition,
        message,
        ErrorDetails::with_error_info(reason, domain, []),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEATS: Holds = Holds {
        noun: "seat hold",
        units: "seats",
        domain: "flight.travel",
    };

    #[test]
    fn refusals_keep_their_codes_and_reasons() {
        let id = HoldId::parse("h1").unwrap();
        let status = Status::from(SEATS.refuse(Refusal::Expired, &id));
        assert_eq!(status.code(), Code::FailedPrecondition);
        assert_eq!(
            status.message(),
            "seat hold `h1` has expired; its seats were returned to inventory"
        );
        let info = status.get_error_details().error_info().cloned().expect("error info");
        assert_eq!(
            (info.reason.as_str(), info.domain.as_str()),
            ("HOLD_EXPIRED", "flight.travel")
        );
        assert_eq!(Status::from(SEATS.not_found(&id)).code(), Code::NotFound);
        assert_eq!(
            Status::from(SEATS.refuse(Refusal::IdInUse, &id)).code(),
            Code::AlreadyExists
        );
    }
}
