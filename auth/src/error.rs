//! The auth service's errors and their one mapping to gRPC statuses. Every
//! refusal of credentials gets the same UNAUTHENTICATED message per kind of
//! credential, whatever the reason, so an answer never tells which part was
//! wrong; storage and crypto failures become a bare INTERNAL.

use std::time::Duration;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};
use travel::Violations;

/// Everything an auth RPC can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is malformed.
    #[error("{0}")]
    Invalid(#[from] Violations),
    /// Login: unknown email or wrong password (never said which).
    #[error("invalid email or password")]
    BadPassword,
    /// Refresh: unknown, expired, spent or revoked refresh token.
    #[error("the refresh token is not valid; log in again")]
    BadRefreshToken,
    /// IssueServiceToken: unknown client id or wrong secret.
    #[error("invalid client id or client secret")]
    BadClientSecret,
    /// Too many failed attempts recently.
    #[error("too many failed attempts; try again in {} seconds", .0.as_secs().max(1))]
    Throttled(Duration),
    /// Every password-hashing slot is busy and the wait for one ran out.
    #[error("the service is busy; try again in {} seconds", .0.as_secs().max(1))]
    Busy(Duration),
    /// The database failed; details are logged, not returned.
    #[error("storage failure: {0}")]
    Store(#[from] sqlx::Error),
    /// Hashing or verifying a password failed (not a wrong password).
    #[error("password hashing failed: {0}")]
    Hashing(#[from] argon2::password_hash::Error),
    /// The operating system's random generator failed.
    #[error("random generator failed: {0}")]
    Random(#[from] getrandom::Error),
    /// A password-hashing thread could not be started.
    #[error("could not start a hashing thread: {0}")]
    Thread(std::io::Error),
    /// A password-hashing thread stopped (a hash panicked).
    #[error("the hashing threads stopped")]
    HashingStopped,
}

impl From<Error> for Status {
    fn from(e: Error) -> Self {
        let message = e.to_string();
        match e {
            Error::Invalid(v) => v.into(),
            Error::BadPassword | Error::BadRefreshToken | Error::BadClientSecret => Status::unauthenticated(message),
            Error::Throttled(retry_after) | Error::Busy(retry_after) => Status::with_error_details(
                Code::ResourceExhausted,
                message,
                ErrorDetails::with_retry_info(Some(retry_after)),
            ),
            Error::Store(cause) => travel::error::internal("auth store failed", &cause),
            Error::Hashing(cause) => travel::error::internal("password hashing failed", &cause),
            Error::Random(cause) => travel::error::internal("random generator failed", &cause),
            Error::Thread(cause) => travel::error::internal("hashing thread failed", &cause),
            Error::HashingStopped => travel::error::internal("hashing thread failed", &Error::HashingStopped),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_refusals_are_unauthenticated() {
        for e in [Error::BadPassword, Error::BadRefreshToken, Error::BadClientSecret] {
            assert_eq!(Status::from(e).code(), Code::Unauthenticated);
        }
    }

    #[test]
    fn throttling_says_when_to_retry() {
        let status = Status::from(Error::Throttled(Duration::from_secs(90)));
        assert_eq!(status.code(), Code::ResourceExhausted);
        let retry = status.get_error_details().retry_info().and_then(|r| r.retry_delay);
        assert_eq!(retry, Some(Duration::from_secs(90)));
    }

    #[test]
    fn a_busy_hashing_pool_says_when_to_retry() {
        let status = Status::from(Error::Busy(Duration::from_secs(1)));
        assert_eq!(status.code(), Code::ResourceExhausted);
        let retry = status.get_error_details().retry_info().and_then(|r| r.retry_delay);
        assert_eq!(retry, Some(Duration::from_secs(1)));
    }

    #[test]
    fn storage_failures_do_not_leak_details() {
        travel::testing::assert_storage_failure_hidden(|e| Status::from(Error::Store(e)));
    }
}
