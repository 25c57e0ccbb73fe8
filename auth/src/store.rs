//! All SQL of the auth service, the same statements for SQLite and PostgreSQL:
//! users here (and the re-normalisation of emails stored under an older rule); refresh tokens in `tokens` and `rotation`; service accounts and generated
//! signing keys in `keys`. Times are i64 milliseconds since the Unix epoch.

mod keys;
mod rotation;
mod tokens;

pub use rotation::{Rotated, Rotation};
pub use tokens::FamilyToken;

use sqlx::{Any, FromRow};
use tracing::Instrument as _;
use travel::db::{Database, Dialect, Write as _, WriteTx};
use travel::jwt::Role;
use travel::types::UnixMillis;

use crate::domain::{Email, User, parse_role};
use crate::error::Error;

/// The auth service's persistence.
#[derive(Debug, Clone)]
pub struct Store {
    db: Database,
}

/// A user to add.
#[derive(Debug, Clone)]
pub struct NewUser<'a> {
    /// Server-assigned id.
    pub id: &'a str,
    /// Normalised address.
    pub email: &'a Email,
    /// argon2id PHC string.
    pub password_hash: &'a str,
    /// Customer, or admin for the bootstrapped account.
    pub role: Role,
    /// Register's idempotency key, if any.
    pub request_id: Option<&'a str>,
}

#[derive(FromRow)]
struct UserRow {
    id: String,
    email: String,
    role: String,
    created_ms: i64,
    password_hash: String,
}

const USER_COLUMNS: &str = "SELECT id, email, role, created_ms, password_hash FROM users";

impl Store {
    /// A store over a migrated database.
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// Adds a user; `None` when the email is taken.
    pub async fn insert_user(&self, new: &NewUser<'_>, now: UnixMillis) -> Result<Option<User>, Error> {
        async {
            let inserted = bind_user(
                sqlx::query(
                    "INSERT INTO users (id, email, password_hash, role, register_request_id, created_ms, updated_ms) \
                     VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT DO NOTHING",
                ),
                new,
                now,
            )
            .write(&self.db)
            .await?
            .rows_affected();
            if inserted == 0 {
                return Ok(None);
            }
            Ok(self.user_by_email(new.email).await?.map(|(user, _)| user))
        }
        .instrument(self.db.span("auth.insert_user"))
        .await
    }

    /// Creates the user, or gives the existing one with this email this password
    /// hash and role (the configured admin).
    pub async fn upsert_user(&self, new: &NewUser<'_>, now: UnixMillis) -> Result<User, Error> {
        async {
            let mut tx = self.db.begin_write().await?;
            bind_user(
                sqlx::query(
                    "INSERT INTO users (id, email, password_hash, role, register_request_id, created_ms, updated_ms) \
                     VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (email) DO UPDATE \
                     SET password_hash = excluded.password_hash, role = excluded.role, updated_ms = excluded.updated_ms",
                ),
                new,
                now,
            )
            .execute(&mut *tx)
            .await?;
            let user = fetch_user(&mut tx, "email", new.email.as_str()).await?;
            tx.commit().await?;
            user.map(|(user, _)| user).ok_or_else(|| corrupt("user"))
        }
        .instrument(self.db.span("auth.upsert_user"))
        .await
    }

    /// The user with this email, and their password hash.
    pub async fn user_by_email(&self, email: &Email) -> Result<Option<(User, String)>, Error> {
        async { self.user_where("email", email.as_str()).await }
            .instrument(self.db.span("auth.user_by_email"))
            .await
    }

    /// The user that Register created for this email under this request id
    /// (request ids are scoped per email), and their password hash.
    pub async fn user_by_request(&self, email: &Email, request_id: &str) -> Result<Option<(User, String)>, Error> {
        async {
            let sql = sqlx::AssertSqlSafe(format!("{USER_COLUMNS} WHERE email = $1 AND register_request_id = $2"));
            let row: Option<UserRow> = sqlx::query_as(sql)
                .bind(email.as_str())
                .bind(request_id)
                .fetch_optional(self.db.pool())
                .await?;
            row.map(UserRow::into_domain).transpose()
        }
        .instrument(self.db.span("auth.user_by_request"))
        .await
    }

    /// The stored password hash of the user with this email (for tests and tools).
    pub async fn password_hash(&self, email: &Email) -> Result<Option<String>, Error> {
        Ok(self.user_by_email(email).await?.map(|(_, hash)| hash))
    }

