//! The outbox table's SQL, the same in every service that emits (its
//! migrations create `outbox`): an event is recorded inside the caller's write
//! transaction, next to the change it reports; the relay reads the pending
//! rows in the order they were recorded, marks each sent once the broker
//! confirmed it, and prunes sent rows after the retention period.

use tracing::Instrument as _;

use super::Event;
use crate::db::{Database, Write as _, WriteTx};
use crate::types::UnixMillis;

/// A row not yet sent, with its place in the outbox's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// Where it is in the order of recording (the relay publishes in this order).
    pub position: i64,
    /// The event.
    pub event: Event,
    /// Publishes tried and failed so far.
    pub attempts: i64,
}

/// Records `event` in the outbox, inside `tx`: it is published only if `tx`
/// commits. An event id or an (aggregate, sequence) that is there already is
/// a unique violation, which fails the transaction: an event is never
/// recorded twice.
pub async fn record(tx: &mut WriteTx, event: &Event, now: UnixMillis) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO outbox (event_id, routing_key, kind, aggregate_id, sequence, payload, created_ms, attempts) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 0)",
    )
    .bind(&event.id)
    .bind(&event.routing_key)
    .bind(&event.kind)
    .bind(&event.aggregate_id)
    .bind(event.sequence)
    .bind(event.payload.clone())
    .bind(now.unix_millis())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

type Row = (i64, String, String, String, String, i64, Vec<u8>, i64);

/// The first `limit` rows not yet sent after `position`, in the order they were recorded.
pub async fn pending_after(db: &Database, position: i64, limit: u32) -> Result<Vec<Pending>, sqlx::Error> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT position, event_id, routing_key, kind, aggregate_id, sequence, payload, CAST(attempts AS BIGINT) \
         FROM outbox WHERE sent_ms IS NULL AND position > $1 ORDER BY position LIMIT $2",
    )
    .bind(position)
    .bind(i64::from(limit))
    .fetch_all(db.pool())
    .instrument(db.span("outbox.pending"))
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(position, id, routing_key, kind, aggregate_id, sequence, payload, attempts)| Pending {
                position,
                event: Event {
                    id,
                    routing_key,
                    kind,
                    aggregate_id,
                    sequence,
                    payload,
                },
                attempts,
            },
        )
        .collect())
}

/// How many rows are not yet sent.
pub async fn count_pending(db: &Database) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM outbox WHERE sent_ms IS NULL")
        .fetch_one(db.pool())
        .instrument(db.span("outbox.count_pending"))
        .await
}

/// Marks the row at `position` sent at `now` (the broker confirmed it).
pub async fn mark_sent(db: &Database, position: i64, now: UnixMillis) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE outbox SET sent_ms = $1 WHERE position = $2 AND sent_ms IS NULL")
        .bind(now.unix_millis())
        .bind(position)
        .write(db)
        .instrument(db.span("outbox.mark_sent"))
        .await?;
    Ok(())
}

/// Counts a failed publish of the row at `position`, with why (for operators).
pub async fn mark_failed(db: &Database, position: i64, why: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE outbox SET attempts = attempts + 1, last_error = $1 WHERE position = $2 AND sent_ms IS NULL")
        .bind(why)
        .bind(position)
        .write(db)
        .instrument(db.span("outbox.mark_failed"))
        .await?;
    Ok(())
}

/// Deletes the rows sent before `before`; how many.
pub async fn prune(db: &Database, before: UnixMillis) -> Result<u64, sqlx::Error> {
    let done = sqlx::query("DELETE FROM outbox WHERE sent_ms IS NOT NULL AND sent_ms < $1")
        .bind(before.unix_millis())
        .write(db)
        .instrument(db.span("outbox.prune"))
        .await?;
    Ok(done.rows_affected())
}
