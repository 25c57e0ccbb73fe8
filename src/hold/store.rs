//! The SQL both inventory services run on their hold rows: the conditional
//! updates that move a hold between states (the gate), tombstones, expiry in
//! bounded batches, and reading a stored hold back. Each service names its
//! table and supplies, through [`HoldStore`], the one lock every change takes
//! first and how an ended hold gives its inventory back; the statements and
//! their order are the same for both (docs/architecture.md, "Inventory rules").

mod insert;
mod methods;
mod sweep;

pub use insert::insert_held;
pub use sweep::{DEFAULT_SWEEP_BATCH, expire_all, expire_due_batch, expire_due_holds};

use std::future::Future;

use sqlx::any::AnyRow;
use sqlx::{Any, AssertSqlSafe, FromRow};
use tracing::Instrument as _;

use super::{Hold, HoldError, HoldMetrics, HoldState, Holds, Refusal};
use crate::db::{Database, Dialect};
use crate::types::{HoldId, UnixMillis};

/// A write transaction.
pub type Tx = crate::db::WriteTx;

/// A statement on the `Any` driver, with its parameters bound so far.
pub type AnyQuery<'q> = sqlx::query::Query<'q, Any, sqlx::any::AnyArguments>;

/// A service's hold table, named for the shared statements.
#[derive(Debug, Clone, Copy)]
pub struct HoldTable {
    /// The table (`seat_holds`).
    pub name: &'static str,
    /// The columns [`HoldStore::Row`] is read from.
    pub columns: &'static str,
    /// The column of the lock key (`flight_id`); NULL in a tombstone.
    pub lock_key: &'static str,
    /// A tombstone's booking columns, and their empty values (`NULL`, `0`).
    pub tombstone: (&'static str, &'static str),
}

/// The names of the spans of a service's shared hold operations
/// ([`Database::span`]): `flight.confirm_seats`, `hotel.expire_holds`…
#[derive(Debug, Clone, Copy)]
pub struct HoldSpans {
    /// [`confirm`].
    pub confirm: &'static str,
    /// [`release`].
    pub release: &'static str,
    /// One sweep transaction, [`expire_due_batch`].
    pub expire: &'static str,
}

/// The lock clause that keeps a row locked until the transaction ends, while
/// still letting foreign-key checks of new hold rows through. SQLite needs
/// none: `BEGIN IMMEDIATE` already holds the database's one write lock.
pub fn row_lock(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Postgres => " FOR NO KEY UPDATE",
        Dialect::Sqlite => "",
    }
}

/// What a service's store supplies to the shared hold statements.
pub trait HoldStore: Sync {
    /// What a live hold takes.
    type Booking: PartialEq + Send + Sync;
    /// A stored hold, as `SELECT {columns}` reads it.
    type Row: for<'r> FromRow<'r, AnyRow> + Send + Unpin;
    /// The service's error.
    type Error: From<sqlx::Error> + From<HoldError> + Send;

    /// The table.
    const TABLE: HoldTable;
    /// The names in refusals.
    const HOLDS: Holds;
    /// The names of the spans.
    const SPANS: HoldSpans;

    /// The database.
    fn db(&self) -> &Database;
    /// The service's hold counters, counted by the shared statements once their
    /// transaction commits.
    fn metrics(&self) -> &HoldMetrics;
    /// Binds a booking's columns, in the order of `TABLE.tombstone.0`, to the
    /// insert of a new hold ([`insert_held`]).
    fn bind_booking<'q>(query: AnyQuery<'q>, booking: &Self::Booking) -> AnyQuery<'q>;
    /// Reads a stored row back.
    fn decode(row: Self::Row) -> Result<Hold<Self::Booking>, sqlx::Error>;
    /// The lock key of a booking: the row every change to its inventory locks first.
    fn lock_key(booking: &Self::Booking) -> &str;
    /// Locks `key`'s row until `tx` ends.
    fn lock(&self, tx: &mut Tx, key: &str) -> impl Future<Output = Result<(), Self::Error>> + Send;
    /// Gives back what the holds of `key` that just ended took; the caller
    /// holds the lock.
    fn give_back(
        tx: &mut Tx,
        key: &str,
        taken: &[Self::Booking],
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;
}

