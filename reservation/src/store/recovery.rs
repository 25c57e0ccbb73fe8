//! The recovery scan: the unfinished sagas whose lease ran out, those past
//! the pivot first, and the plans of those queries (a test checks that they
//! read the partial index); and the backlog a pass leaves, for the metrics.

use travel::db::Dialect;
use travel::types::UnixMillis;

use super::Store;
use super::row::{COLUMNS, Row};
use crate::domain::Reservation;
use crate::error::Error;

/// The unfinished sagas past the pivot whose lease ran out by `$1`, at most
/// `$2` of them, the longest-waiting first: their holds must be confirmed
/// before they expire. `step <> 'DONE'` is the predicate of the partial index
/// `reservations_unfinished_sagas`, spelled the same in both queries, and the
/// group is a CASE rather than `step = ...`, so that both databases' planners
/// read that index and not one that merely has `step` in it.
const UNFINISHED_CONFIRMING: &str = "WHERE step <> 'DONE' AND lease_until_ms <= $1 \
     AND CASE step WHEN 'CONFIRMING' THEN 0 ELSE 1 END = 0 \
     ORDER BY lease_until_ms, created_ms, id LIMIT $2";

/// The other unfinished sagas whose lease ran out by `$1`, at most `$2` of
/// them, with a limit of their own, so that sagas stuck past the pivot on a
/// service that is down cannot starve them: cancellations first, then
/// compensations, then interrupted holds; within a step, the longest-waiting first.
const UNFINISHED_OTHERS: &str = "WHERE step <> 'DONE' AND lease_until_ms <= $1 \
     AND CASE step WHEN 'CONFIRMING' THEN 0 ELSE 1 END = 1 \
     ORDER BY CASE step WHEN 'CANCELLING' THEN 0 WHEN 'COMPENSATING' THEN 1 ELSE 2 END, \
     lease_until_ms, created_ms, id LIMIT $2";

/// The sagas not yet at a terminal state, as the metrics report them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backlog {
    /// How many (their step is not DONE, whether a driver has them or not).
    pub unfinished: u64,
    /// When the oldest of them was created; `None` when there is none.
    pub oldest_created: Option<UnixMillis>,
}

impl Store {
    /// The backlog of unfinished sagas: how many, and the oldest's creation,
    /// read from the same partial index as the scan.
    pub async fn backlog(&self) -> Result<Backlog, Error> {
        self.in_span("reservation.backlog", async {
            let (unfinished, oldest): (i64, Option<i64>) = sqlx::query_as(
                "SELECT CAST(COUNT(*) AS BIGINT), MIN(created_ms) FROM reservations WHERE step <> 'DONE'",
            )
            .fetch_one(self.db.pool())
            .await?;
            Ok(Backlog {
                unfinished: u64::try_from(unfinished).unwrap_or_default(),
                oldest_created: oldest.map(UnixMillis::from_unix_millis),
            })
        })
        .await
    }

    /// The reservations whose saga is unfinished and whose lease has run out
    /// at `now`: up to `limit` at CONFIRMING, then up to `limit` more at the
    /// other steps (CANCELLING, COMPENSATING, HOLDING), each the longest-waiting first.
    pub async fn unfinished(&self, now: UnixMillis, limit: u32) -> Result<Vec<Reservation>, Error> {
        self.in_span("reservation.unfinished", async {
            let mut due = Vec::new();
            for condition in [UNFINISHED_CONFIRMING, UNFINISHED_OTHERS] {
                let sql = sqlx::AssertSqlSafe(format!("{COLUMNS} {condition}"));
                let rows: Vec<Row> = sqlx::query_as(sql)
                    .bind(now.unix_millis())
                    .bind(i64::from(limit))
                    .fetch_all(self.db.pool())
                    .await?;
                for row in rows {
                    due.push(row.into_domain()?);
                }
            }
            Ok(due)
        })
        .await
    }

    /// Test helper: the database's plans for the queries of [`Store::unfinished`],
    /// as text, one per query (EXPLAIN QUERY PLAN on SQLite, EXPLAIN on
    /// PostgreSQL with sequential scans discouraged, as on a table too large to read whole).
    #[doc(hidden)]
    pub async fn explain_unfinished(&self) -> Result<Vec<String>, Error> {
        let mut plans = Vec::new();
        for condition in [UNFINISHED_CONFIRMING, UNFINISHED_OTHERS] {
            plans.push(self.explain(condition).await?);
        }
        Ok(plans)
    }

    async fn explain(&self, condition: &str) -> Result<String, Error> {
        let mut tx = self.db.begin_write().await?;
        let lines: Vec<String> = match self.db.dialect() {
            Dialect::Sqlite => {
                let sql = sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {COLUMNS} {condition}"));
                let rows: Vec<(i64, i64, i64, String)> = sqlx::query_as(sql)
                    .bind(0_i64)
                    .bind(100_i64)
                    .fetch_all(&mut *tx)
                    .await?;
                rows.into_iter().map(|r| r.3).collect()
            }
            Dialect::Postgres => {
                sqlx::query("SET LOCAL enable_seqscan = off").execute(&mut *tx).await?;
                // EXPLAIN takes no parameters: the plan of the same statement with literals.
                let sql = sqlx::AssertSqlSafe(format!(
                    "EXPLAIN {COLUMNS} {}",
                    condition.replace("$1", "0").replace("$2", "100")
                ));
                let rows: Vec<(String,)> = sqlx::query_as(sql).fetch_all(&mut *tx).await?;
                rows.into_iter().map(|r| r.0).collect()
            }
        };
        tx.rollback().await?;
        Ok(lines.join("\n"))
    }
}
