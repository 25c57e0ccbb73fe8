//! Refresh tokens in SQL: a login starts a family; Refresh spends a live token
//! with one conditional update (`WHERE used_ms IS NULL AND revoked_ms IS NULL`)
//! and adds its successor to the family in the same write transaction, so two
//! concurrent refreshes of one token cannot both win — the loser, like any
//! presentation of a spent token, revokes the whole family.

use sqlx::FromRow;
use travel::types::Instant;

use super::{Store, fetch_user};
use crate::domain::User;
use crate::domain::refresh::{NewRefreshToken, TokenState};
use crate::error::Error;

/// What became of a refresh token presented to Refresh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// Spent; its successor is stored. The user, for the new access token.
    Rotated(User),
    /// No such token (or its user is gone).
    Unknown,
    /// Past its expiry.
    Expired,
    /// Already spent or revoked: reuse, and its family is now revoked.
    Reused,
}

#[derive(FromRow)]
struct TokenRow {
    family_id: String,
    user_id: String,
    expires_ms: i64,
    used_ms: Option<i64>,
    revoked_ms: Option<i64>,
}

impl Store {
    /// Stores the first refresh token of a new family (a login).
    pub async fn start_family(
        &self,
        user_id: &str,
        family_id: &str,
        token: &NewRefreshToken,
        now: Instant,
    ) -> Result<(), Error> {
        insert_token(self.db.pool(), user_id, family_id, token, now).await
    }

    /// Spends the token stored under `hash` and stores `next` in its family.
    pub async fn rotate(&self, hash: &str, next: &NewRefreshToken, now: Instant) -> Result<Rotation, Error> {
        let mut tx = self.db.begin_write().await?;
        let row: Option<TokenRow> = sqlx::query_as(
            "SELECT family_id, user_id, expires_ms, used_ms, revoked_ms FROM refresh_tokens WHERE token_hash = $1",
        )
        .bind(hash)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(Rotation::Unknown);
        };
        let expires_at = Instant::from_unix_millis(row.expires_ms);
        let state = TokenState::of(expires_at, row.used_ms.is_some(), row.revoked_ms.is_some(), now);
        match state {
            TokenState::Expired => return Ok(Rotation::Expired),
            TokenState::Spent => return revoke_and_commit(tx, &row.family_id, now).await,
            TokenState::Live => {}
        }
        let spent = sqlx::query(
            "UPDATE refresh_tokens SET used_ms = $2 \
             WHERE token_hash = $1 AND used_ms IS NULL AND revoked_ms IS NULL",
        )
        .bind(hash)
        .bind(now.unix_millis())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if spent == 0 {
            // A concurrent refresh of the same token won: this one is reuse.
            return revoke_and_commit(tx, &row.family_id, now).await;
        }
        let Some((user, _)) = fetch_user(&mut tx, "id", &row.user_id).await? else {
            return Ok(Rotation::Unknown);
        };
        insert_token(&mut *tx, &row.user_id, &row.family_id, next, now).await?;
        tx.commit().await?;
        Ok(Rotation::Rotated(user))
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
    user_id: &str,
    family_id: &str,
    token: &NewRefreshToken,
    now: Instant,
) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO refresh_tokens (token_hash, family_id, user_id, issued_ms, expires_ms) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&token.hash)
    .bind(family_id)
    .bind(user_id)
    .bind(now.unix_millis())
    .bind(token.expires_at.unix_millis())
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
