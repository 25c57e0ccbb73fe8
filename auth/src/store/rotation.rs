//! Refresh in SQL: a login starts a family of refresh tokens; Refresh spends a live token
//! with one conditional update (`WHERE used_ms IS NULL AND revoked_ms IS NULL`)
//! and adds its successor to the family in the same write transaction. A retry
//! of the token just rotated, within the grace window, instead revokes (supersedes)
//! its still-unused successor and adds a new one, so a family never has more than
//! one live token. Concurrent refreshes are serialised before anything is
//! decided — on PostgreSQL by locking the presented row and the successor it
//! would supersede (`SELECT … FOR UPDATE`), on SQLite by the write transaction
//! (`BEGIN IMMEDIATE`) — so each sees the outcome of those before it, and
//! contention is never mistaken for reuse: N concurrent refreshes of one live
//! token within the grace window all succeed, the first rotating it and each
//! later one superseding the token the one before it got; exactly one token of
//! the family is then live, the one the last of them returned. Any other
//! presentation of a spent token revokes the whole family.

use sqlx::FromRow;
use tracing::Instrument as _;
use travel::db::{Dialect, WriteTx};
use travel::types::UnixMillis;

use super::tokens::{Insert, insert_token};
use super::{Store, fetch_user};
use crate::domain::User;
use crate::domain::refresh::{NewRefreshToken, SessionRules, StoredToken, TokenState};
use crate::error::Error;

/// What became of a refresh token presented to Refresh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// Spent (or, for a retry, its unused successor superseded); `next` is stored.
    Rotated(Rotated),
    /// No such token (or its user is gone).
    Unknown,
    /// Past its expiry or its session's end.
    Expired,
    /// Already spent or revoked: reuse, and its family is now revoked.
    Reused,
}

/// A successful rotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotated {
    /// The user, for the new access token.
    pub user: User,
    /// When the stored successor expires: its own expiry capped at the session's end.
    pub expires_at: UnixMillis,
    /// Whether this was a retry within the grace window (the lost successor is revoked).
    pub retry: bool,
}

/// The columns of a presented token that decide what Refresh does with it.
#[derive(FromRow)]
struct TokenRow {
    family_id: String,
    user_id: String,
    expires_ms: i64,
    used_ms: Option<i64>,
    revoked_ms: Option<i64>,
    session_started_ms: i64,
}

impl TokenRow {
    fn stored(&self) -> StoredToken {
        StoredToken {
            expires_at: UnixMillis::from_unix_millis(self.expires_ms),
            used_at: self.used_ms.map(UnixMillis::from_unix_millis),
            revoked: self.revoked_ms.is_some(),
            session_started: UnixMillis::from_unix_millis(self.session_started_ms),
        }
    }
}

/// Spends a live token: it was rotated.
const SPEND: &str = "UPDATE refresh_tokens SET used_ms = $2 \
     WHERE token_hash = $1 AND used_ms IS NULL AND revoked_ms IS NULL";
/// Revokes a live token: a retry superseded it.
const SUPERSEDE: &str = "UPDATE refresh_tokens SET revoked_ms = $2 \
     WHERE token_hash = $1 AND used_ms IS NULL AND revoked_ms IS NULL";

impl Store {
    /// Spends the token stored under `hash` and stores `next` in its family,
    /// by the session `rules`, serialised with every other refresh of that token
    /// (see the module comment).
    pub async fn rotate(
        &self,
        hash: &str,
        next: &NewRefreshToken,
        rules: &SessionRules,
        now: UnixMillis,
    ) -> Result<Rotation, Error> {
        async {
            // Rows read to decide are locked until the commit (SQLite's write
            // transaction already excludes every other writer).
            let lock = match self.db.dialect() {
                Dialect::Postgres => " FOR UPDATE",
                Dialect::Sqlite => "",
            };
            let mut tx = self.db.begin_write().await?;
            let sql = format!(
                "SELECT family_id, user_id, expires_ms, used_ms, revoked_ms, session_started_ms \
                 FROM refresh_tokens WHERE token_hash = $1{lock}"
            );
            let row: Option<TokenRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(hash)
                .fetch_optional(&mut *tx)
                .await?;
            let Some(row) = row else {
                return Ok(Rotation::Unknown);
            };
            let retry = match rules.state(&row.stored(), now) {
                TokenState::Expired => return Ok(Rotation::Expired),
                TokenState::Spent => return revoke_and_commit(tx, &row.family_id, now).await,
                TokenState::Live => false,
                TokenState::JustRotated => true,
            };
            let changed = if retry {
                // Still the newest rotated token of its family only if its successor is unused.
                let sql = format!(
                    "SELECT token_hash FROM refresh_tokens \
                     WHERE parent_hash = $1 AND used_ms IS NULL AND revoked_ms IS NULL{lock}"
                );
                let successor: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                    .bind(hash)
                    .fetch_optional(&mut *tx)
                    .await?;
                let Some(successor) = successor else {
                    return revoke_and_commit(tx, &row.family_id, now).await;
                };
                end_live(&mut tx, SUPERSEDE, &successor, now).await?
            } else {
                end_live(&mut tx, SPEND, hash, now).await?
            };
            if changed == 0 {
                // Impossible under the locks above; never taken for reuse.
                return Err(Error::Store(sqlx::Error::Protocol(
                    "a locked refresh token changed".into(),
                )));
            }
            let Some((user, _)) = fetch_user(&mut tx, "id", &row.user_id).await? else {
                return Ok(Rotation::Unknown);
            };
            let session_started = UnixMillis::from_unix_millis(row.session_started_ms);
            let successor = Insert {
                user_id: &row.user_id,
                family_id: &row.family_id,
                hash: &next.hash,
                expires_at: rules.cap(next.expires_at, session_started),
                parent_hash: Some(hash),
                session_started,
            };
            insert_token(&mut *tx, &successor, now).await?;
            tx.commit().await?;
            Ok(Rotation::Rotated(Rotated {
                user,
                expires_at: successor.expires_at,
                retry,
            }))
        }
        .instrument(self.db.span("auth.rotate"))
        .await
    }
}

/// Ends the live token stored under `hash` with `sql` ([`SPEND`] or
/// [`SUPERSEDE`]); how many rows changed (one, under the locks `rotate` holds).
async fn end_live(tx: &mut WriteTx, sql: &'static str, hash: &str, now: UnixMillis) -> Result<u64, Error> {
    let changed = sqlx::query(sql)
        .bind(hash)
        .bind(now.unix_millis())
        .execute(&mut **tx)
        .await?
        .rows_affected();
    Ok(changed)
}

async fn revoke_and_commit(mut tx: WriteTx, family_id: &str, now: UnixMillis) -> Result<Rotation, Error> {
    sqlx::query("UPDATE refresh_tokens SET revoked_ms = $2 WHERE family_id = $1 AND revoked_ms IS NULL")
        .bind(family_id)
        .bind(now.unix_millis())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Rotation::Reused)
}
