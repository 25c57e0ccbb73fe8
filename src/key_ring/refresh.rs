//! When the key ring fetches again: the bookkeeping of past fetches that the
//! rate limits and the failure backoff are computed from, and the background
//! refresh that sleeps until the next fetch is due.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::Shared;
use crate::retry::Backoff;

/// Wait after a first failed fetch; it doubles with each failure in a row.
const FIRST_RETRY: Duration = Duration::from_millis(500);
/// Longest wait after failed fetches, jitter included (and never more than the
/// refetch interval): while auth is down, tokens with a key id the ring lacks
/// (all of them, for a service that started before auth) are refused until the
/// next fetch, so that fetch must come soon after auth is back.
pub(super) const MAX_FAILURE_BACKOFF: Duration = Duration::from_secs(5);

/// How a fetch of the keys ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outcome {
    /// Auth answered.
    Fetched,
    /// Auth did not answer, refused, or took too long.
    Failed,
}

/// What the rate limits are computed from.
#[derive(Debug, Default)]
pub(super) struct Fetches {
    /// When the keys were last fetched successfully.
    last_success: Option<std::time::Instant>,
    /// Failed fetches in a row since then.
    failures: u32,
    /// After a failure: no fetch before this.
    pub(super) retry_at: Option<std::time::Instant>,
}

impl Fetches {
    /// Counts a fetch that ended with `outcome`; after a failure, the next one
    /// waits a backoff of at most `cap` (and at most [`MAX_FAILURE_BACKOFF`]).
    pub(super) fn record(&mut self, outcome: Outcome, cap: Duration) {
        let now = std::time::Instant::now();
        if outcome == Outcome::Fetched {
            *self = Self {
                last_success: Some(now),
                failures: 0,
                retry_at: None,
            };
        } else {
            self.failures = self.failures.saturating_add(1);
            let cap = MAX_FAILURE_BACKOFF.min(cap.max(FIRST_RETRY));
            self.retry_at = Some(now + Backoff::new(FIRST_RETRY, cap).wait(self.failures));
        }
    }

    /// True when an unknown key id may cause a fetch now.
    pub(super) fn may_refetch(&self, min_refetch: Duration) -> bool {
        let now = std::time::Instant::now();
        let backing_off = self.retry_at.is_some_and(|at| at > now);
        let fresh = self.last_success.is_some_and(|at| now.duration_since(at) < min_refetch);
        !backing_off && !fresh
    }

    /// How long the background refresh sleeps before its next fetch.
    fn next_refresh_in(&self, max_age: Duration) -> Duration {
        let now = std::time::Instant::now();
        let due = match (self.retry_at, self.last_success) {
            (Some(retry), _) => retry,
            (None, Some(success)) => success + max_age,
            // Nothing tried yet: whoever built the ring fetches first (`connect`).
            (None, None) => now + max_age,
        };
        due.saturating_duration_since(now)
    }
}

/// The background refresh: every `max_age` after a success, sooner (with
/// backoff) after a failure, until `stop`.
pub(super) async fn refresh_periodically(shared: Arc<Shared>, stop: CancellationToken) {
    let shared = &shared;
    crate::background::forever(stop, || async move {
        let sleep = shared.fetches.lock().await.next_refresh_in(shared.max_age);
        tokio::select! {
            () = shared.fetched.notified() => return,
            () = tokio::time::sleep(sleep) => {}
        }
        if let Err(e) = shared.refresh().await {
            tracing::warn!(error = %e, "cannot refresh the token signing keys; the cached ones keep verifying");
        }
    })
    .await;
}
