//! Who drives a saga: a fresh owner per call or recovery attempt, with a
//! lease that recovery waits out before it takes the saga over; and how a
//! call waits on a saga that another driver has.

use std::time::Duration;

use travel::deadline::Deadline;

use super::Saga;
use crate::domain::Reservation;
use crate::error::Error;
use crate::store::Lease;

/// How often a caller waiting for a checkout driven by another call re-reads it.
const POLL: Duration = Duration::from_millis(50);

impl Saga {
    /// Re-reads `r` every [`POLL`] while `busy` holds, until `deadline`.
    pub(super) async fn wait_while(
        &self,
        mut r: Reservation,
        deadline: Deadline,
        busy: impl Fn(&Reservation) -> bool,
    ) -> Result<Reservation, Error> {
        while busy(&r) && deadline.remaining() > POLL {
            tokio::time::sleep(POLL).await;
            r = self.store.get(&r.id).await?;
        }
        Ok(r)
    }

    /// A lease for `owner` from now.
    pub(super) fn lease<'a>(&self, owner: &'a str) -> Lease<'a> {
        Lease {
            owner,
            until: self.clock.now().plus(self.settings.lease),
        }
    }
}

/// A fresh lease owner: one per call or recovery attempt.
pub(super) fn new_owner() -> String {
    uuid::Uuid::new_v4().to_string()
}
