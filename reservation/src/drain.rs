//! The service's stop: once it begins, no new saga starts (checkouts,
//! cancellations and operator drives are refused with UNAVAILABLE), and the
//! sagas already running — each on a task of its own, which may outlive the
//! call that started it — are waited for, for at most the drain timeout
//! counted from the moment the stop began.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument as _;

use crate::error::Error;

/// Tracks the sagas in flight and whether the service is stopping.
#[derive(Debug, Clone, Default)]
pub struct Drain {
    stopping: CancellationToken,
    /// When the stop began: the drain timeout counts from there.
    began: Arc<OnceLock<Instant>>,
    sagas: TaskTracker,
}

impl Drain {
    /// A service that is not stopping.
    pub fn new() -> Self {
        Self::default()
    }

    /// The stop begins: from now on no new saga starts.
    pub fn begin(&self) {
        let _ = self.began.set(Instant::now());
        self.stopping.cancel();
    }

    /// Runs a saga on a task of its own, tracked until it finishes; refused
    /// with UNAVAILABLE once the stop has begun.
    pub fn spawn<F>(&self, saga: F) -> Result<JoinHandle<F::Output>, Error>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        if self.stopping.is_cancelled() {
            return Err(Error::ShuttingDown);
        }
        // In the caller's span (the call's server span), so that the saga's
        // spans, and its log lines, are in the call's trace although the saga
        // runs on a task of its own.
        Ok(self.sagas.spawn(saga.in_current_span()))
    }

    /// Waits for the sagas in flight to finish, until `timeout` after the stop
    /// began; those still running then are left to recovery (on the next start,
    /// or on another replica once their lease runs out).
    pub async fn sagas_finished(&self, timeout: Duration) {
        self.sagas.close();
        let until = self.began.get().copied().unwrap_or_else(Instant::now) + timeout;
        if tokio::time::timeout_at(until, self.sagas.wait()).await.is_err() {
            tracing::warn!(
                running = self.sagas.len(),
                ?timeout,
                "drain timed out with sagas in flight; recovery finishes them"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn once_the_stop_began_no_saga_starts_and_those_running_are_waited_for() {
        // Arrange: one saga running, held until `finish` is sent.
        let drain = Drain::new();
        let (finish, finished) = tokio::sync::oneshot::channel::<()>();
        let running = drain
            .spawn(async move {
                let _ = finished.await;
            })
            .expect("starts before the stop");

        // Act
        drain.begin();
        let late = drain.spawn(async {});
        let waiting = tokio::spawn({
            let drain = drain.clone();
            async move { drain.sagas_finished(Duration::from_secs(3600)).await }
        });
        let _ = finish.send(());

        // Assert
        assert!(matches!(late, Err(Error::ShuttingDown)), "{late:?}");
        waiting.await.expect("waited for the running saga");
        assert!(running.is_finished());
    }
}
