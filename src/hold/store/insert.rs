//! Taking a new hold: the insert of its HELD row, once per hold id.

use std::time::Duration;

use sqlx::AssertSqlSafe;

use super::{HoldStore, HoldTable, Tx};
use crate::types::{HoldId, Money, UnixMillis};

/// Inserts a HELD row for `hold_id` taking `booking` at `price`, expiring
/// `ttl` after `now` — `INSERT … ON CONFLICT (hold_id) DO NOTHING`, the
/// booking's columns being the table's tombstone columns, bound by
/// [`HoldStore::bind_booking`]. True when the row is new; false when the hold
/// id was there already (a retry, or an id in use), which the caller answers
/// with [`super::retried`].
pub async fn insert_held<S: HoldStore>(
    tx: &mut Tx,
    hold_id: &HoldId,
    booking: &S::Booking,
    price: &Money,
    now: UnixMillis,
    ttl: Duration,
) -> Result<bool, sqlx::Error> {
    let HoldTable {
        name,
        tombstone: (columns, _),
        ..
    } = S::TABLE;
    let n = columns.split(',').count();
    let booking_params: Vec<String> = (2..2 + n).map(|i| format!("${i}")).collect();
    let (price_at, currency_at, expires_at, now_at) = (n + 2, n + 3, n + 4, n + 5);
    let sql = format!(
        "INSERT INTO {name} (hold_id, {columns}, price_minor, currency, state, expires_ms, created_ms, updated_ms) \
         VALUES ($1, {}, ${price_at}, ${currency_at}, 'HELD', ${expires_at}, ${now_at}, ${now_at}) \
         ON CONFLICT (hold_id) DO NOTHING",
        booking_params.join(", ")
    );
    let query = sqlx::query(AssertSqlSafe(sql)).bind(hold_id.as_str().to_owned());
    let inserted = S::bind_booking(query, booking)
        .bind(price.amount_minor)
        .bind(price.currency.as_str().to_owned())
        .bind(now.plus(ttl).unix_millis())
        .bind(now.unix_millis())
        .execute(&mut **tx)
        .await?
        .rows_affected();
    Ok(inserted == 1)
}