/// One stored hold, read inside `tx`.
pub async fn fetch<S: HoldStore>(tx: &mut Tx, hold_id: &HoldId) -> Result<Option<Hold<S::Booking>>, S::Error> {
    let HoldTable { name, columns, .. } = S::TABLE;
    let sql = AssertSqlSafe(format!("SELECT {columns} FROM {name} WHERE hold_id = $1"));
    let row: Option<S::Row> = sqlx::query_as(sql)
        .bind(hold_id.as_str())
        .fetch_optional(&mut **tx)
        .await?;
    Ok(row.map(S::decode).transpose()?)
}

/// The end of a hold request whose insert did nothing: with a hold under its
/// id, `tx` is committed (with the `expired` holds it expired before, now
/// counted) and the answer is that hold's ([`Hold::answer_retry`]); without
/// one, `None`, and `tx` is rolled back. A retry takes nothing: it is not
/// counted as taken.
pub async fn retried<S: HoldStore>(
    store: &S,
    mut tx: Tx,
    hold_id: &HoldId,
    wanted: &S::Booking,
    expired: u64,
) -> Result<Option<Hold<S::Booking>>, S::Error> {
    let Some(existing) = fetch::<S>(&mut tx, hold_id).await? else {
        return Ok(None);
    };
    tx.commit().await?;
    store.metrics().expired(expired);
    Ok(Some(existing.answer_retry(wanted, S::HOLDS)?))
}

/// The end of a hold request that took its inventory: reads the new hold back
/// and commits, then counts it as taken, and the `expired` holds `tx` expired
/// before.
pub async fn committed<S: HoldStore>(
    store: &S,
    mut tx: Tx,
    hold_id: &HoldId,
    expired: u64,
) -> Result<Hold<S::Booking>, S::Error> {
    let hold = fetch::<S>(&mut tx, hold_id)
        .await?
        .ok_or_else(|| S::HOLDS.not_found(hold_id))?;
    tx.commit().await?;
    store.metrics().taken();
    store.metrics().expired(expired);
    Ok(hold)
}

/// Makes a HELD hold CONFIRMED; confirming again is a no-op. A hold whose time
/// is up is expired here (its inventory returned) and refused.
pub async fn confirm<S: HoldStore>(store: &S, hold_id: &HoldId, now: UnixMillis) -> Result<Hold<S::Booking>, S::Error> {
    confirming(store, hold_id, now)
        .instrument(store.db().span(S::SPANS.confirm))
        .await
}

async fn confirming<S: HoldStore>(store: &S, hold_id: &HoldId, now: UnixMillis) -> Result<Hold<S::Booking>, S::Error> {
    let mut tx = store.db().begin_write().await?;
    let booking = fetch::<S>(&mut tx, hold_id)
        .await?
        .ok_or_else(|| S::HOLDS.not_found(hold_id))?
        .booking;
    let key = booking.as_ref().map(S::lock_key);
    if let Some(key) = key {
        store.lock(&mut tx, key).await?;
    }
    let name = S::TABLE.name;
    let confirmed = sqlx::query(AssertSqlSafe(format!(
        "UPDATE {name} SET state = 'CONFIRMED', updated_ms = $2 \
         WHERE hold_id = $1 AND state = 'HELD' AND expires_ms > $2"
    )))
    .bind(hold_id.as_str())
    .bind(now.unix_millis())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    let hold = fetch::<S>(&mut tx, hold_id)
        .await?
        .ok_or_else(|| S::HOLDS.not_found(hold_id))?;
    let mut expired = 0;
    let refusal = match hold.state {
        HoldState::Confirmed => None,
        HoldState::Held => {
            // Its time is up (else the update above confirmed it): expire it now.
            if let Some(key) = key {
                expired = expire_all::<S>(&mut tx, key, now).await?;
            }
            Some(Refusal::Expired)
        }
        HoldState::Expired => Some(Refusal::Expired),
        HoldState::Released => Some(Refusal::Released),
    };
    tx.commit().await?;
    // Only this call's change counts: confirming again changed nothing.
    if confirmed == 1 {
        store.metrics().confirmed();
    }
    store.metrics().expired(expired);
    match refusal {
        None => Ok(hold),
        Some(refusal) => Err(S::HOLDS.refuse(refusal, hold_id).into()),
    }
}

