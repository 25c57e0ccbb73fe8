//! Refresh tokens in SQL: a login starts a family of tokens (Refresh, in
//! `rotation`, adds to it); Logout, a changed password and the sweeper revoke
//! or delete them.

use sqlx::FromRow;
use tracing::Instrument as _;
use travel::db::Write as _;
use travel::types::UnixMillis;

use super::Store;
use crate::domain::refresh::NewRefreshToken;
use crate::error::Error;

/// A stored token of a family, as tests and tools inspect it.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct FamilyToken {
    /// Hex SHA-256 of the token.
    pub token_hash: String,
    /// The token it was rotated from (`None` for the Login's).
    pub parent_hash: Option<String>,
    /// When it was spent, if it was.
    pub used_ms: Option<i64>,
    /// When it was revoked (family revoked, or superseded), if it was.
    pub revoked_ms: Option<i64>,
}

/// A token to insert into a family.
pub(super) struct Insert<'a> {
    pub(super) user_id: &'a str,
    pub(super) family_id: &'a str,
    pub(super) hash: &'a str,
    pub(super) expires_at: UnixMillis,
    pub(super) parent_hash: Option<&'a str>,
    pub(super) session_started: UnixMillis,
}

impl Store {
    /// Stores the first refresh token of a new family (a login at `now`).
    pub async fn start_family(
        &self,
        user_id: &str,
        family_id: &str,
        token: &NewRefreshToken,
        now: UnixMillis,
    ) -> Result<(), Error> {
        async {
            let first = Insert {
                user_id,
                family_id,
                hash: &token.hash,
                expires_at: token.expires_at,
                parent_hash: None,
                session_started: now,
            };
            let mut tx = self.db.begin_write().await?;
            insert_token(&mut *tx, &first, now).await?;
            tx.commit().await?;
            Ok(())
        }
        .instrument(self.db.span("auth.start_family"))
        .await
    }

    /// Every stored token of the family of the token stored under `hash`,
    /// in the order they were issued (for tests and tools).
    pub async fn family_of(&self, hash: &str) -> Result<Vec<FamilyToken>, Error> {
        async {
            let tokens = sqlx::query_as(
                "SELECT token_hash, parent_hash, used_ms, revoked_ms FROM refresh_tokens \
                 WHERE family_id = (SELECT family_id FROM refresh_tokens WHERE token_hash = $1) \
                 ORDER BY issued_ms, token_hash",
            )
            .bind(hash)
            .fetch_all(self.db.pool())
            .await?;
            Ok(tokens)
        }
        .instrument(self.db.span("auth.family_of"))
        .await
    }

    /// Revokes the family of the token stored under `hash`, if there is one.
    pub async fn revoke_family_of(&self, hash: &str, now: UnixMillis) -> Result<(), Error> {
        async {
            sqlx::query(
                "UPDATE refresh_tokens SET revoked_ms = $2 WHERE revoked_ms IS NULL \
                 AND family_id = (SELECT family_id FROM refresh_tokens WHERE token_hash = $1)",
            )
            .bind(hash)
            .bind(now.unix_millis())
            .write(&self.db)
            .await?;
            Ok(())
        }
        .instrument(self.db.span("auth.revoke_family_of"))
        .await
    }

    /// Revokes every refresh token of a user (their password or role changed).
    pub async fn revoke_user_tokens(&self, user_id: &str, now: UnixMillis) -> Result<(), Error> {
        async {
            sqlx::query("UPDATE refresh_tokens SET revoked_ms = $2 WHERE user_id = $1 AND revoked_ms IS NULL")
                .bind(user_id)
                .bind(now.unix_millis())
                .write(&self.db)
                .await?;
            Ok(())
        }
        .instrument(self.db.span("auth.revoke_user_tokens"))
        .await
    }

    /// Deletes refresh tokens that expired before `now`; returns how many.
    pub async fn delete_expired_tokens(&self, now: UnixMillis) -> Result<u64, Error> {
        async {
            let deleted = sqlx::query("DELETE FROM refresh_tokens WHERE expires_ms <= $1")
                .bind(now.unix_millis())
                .write(&self.db)
                .await?
                .rows_affected();
            Ok(deleted)
        }
        .instrument(self.db.span("auth.delete_expired_tokens"))
        .await
    }
}

pub(super) async fn insert_token<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    token: &Insert<'_>,
    now: UnixMillis,
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
