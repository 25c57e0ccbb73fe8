//! The background task that gives the rooms of expired holds back to inventory.

use std::time::Duration;

use travel::SharedClock;

use crate::store::Store;

/// Sweeps expired holds every `interval`, forever; failures are logged and retried.
pub async fn run(store: Store, clock: SharedClock, interval: Duration) {
    let mut ticker = tokio::time::interval(interval.max(Duration::from_millis(10)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        match store.expire_due_holds(clock.now()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(holds = n, "expired room holds returned to inventory"),
            Err(e) => tracing::warn!(error = %e, "sweeping expired room holds failed; will retry"),
        }
    }
}
