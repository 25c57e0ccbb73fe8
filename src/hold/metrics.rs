//! The hold counters of one inventory service, registered in its own registry:
//! holds taken, refused (by reason), confirmed, released and expired. Each is
//! counted where its change commits, so a replayed request, which changes
//! nothing, is never counted twice.

use prometheus::{IntCounter, IntCounterVec, Opts, Registry};

/// The counters; cheap to clone (each clone counts into the same series).
#[derive(Debug, Clone)]
pub struct HoldMetrics {
    taken: IntCounter,
    refused: IntCounterVec,
    confirmed: IntCounter,
    released: IntCounter,
    expired: IntCounter,
}

impl HoldMetrics {
    /// Registers the counters in `registry`.
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let counter = |name: &str, help: &str| -> prometheus::Result<IntCounter> {
            let c = IntCounter::new(name, help)?;
            registry.register(Box::new(c.clone()))?;
            Ok(c)
        };
        let refused = IntCounterVec::new(
            Opts::new(
                "travel_holds_refused_total",
                "Hold requests refused by the inventory (malformed ones are not counted), by reason: \
                 sold_out, flight_departed, flight_not_found, stay_in_past, room_type_not_found, \
                 too_many_guests, hold_id_in_use, hold_released, hold_expired, hold_not_found.",
            ),
            &["reason"],
        )?;
        registry.register(Box::new(refused.clone()))?;
        Ok(Self {
            taken: counter(
                "travel_holds_taken_total",
                "New holds that took inventory (a retried hold request is not counted again).",
            )?,
            refused,
            confirmed: counter(
                "travel_holds_confirmed_total",
                "Holds confirmed: their inventory is sold (confirming again is not counted).",
            )?,
            released: counter(
                "travel_holds_released_total",
                "Holds released on request, held or confirmed, their inventory given back.",
            )?,
            expired: counter(
                "travel_holds_expired_total",
                "Holds that ran out of time unconfirmed, their inventory given back: by the sweeper, \
                 or when a later request found them due.",
            )?,
        })
    }

    /// A new hold took its inventory.
    pub fn taken(&self) {
        self.taken.inc();
    }

    /// A hold request was refused for `reason` (snake_case, from a fixed set).
    pub fn refused(&self, reason: &'static str) {
        self.refused.with_label_values(&[reason]).inc();
    }

    /// A HELD hold became CONFIRMED.
    pub fn confirmed(&self) {
        self.confirmed.inc();
    }

    /// A live hold was released.
    pub fn released(&self) {
        self.released.inc();
    }

    /// `n` holds expired.
    pub fn expired(&self, n: u64) {
        self.expired.inc_by(n);
    }
}
