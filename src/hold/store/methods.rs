//! [`hold_store_methods!`](crate::hold_store_methods): the life-cycle methods of a
//! service's store, written once, so that callers (the API, the sweeper, tests)
//! call `store.confirm(…)` with no trait in scope.

/// Adds `confirm`, `release`, `expire_due_holds` and `expire_due_batch` to a
/// store type that implements [`HoldStore`](crate::hold::store::HoldStore),
/// each running the shared statements of [`crate::hold::store`].
#[macro_export]
macro_rules! hold_store_methods {
    ($store:ty) => {
        impl $store {
            /// Makes a HELD hold CONFIRMED; confirming again is a no-op. A hold
            /// whose time is up is expired here (its inventory returned) and refused.
            pub async fn confirm(
                &self,
                hold_id: &$crate::types::HoldId,
                now: $crate::types::UnixMillis,
            ) -> Result<
                $crate::hold::Hold<<Self as $crate::hold::store::HoldStore>::Booking>,
                <Self as $crate::hold::store::HoldStore>::Error,
            > {
                $crate::hold::store::confirm(self, hold_id, now).await
            }

            /// Gives a hold's inventory back, whether HELD or CONFIRMED;
            /// releasing again is a no-op. An unknown id is recorded as released
            /// (a tombstone) and `None` returned.
            pub async fn release(
                &self,
                hold_id: &$crate::types::HoldId,
                now: $crate::types::UnixMillis,
            ) -> Result<
                Option<$crate::hold::Hold<<Self as $crate::hold::store::HoldStore>::Booking>>,
                <Self as $crate::hold::store::HoldStore>::Error,
            > {
                $crate::hold::store::release(self, hold_id, now).await
            }

            /// Expires every HELD hold whose time is up at `now`, in batches of
            /// [`DEFAULT_SWEEP_BATCH`]($crate::hold::store::DEFAULT_SWEEP_BATCH)
            /// of one lock key each; returns how many.
            pub async fn expire_due_holds(
                &self,
                now: $crate::types::UnixMillis,
            ) -> Result<u64, <Self as $crate::hold::store::HoldStore>::Error> {
                $crate::hold::store::expire_due_holds(self, now).await
            }

            /// One sweep transaction: expires at most `max` HELD holds whose time
            /// is up at `now`, all of one lock key (the one whose hold has waited
            /// longest), and returns how many; 0 when none is due.
            pub async fn expire_due_batch(
                &self,
                now: $crate::types::UnixMillis,
                max: u32,
            ) -> Result<u64, <Self as $crate::hold::store::HoldStore>::Error> {
                $crate::hold::store::expire_due_batch(self, now, max).await
            }
        }
    };
}
