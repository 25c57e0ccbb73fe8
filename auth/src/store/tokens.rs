//! Refresh tokens in SQL: a login starts a family; Refresh spends a live token
//! with one conditional update (`WHERE used_ms IS NULL AND revoked_ms IS NULL`)
//! and adds its successor to the family in the same write transaction. A retry
//! of the token just rotated, within the grace window, instead revokes (supersedes)
//! its still-unused successor and adds a new one, so a family never has more than
//! one live token. A conditional update that finds its row changed by a
//! concurrent refresh makes the attempt start over once, seeing that refresh's
//! outcome; any other presentation of a spent token revokes the whole family.

use sqlx::FromRow;
use travel::types::Instant;

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
    pub expires_at: Instant,
    /// Whether this was a retry within the grace window (the lost successor is revoked).
    pub retry: bool,
}

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
            expires_at: Instant::from_unix_millis(self.expires_ms),
            used_at: self.used_ms.map(Instant::from_unix_millis),
            revoked: self.revoked_ms.is_some(),
            session_started: Instant::from_unix_millis(self.session_started_ms),
        }
    }
}

/// A token to insert into a family.
struct Insert<'a> {
    user_id: &'a str,
    family_id: &'a str,
    hash: &'a str,
    expires_at: Instant,
    parent_hash: Option<&'a str>,
    session_started: Instant,
}

impl Store {
    /// Stores the first refresh token of a new family (a login at `now`).
    pub async fn start_family(
        &self,
        user_id: &str,
        family_id: &str,
        token: &NewRefreshToken,
        now: Instant,
    ) -> Result<(), Error> {
        let first = Insert {
            user_id,
            family_id,
            hash: &token.hash,
            expires_at: token.expires_at,
            parent_hash: None,
            session_started: now,
        };
        insert_token(self.db.pool(), &first, now).await
    }

    /// Spends the token stored under `hash` and stores `next` in its family,
    /// by the session `rules`.
    pub async fn rotate(
        &self,
        hash: &str,
        next: &NewRefreshToken,
        rules: &SessionRules,
        now: Instant,
    ) -> Result<Rotation, Error> {
        for _ in 0..2 {
            if let Some(done) = self.try_rotate(hash, next, rules, now).await? {
                return Ok(done);
            }
        }
        // Overtaken twice by concurrent refreshes of one family: treat as reuse.
        self.revoke_family_of(hash, now).await?;
        Ok(Rotation::Reused)
    }

    /// One attempt at [`Store::rotate`]; `None` when a concurrent refresh changed
    /// a row this one meant to update (rolled back, to be tried again).
    async fn try_rotate(
        &self,
        hash: &str,
        next: &NewRefreshToken,
        rules: &SessionRules,
        now: Instant,
    ) -> Result<Option<Rotation>, Error> {
        let mut tx = self.db.begin_write().await?;
        let row: Option<TokenRow> = sqlx::query_as(
            "SELECT family_id, user_id, expires_ms, used_ms, revoked_ms, session_started_ms \
             FROM refresh_tokens WHERE token_hash = $1",
        )
        .bind(hash)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(Some(Rotation::Unknown));
        };
        let retry = match rules.state(&row.stored(), now) {
            TokenState::Expired => return Ok(Some(Rotation::Expired)),
            TokenState::Spent => return revoke_and_commit(tx, &row.family_id, now).await.map(Some),
            TokenState::Live => false,
            TokenState::JustRotated => true,
        };
        let changed = if retry {
            // Still the newest rotated token of its family only if its successor is unused.
            let successor: Option<String> = sqlx::query_scalar(
                "SELECT token_hash FROM refresh_tokens \
                 WHERE parent_hash = $1 AND used_ms IS NULL AND revoked_ms IS NULL",
            )
            .bind(hash)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(successor) = successor else {
                return revoke_and_commit(tx, &row.family_id, now).await.map(Some);
            };
            sqlx::query(
                "UPDATE refresh_tokens SET revoked_ms = $2 \
                 WHERE token_hash = $1 AND used_ms IS NULL AND revoked_ms IS NULL",
            )
            .bind(successor)
            .bind(now.unix_millis())
            .execute(&mut *tx)
            .await?
            .rows_affected()
        } else {
            sqlx::query(
                "UPDATE refresh_tokens SET used_ms = $2 \
                 WHERE token_hash = $1 AND used_ms IS NULL AND revoked_ms IS NULL",
            )
            .bind(hash)
            .bind(now.unix_millis())
            .execute(&mut *tx)
            .await?
            .rows_affected()
        };
        if changed == 0 {
            return Ok(None);
        }
        let Some((user, _)) = fetch_user(&mut tx, "id", &row.user_id).await? else {
            return Ok(Some(Rotation::Unknown));
        };
        let session_started = Instant::from_unix_millis(row.session_started_ms);
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
        Ok(Some(Rotation::Rotated(Rotated {
            user,
            expires_at: successor.expires_at,
            retry,
        })))
    }

    /// Revokes the family of the token stored under `hash`, if there is one.
    pub async fn revoke_family_of(&self, hash: &str, now: Instant) -> Result<(), Error> {
        sqlx::query(
            "UPDATE refresh_tokens SET revoked_ms = $2 WHERE revoked_ms IS NULL \
             AND family_id = (SELECT family_id FROM refresh_tokens WHERE token_hash = $1)",
        )
        .bind(hash)
        .bind(now.unix_millis())
        .execute(self.db.pool())
        .await?;
        Ok(())
    }

    /// Revokes every refresh token of a user (their password or role changed).
    pub async fn revoke_user_tokens(&self, user_id: &str, now: Instant) -> Result<(), Error> {
        sqlx::query("UPDATE refresh_tokens SET revoked_ms = $2 WHERE user_id = $1 AND revoked_ms IS NULL")
            .bind(user_id)
            .bind(now.unix_millis())
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// Deletes refresh tokens that expired before `now`; returns how many.
    pub async fn delete_expired_tokens(&self, now: Instant) -> Result<u64, Error> {
        let deleted = sqlx::query("DELETE FROM refresh_tokens WHERE expires_ms <= $1")
            .bind(now.unix_millis())
            .execute(self.db.pool())
            .await?
            .rows_affected();
        Ok(deleted)
    }
}

async fn insert_token<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    token: &Insert<'_>,
    now: Instant,
) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO refresh_tokens \
         (token_hash, family_id, user_id, issued_ms, expires_ms, parent_hash, session_started_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(token.hash)
    .bind(token.family_id)
    .bind(token.user_id)
    .bind(now.unix_millis())
    .bind(token.expires_at.unix_millis())
    .bind(token.parent_hash.map(str::to_owned))
    .bind(token.session_started.unix_millis())
    .execute(executor)
    .await?;
    Ok(())
}

async fn revoke_and_commit(
    mut tx: sqlx::Transaction<'static, sqlx::Any>,
    family_id: &str,
    now: Instant,
) -> Result<Rotation, Error> {
    sqlx::query("UPDATE refresh_tokens SET revoked_ms = $2 WHERE family_id = $1 AND revoked_ms IS NULL")
        .bind(family_id)
        .bind(now.unix_millis())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Rotation::Reused)
}
