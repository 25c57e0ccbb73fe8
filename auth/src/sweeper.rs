//! The background task that deletes expired refresh tokens, so the table holds
//! only sessions that can still be refreshed.

use std::time::Duration;

use travel::SharedClock;

use crate::store::Store;

/// Sweeps expired refresh tokens every `interval`, forever; failures are logged and retried.
pub async fn run(store: Store, clock: SharedClock, interval: Duration) {
    let mut ticker = tokio::time::interval(interval.max(Duration::from_millis(10)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        match store.delete_expired_tokens(clock.now()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(tokens = n, "deleted expired refresh tokens"),
            Err(e) => tracing::warn!(error = %e, "deleting expired refresh tokens failed; will retry"),
        }
    }
}
