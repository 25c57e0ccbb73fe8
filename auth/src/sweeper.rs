//! The background task that deletes expired refresh tokens, so the table holds
//! only sessions that can still be refreshed.

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use travel::SharedClock;

use crate::store::Store;

/// Sweeps expired refresh tokens every `interval` until `stop`; failures are
/// logged and retried.
pub async fn run(store: Store, clock: SharedClock, interval: Duration, stop: CancellationToken) {
    let (store, clock) = (&store, &clock);
    travel::background::every(interval, stop, move || async move {
        match store.delete_expired_tokens(clock.now()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(tokens = n, "deleted expired refresh tokens"),
            Err(e) => tracing::warn!(error = %e, "deleting expired refresh tokens failed; will retry"),
        }
    })
    .await;
}