    async fn user_where(&self, column: &'static str, value: &str) -> Result<Option<(User, String)>, Error> {
        let sql = sqlx::AssertSqlSafe(format!("{USER_COLUMNS} WHERE {column} = $1"));
        let row: Option<UserRow> = sqlx::query_as(sql).bind(value).fetch_optional(self.db.pool()).await?;
        row.map(UserRow::into_domain).transpose()
    }
}

/// What became of a stored email given its normalised form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Renamed {
    /// Stored under the new form.
    Done,
    /// Another account has the new form: left as it is.
    Taken,
    /// The row changed meanwhile (or is gone): left as it is.
    Changed,
}

impl Store {
    /// Users whose stored email has a character outside printable ASCII: the
    /// only ones the NFKC rule can change (an ASCII email stored under the
    /// older rule, trimmed and lower-cased, is already normalised).
    pub async fn non_ascii_emails(&self) -> Result<Vec<(String, String)>, Error> {
        async {
            let sql = match self.db.dialect() {
                Dialect::Postgres => "SELECT id, email FROM users WHERE email ~ '[^ -~]' ORDER BY id",
                Dialect::Sqlite => "SELECT id, email FROM users WHERE email GLOB '*[^ -~]*' ORDER BY id",
            };
            Ok(sqlx::query_as(sql).fetch_all(self.db.pool()).await?)
        }
        .instrument(self.db.span("auth.non_ascii_emails"))
        .await
    }

    /// Stores `to` as the email of user `id` if it still is `from` and no other
    /// account has `to`.
    pub async fn rename_email(&self, id: &str, from: &str, to: &Email, now: UnixMillis) -> Result<Renamed, Error> {
        async {
            let renamed = sqlx::query(
                "UPDATE users SET email = $3, updated_ms = $4 WHERE id = $1 AND email = $2 \
                 AND NOT EXISTS (SELECT 1 FROM users WHERE email = $3)",
            )
            .bind(id)
            .bind(from)
            .bind(to.as_str())
            .bind(now.unix_millis())
            .write(&self.db)
            .await;
            match renamed {
                Ok(done) if done.rows_affected() == 1 => Ok(Renamed::Done),
                Ok(_) if self.user_by_email(to).await?.is_some() => Ok(Renamed::Taken),
                Ok(_) => Ok(Renamed::Changed),
                // A concurrent Register took it between the check and the write.
                Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(Renamed::Taken),
                Err(e) => Err(e.into()),
            }
        }
        .instrument(self.db.span("auth.rename_email"))
        .await
    }
}

/// The user whose `column` is `value`, inside a transaction.
async fn fetch_user(tx: &mut WriteTx, column: &'static str, value: &str) -> Result<Option<(User, String)>, Error> {
    let sql = sqlx::AssertSqlSafe(format!("{USER_COLUMNS} WHERE {column} = $1"));
    let row: Option<UserRow> = sqlx::query_as(sql).bind(value).fetch_optional(&mut **tx).await?;
    row.map(UserRow::into_domain).transpose()
}

fn corrupt(what: &str) -> Error {
    Error::Store(sqlx::Error::Protocol(format!("stored {what} is not valid")))
}

impl UserRow {
    fn into_domain(self) -> Result<(User, String), Error> {
        let user = User {
            role: parse_role(&self.role).ok_or_else(|| corrupt("role"))?,
            id: self.id,
            email: self.email,
            created_at: UnixMillis::from_unix_millis(self.created_ms),
        };
        Ok((user, self.password_hash))
    }
}

/// Binds `new`'s columns and `now` to `$1`…`$6` of a users INSERT (`id`,
/// `email`, `password_hash`, `role`, `register_request_id`, then the times).
fn bind_user<'q>(
    query: sqlx::query::Query<'q, Any, <Any as sqlx::Database>::Arguments>,
    new: &NewUser<'q>,
    now: UnixMillis,
) -> sqlx::query::Query<'q, Any, <Any as sqlx::Database>::Arguments> {
    query
        .bind(new.id)
        .bind(new.email.as_str())
        .bind(new.password_hash)
        .bind(new.role.as_str())
        .bind(new.request_id.map(str::to_owned))
        .bind(now.unix_millis())
}
