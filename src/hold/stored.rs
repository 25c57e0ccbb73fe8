//! Reading a stored hold row back: the columns every service's hold table has,
//! decoded into a [`Hold`]; bad data is a storage error, never a panic.

use sqlx::FromRow;

use super::{Hold, HoldState};
use crate::stored::{corrupt, money};
use crate::types::{HoldId, UnixMillis};

/// The columns of a stored hold that every service has; `#[sqlx(flatten)]` it
/// into the service's row.
#[derive(Debug, FromRow)]
pub struct StoredHold {
    hold_id: String,
    price_minor: i64,
    currency: String,
    state: String,
    expires_ms: i64,
}

impl StoredHold {
    /// The hold, with what it takes (`None` for a tombstone); bad data is an error.
    pub fn into_hold<B>(self, booking: Option<B>) -> Result<Hold<B>, sqlx::Error> {
        Ok(Hold {
            hold_id: HoldId::parse(&self.hold_id).map_err(|_| corrupt("hold id"))?,
            total_price: if booking.is_none() {
                money(0, "XXX")?
            } else {
                money(self.price_minor, &self.currency)?
            },
            state: HoldState::parse(&self.state).ok_or_else(|| corrupt("hold state"))?,
            expires_at: UnixMillis::from_unix_millis(self.expires_ms),
            booking,
        })
    }
}
