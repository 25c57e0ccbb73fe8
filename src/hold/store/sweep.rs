//! Expiry: the sweeper's bounded batches, one lock key per transaction, and
//! the expiry of a key's due holds inside a transaction that holds its lock.

use sqlx::AssertSqlSafe;
use tracing::Instrument as _;

use super::{HoldStore, HoldTable, Tx};
use crate::types::UnixMillis;

/// Most due holds one sweep transaction expires unless told otherwise.
pub const DEFAULT_SWEEP_BATCH: u32 = 100;

/// Expire every due hold of a lock key (a flight, a room type): its live holds
/// are few (bounded by its capacity).
const ALL: i64 = i64::MAX;

/// Expires every HELD hold whose time is up at `now`, in batches of
/// [`DEFAULT_SWEEP_BATCH`] of one lock key each; returns how many.
pub async fn expire_due_holds<S: HoldStore>(store: &S, now: UnixMillis) -> Result<u64, S::Error> {
    let mut total = 0;
    loop {
        match expire_due_batch(store, now, DEFAULT_SWEEP_BATCH).await? {
            0 => return Ok(total),
            n => total += n,
        }
    }
}

/// One sweep transaction: expires at most `max` HELD holds whose time is up at
/// `now`, all of one lock key (the one whose hold has waited longest), and
/// returns how many; 0 when none is due.
pub async fn expire_due_batch<S: HoldStore>(store: &S, now: UnixMillis, max: u32) -> Result<u64, S::Error> {
    expire_batch(store, now, max)
        .instrument(store.db().span(S::SPANS.expire))
        .await
}

async fn expire_batch<S: HoldStore>(store: &S, now: UnixMillis, max: u32) -> Result<u64, S::Error> {
    let HoldTable { name, lock_key, .. } = S::TABLE;
    loop {
        let key: Option<String> = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT {lock_key} FROM {name} WHERE state = 'HELD' AND expires_ms <= $1 \
             AND {lock_key} IS NOT NULL ORDER BY expires_ms LIMIT 1"
        )))
        .bind(now.unix_millis())
        .fetch_optional(store.db().pool())
        .await?;
        let Some(key) = key else {
            return Ok(0);
        };
        let mut tx = store.db().begin_write().await?;
        store.lock(&mut tx, &key).await?;
        let n = expire::<S>(&mut tx, &key, now, i64::from(max.max(1))).await?;
        tx.commit().await?;
        store.metrics().expired(n);
        if n > 0 {
            return Ok(n);
        }
        // Another writer expired them first; holds due at `now` only get
        // fewer, so looking again ends.
    }
}

/// Expires every due hold of `key`; the caller holds its lock.
pub async fn expire_all<S: HoldStore>(tx: &mut Tx, key: &str, now: UnixMillis) -> Result<u64, S::Error> {
    expire::<S>(tx, key, now, ALL).await
}

/// Marks up to `max` HELD holds of `key` whose time is up as EXPIRED, oldest
/// first, and gives their inventory back; returns how many holds expired. The
/// caller holds the key's lock.
async fn expire<S: HoldStore>(tx: &mut Tx, key: &str, now: UnixMillis, max: i64) -> Result<u64, S::Error> {
    let HoldTable {
        name,
        columns,
        lock_key,
        ..
    } = S::TABLE;
    let expired: Vec<S::Row> = sqlx::query_as(AssertSqlSafe(format!(
        "UPDATE {name} SET state = 'EXPIRED', updated_ms = $1 \
         WHERE hold_id IN (SELECT hold_id FROM {name} \
             WHERE {lock_key} = $2 AND state = 'HELD' AND expires_ms <= $1 \
             ORDER BY expires_ms, hold_id LIMIT $3) \
         AND state = 'HELD' RETURNING {columns}"
    )))
    .bind(now.unix_millis())
    .bind(key)
    .bind(max)
    .fetch_all(&mut **tx)
    .await?;
    let n = expired.len() as u64;
    let mut taken = Vec::with_capacity(expired.len());
    for row in expired {
        taken.extend(S::decode(row)?.booking);
    }
    S::give_back(tx, key, &taken).await?;
    Ok(n)
}
