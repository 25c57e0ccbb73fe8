//! Test-only crash points. With the `crash-points` feature (which the crate's
//! own tests turn on), `Settings::crash_after` makes the saga stop dead right
//! after persisting a step, as a crashed process would, with `Error::Crashed`.
//! Without it — every production build — neither exists and [`Saga::crash_at`]
//! does nothing; the points stay named so the saga reads the same either way.

use super::Saga;
use crate::domain::Step;
use crate::error::Error;

/// Where a test makes the saga stop dead, right after persisting a step, as if
/// the process crashed there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashPoint {
    /// After the reservation was persisted as PENDING/HOLDING, before any hold.
    Holding,
    /// After both holds were taken and their prices recorded, before the pivot.
    Held,
    /// After COMPENSATING was persisted, before any release.
    Compensating,
    /// After CONFIRMING (the pivot) was persisted, before any confirm.
    Confirming,
    /// After CANCELLING was persisted, before any release.
    Cancelling,
}

impl Saga {
    /// A crash right after `step` was persisted, if the tests configured one there.
    pub(super) fn crash_after(&self, step: Step) -> Result<(), Error> {
        match step {
            Step::Compensating => self.crash_at(CrashPoint::Compensating),
            Step::Confirming => self.crash_at(CrashPoint::Confirming),
            _ => Ok(()),
        }
    }

    /// A crash right here, if the tests configured one.
    #[cfg(feature = "crash-points")]
    pub(super) fn crash_at(&self, point: CrashPoint) -> Result<(), Error> {
        if self.settings.crash_after == Some(point) {
            tracing::warn!(?point, "injected crash");
            return Err(Error::Crashed);
        }
        Ok(())
    }

    /// Nothing: crash points exist only with the `crash-points` feature.
    #[cfg(not(feature = "crash-points"))]
    pub(super) fn crash_at(&self, _point: CrashPoint) -> Result<(), Error> {
        Ok(())
    }
}
