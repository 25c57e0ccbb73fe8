//! The inbox table's SQL, the same in every service that consumes (its
//! migrations create `inbox`): the id of each event applied, recorded in the
//! same write transaction as the event's effect, so that an event delivered
//! again — a redelivery, a duplicate publish — changes nothing.

use super::Event;
use crate::db::WriteTx;
use crate::types::UnixMillis;

/// Records `event` as applied, inside `tx`: true the first time; false if it
/// was applied before (then the caller must leave its effect out, and may
/// commit or roll back: nothing else changed).
pub async fn first_time(tx: &mut WriteTx, event: &Event, now: UnixMillis) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO inbox (event_id, kind, aggregate_id, sequence, applied_ms) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (event_id) DO NOTHING",
    )
    .bind(&event.id)
    .bind(&event.kind)
    .bind(&event.aggregate_id)
    .bind(event.sequence)
    .bind(now.unix_millis())
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}