/// Gives a hold's inventory back, whether HELD or CONFIRMED; releasing again is
/// a no-op. An unknown id is recorded as released (a tombstone), so that a hold
/// arriving later under it is refused, and `None` returned.
pub async fn release<S: HoldStore>(
    store: &S,
    hold_id: &HoldId,
    now: UnixMillis,
) -> Result<Option<Hold<S::Booking>>, S::Error> {
    releasing(store, hold_id, now)
        .instrument(store.db().span(S::SPANS.release))
        .await
}

async fn releasing<S: HoldStore>(
    store: &S,
    hold_id: &HoldId,
    now: UnixMillis,
) -> Result<Option<Hold<S::Booking>>, S::Error> {
    let mut tx = store.db().begin_write().await?;
    let mut released = release_live(store, &mut tx, hold_id, now).await?;
    if !released {
        let HoldTable {
            name,
            tombstone: (columns, values),
            ..
        } = S::TABLE;
        let tombstone = sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO {name} (hold_id, {columns}, price_minor, currency, state, expires_ms, created_ms, \
             updated_ms) VALUES ($1, {values}, 0, 'XXX', 'RELEASED', $2, $2, $2) ON CONFLICT (hold_id) DO NOTHING"
        )))
        .bind(hold_id.as_str())
        .bind(now.unix_millis())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if tombstone == 1 {
            tx.commit().await?;
            return Ok(None);
        }
        // A hold with this id appeared meanwhile: release it if it is live.
        released = release_live(store, &mut tx, hold_id, now).await?;
    }
    let hold = fetch::<S>(&mut tx, hold_id).await?;
    tx.commit().await?;
    // Releasing again, or a tombstone, gives nothing back: not counted.
    if released {
        store.metrics().released();
    }
    Ok(hold.filter(|h| !h.is_tombstone()))
}

/// Releases the hold if it is HELD or CONFIRMED, giving its inventory back;
/// false if there is no such live hold. Locks the hold's key first.
async fn release_live<S: HoldStore>(
    store: &S,
    tx: &mut Tx,
    hold_id: &HoldId,
    now: UnixMillis,
) -> Result<bool, S::Error> {
    let Some(booking) = fetch::<S>(tx, hold_id).await?.and_then(|h| h.booking) else {
        return Ok(false); // no hold, or a tombstone (which is never live)
    };
    let key = S::lock_key(&booking);
    store.lock(tx, key).await?;
    let HoldTable { name, columns, .. } = S::TABLE;
    let released: Option<S::Row> = sqlx::query_as(AssertSqlSafe(format!(
        "UPDATE {name} SET state = 'RELEASED', updated_ms = $2 \
         WHERE hold_id = $1 AND state IN ('HELD', 'CONFIRMED') RETURNING {columns}"
    )))
    .bind(hold_id.as_str())
    .bind(now.unix_millis())
    .fetch_optional(&mut **tx)
    .await?;
    let Some(released) = released else {
        return Ok(false);
    };
    let taken = S::decode(released)?.booking;
    S::give_back(tx, key, taken.as_slice()).await?;
    Ok(true)
}
