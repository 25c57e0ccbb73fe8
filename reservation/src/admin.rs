//! Operators' hand on sagas: which way an unfinished saga may be driven at its
//! step, and driving one now. The saga's own recovery does the work
//! ([`Saga::recover`]): it takes the saga over only once its lease has run out,
//! so an operator never works on a saga alongside its driver, and at each step
//! it goes the only way the saga's rules allow (compensate before the pivot,
//! forward after it) — the action asked for is checked against that first.

use crate::domain::Step;
use crate::error::Error;
use crate::saga::Saga;
use crate::store::SagaStatus;

/// What an operator asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drive {
    /// Retry the step and go on forward (CONFIRMING, CANCELLING).
    RetryForward,
    /// Release the holds of a saga before its pivot (HOLDING, COMPENSATING).
    Compensate,
}

/// Whether `drive` is the way the saga's rules go at `step`.
pub fn allowed(id: &str, step: Step, drive: Drive) -> Result<(), Error> {
    let refused = |why| Err(Error::NotDrivable { id: id.to_owned(), why });
    match (step, drive) {
        (Step::Done, _) => refused("is finished; there is nothing to drive"),
        (Step::Holding | Step::Compensating, Drive::Compensate)
        | (Step::Confirming | Step::Cancelling, Drive::RetryForward) => Ok(()),
        (Step::Holding | Step::Compensating, Drive::RetryForward) => {
            refused("is before the pivot (HOLDING or COMPENSATING): it can only be compensated")
        }
        (Step::Confirming, Drive::Compensate) => {
            refused("is past the pivot (CONFIRMING): it can only be driven forward, to CONFIRMED")
        }
        (Step::Cancelling, Drive::Compensate) => {
            refused("is being cancelled (CANCELLING): it can only be driven forward, to CANCELLED")
        }
    }
}

/// Drives the saga of `status` now, as far as the services allow, if `drive`
/// is allowed at its step and no driver holds it: the saga as the drive left it.
pub async fn drive(saga: &Saga, status: SagaStatus, drive: Drive) -> Result<SagaStatus, Error> {
    let id = status.reservation.id.clone();
    allowed(&id, status.reservation.step, drive)?;
    if saga.recover(status.reservation).await?.is_some() {
        return saga.store().saga(&id).await;
    }
    // Not taken over: finished meanwhile, or a driver's lease is live.
    let now = saga.store().saga(&id).await?;
    allowed(&id, now.reservation.step, drive)?;
    Err(Error::Leased {
        id,
        until: prost_types::Timestamp::from(now.lease_until).to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn before_the_pivot_only_compensation_after_it_only_forward() {
        let ok = |step, drive| allowed("r", step, drive).is_ok();
        assert!(ok(Step::Holding, Drive::Compensate));
        assert!(ok(Step::Compensating, Drive::Compensate));
        assert!(!ok(Step::Holding, Drive::RetryForward));
        assert!(!ok(Step::Compensating, Drive::RetryForward));
        assert!(ok(Step::Confirming, Drive::RetryForward));
        assert!(!ok(Step::Confirming, Drive::Compensate));
        assert!(ok(Step::Cancelling, Drive::RetryForward));
        assert!(!ok(Step::Cancelling, Drive::Compensate));
        assert!(!ok(Step::Done, Drive::RetryForward));
        assert!(!ok(Step::Done, Drive::Compensate));
    }
}
