//! The services' periodic loops, written once: [`every`] runs a task on a
//! fixed interval, [`forever`] runs a loop that keeps its own schedule (the key
//! ring's refetch), and [`sweep_expired_holds`] is the flight and hotel
//! services' sweeper. Each stops when its `stop` token is cancelled: between
//! two rounds, or at the next await point of the round in progress — every
//! round is written to be safe to stop there (a transaction rolls back, a
//! saga is left to the next recovery, with its lease).

use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use crate::SharedClock;
use crate::types::UnixMillis;

/// Shortest interval of a periodic task: a zero from the settings must not spin.
const MIN_INTERVAL: Duration = Duration::from_millis(10);

/// Runs `round` now and then every `interval` (a round that overruns delays the
/// next one instead of causing a burst), until `stop` is cancelled.
pub async fn every<F, Fut>(interval: Duration, stop: CancellationToken, mut round: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let mut ticker = tokio::time::interval(interval.max(MIN_INTERVAL));
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    stop.run_until_cancelled(async {
        loop {
            ticker.tick().await;
            round().await;
        }
    })
    .await;
}

/// As [`every`], and also as soon as `nudge` is notified (a notification
/// during a round runs one more round right after it): for work that someone
/// may need done before the next tick.
pub async fn every_or_nudged<F, Fut>(
    interval: Duration,
    nudge: &tokio::sync::Notify,
    stop: CancellationToken,
    mut round: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let mut ticker = tokio::time::interval(interval.max(MIN_INTERVAL));
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    stop.run_until_cancelled(async {
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                () = nudge.notified() => {}
            }
            round().await;
        }
    })
    .await;
}

/// Runs `round` again and again until `stop` is cancelled: for a loop whose
/// round waits for its own next turn.
pub async fn forever<F, Fut>(stop: CancellationToken, mut round: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    stop.run_until_cancelled(async {
        loop {
            round().await;
        }
    })
    .await;
}

/// Every `interval`, gives the `kind` holds (`"seat"`, `"room"`) that are due at
/// that moment back to inventory with `expire_batch(now)`, one bounded batch per
/// transaction until none is due (it returns how many it expired), letting the
/// service's own writers in between batches; failures are logged and retried
/// on the next round.
pub async fn sweep_expired_holds<F, Fut, E>(
    interval: Duration,
    stop: CancellationToken,
    clock: SharedClock,
    kind: &'static str,
    expire_batch: F,
) where
    F: Fn(UnixMillis) -> Fut,
    Fut: Future<Output = Result<u64, E>>,
    E: Display,
{
    let (clock, expire_batch) = (&clock, &expire_batch);
    every(interval, stop, move || async move {
        let now = clock.now();
        let mut swept = 0;
        loop {
            match expire_batch(now).await {
                Ok(0) => break,
                Ok(n) => swept += n,
                Err(e) => {
                    tracing::warn!(error = %e, kind, "sweeping expired holds failed; will retry");
                    break;
                }
            }
            tokio::task::yield_now().await;
        }
        if swept > 0 {
            tracing::info!(holds = swept, kind, "expired holds returned to inventory");
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[tokio::test]
    async fn a_periodic_task_runs_round_after_round_until_cancelled() {
        // Arrange: the third round cancels the task.
        let rounds = Arc::new(AtomicU32::new(0));
        let stop = CancellationToken::new();
        let task = tokio::spawn(every(Duration::from_millis(10), stop.clone(), {
            let (rounds, stop) = (rounds.clone(), stop.clone());
            move || {
                if rounds.fetch_add(1, Ordering::SeqCst) == 2 {
                    stop.cancel();
                }
                std::future::ready(())
            }
        }));

        // Act
        let stopped = tokio::time::timeout(Duration::from_secs(10), task).await;

        // Assert: the task ended on its own, after the round that cancelled it.
        stopped.expect("the task stops").expect("cleanly");
        assert_eq!(rounds.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_cancelled_loop_stops_in_the_middle_of_its_round() {
        let stop = CancellationToken::new();
        let task = tokio::spawn(forever(stop.clone(), std::future::pending::<()>));
        stop.cancel();
        task.await.expect("the loop stops cleanly");
    }
}
