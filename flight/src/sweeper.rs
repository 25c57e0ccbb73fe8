//! The background task that gives the seats of expired holds back to inventory,
//! one bounded batch of one flight's holds per transaction.

use std::time::Duration;

use travel::SharedClock;

use crate::store::Store;

/// Sweeps expired holds every `interval`, forever, at most `batch` holds per
/// transaction until none is due; failures are logged and retried.
pub async fn run(store: Store, clock: SharedClock, interval: Duration, batch: u32) {
    let mut ticker = tokio::time::interval(interval.max(Duration::from_millis(10)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let now = clock.now();
        let mut swept = 0;
        loop {
            match store.expire_due_batch(now, batch).await {
                Ok(0) => break,
                Ok(n) => swept += n,
                Err(e) => {
                    tracing::warn!(error = %e, "sweeping expired seat holds failed; will retry");
                    break;
                }
            }
            // Let the service's own writers in between batches.
            tokio::task::yield_now().await;
        }
        if swept > 0 {
            tracing::info!(holds = swept, "expired seat holds returned to inventory");
        }
    }
}
