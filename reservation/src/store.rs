//! All SQL of the reservation service, the same statements for SQLite and
//! PostgreSQL: here the reservations themselves (create, read, list); the
//! saga's step changes in [`saga`], the recovery scan in [`recovery`], the
//! operators' view of sagas in [`admin`], the events applied and cancelled
//! flights in [`events`], and the row they all read in [`row`].
//!
//! Every change of a reservation's saga step is one conditional update on the
//! step it is leaving and on the lease owner (the one call or recovery pass
//! driving it), so two actors can never both advance the same reservation; an
//! actor whose update matches nothing has lost the saga to another and stops.
//!
//! Every operation is a database span named `reservation.<operation>`
//! (`reservation.advance`…), with `db.system` (see `travel::db::Database::span`).

#[macro_use]
mod row;
mod admin;
mod events;
mod recovery;
mod saga;

pub use admin::SagaStatus;
pub use events::FlightCancellation;
pub use recovery::Backlog;

use std::future::Future;

use tracing::Instrument as _;
use travel::db::Database;
use travel::types::{Money, RequestId, UnixMillis};

use crate::domain::{Checkout, Reservation, State, Step};
use crate::error::Error;
use row::{COLUMNS, Row};

/// The reservation service's persistence.
#[derive(Debug, Clone)]
pub struct Store {
    db: Database,
}

/// A change of step (and state) of a reservation.
#[derive(Debug, Clone, Copy)]
pub struct Transition<'a> {
    /// The step entered.
    pub step: Step,
    /// The state that goes with it.
    pub state: State,
    /// Why it fails, when compensation starts.
    pub failure_reason: Option<&'a str>,
    /// The total, when it is confirmed.
    pub total: Option<Money>,
}

/// What [`Store::create`] found: a reservation it made, or the one this user's
/// request id made before.
#[derive(Debug, Clone)]
pub enum Created {
    /// Made now: the caller drives its saga.
    New(Reservation),
    /// Made before by the same request: someone else drives (or drove) it.
    Existing(Reservation),
}

/// Who drives a saga, and until when, for a new or claimed reservation.
#[derive(Debug, Clone, Copy)]
pub struct Lease<'a> {
    /// The owner: one call or one recovery pass.
    pub owner: &'a str,
    /// Until when the owner has it.
    pub until: UnixMillis,
}

impl Store {
    /// A store over a migrated database.
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// Runs `work`, the store's `operation`, in its database span.
    async fn in_span<T>(
        &self,
        operation: &'static str,
        work: impl Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        work.instrument(self.db.span(operation)).await
    }

    /// Persists a new PENDING reservation (step HOLDING, owned by `lease`) with
    /// id `id` and its deterministic hold ids, unless this user already used
    /// the request id: then returns that reservation, or ALREADY_EXISTS if it
    /// was for a different request.
    pub async fn create(
        &self,
        id: &str,
        user_id: &str,
        checkout: &Checkout,
        lease: Lease<'_>,
        now: UnixMillis,
    ) -> Result<Created, Error> {
        self.in_span("reservation.create", async {
            let (flight, hotel) = (checkout.flight.as_ref(), checkout.hotel.as_ref());
            let hold_id = |suffix: &str| format!("{id}-{suffix}");
            let mut tx = self.db.begin_write().await?;
            let inserted = sqlx::query(
                "INSERT INTO reservations (id, user_id, request_id, request_hash, state, step, flight_id, seats, \
                 flight_hold_id, hotel_id, room_type_id, check_in, check_out, rooms, guests, hotel_hold_id, \
                 lease_owner, lease_until_ms, created_ms, updated_ms) \
                 VALUES ($1, $2, $3, $4, 'PENDING', 'HOLDING', $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
                 $17, $17) ON CONFLICT (user_id, request_id) DO NOTHING",
            )
            .bind(id)
            .bind(user_id)
            .bind(checkout.request_id.as_str())
            .bind(checkout.fingerprint())
            .bind(flight.map(|f| f.flight_id.clone()))
            .bind(flight.map(|f| i64::from(f.seats)))
            .bind(flight.map(|_| hold_id("flight")))
            .bind(hotel.map(|h| h.hotel_id.clone()))
            .bind(hotel.map(|h| h.room_type_id.clone()))
            .bind(hotel.map(|h| h.check_in.iso()))
            .bind(hotel.map(|h| h.check_out.iso()))
            .bind(hotel.map(|h| i64::from(h.rooms)))
            .bind(hotel.map(|h| i64::from(h.guests)))
            .bind(hotel.map(|_| hold_id("hotel")))
            .bind(lease.owner)
            .bind(lease.until.unix_millis())
            .bind(now.unix_millis())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            let (existing_id, hash): (String, String) =
                sqlx::query_as("SELECT id, request_hash FROM reservations WHERE user_id = $1 AND request_id = $2")
                    .bind(user_id)
                    .bind(checkout.request_id.as_str())
                    .fetch_one(&mut *tx)
                    .await?;
            tx.commit().await?;
            if inserted == 0 && hash != checkout.fingerprint() {
                return Err(Error::RequestIdReused(checkout.request_id.as_str().to_owned()));
            }
            let reservation = self.get(&existing_id).await?;
            Ok(if inserted == 1 {
                Created::New(reservation)
            } else {
                Created::Existing(reservation)
            })
        })
        .await
    }

    /// True when `user_id` already checked out with `request_id`.
    pub async fn request_seen(&self, user_id: &str, request_id: &RequestId) -> Result<bool, Error> {
        self.in_span("reservation.request_seen", async {
            let seen: Option<(String,)> =
                sqlx::query_as("SELECT id FROM reservations WHERE user_id = $1 AND request_id = $2")
                    .bind(user_id)
                    .bind(request_id.as_str())
                    .fetch_optional(self.db.pool())
                    .await?;
            Ok(seen.is_some())
        })
        .await
    }

    /// One reservation, whoever's it is.
    pub async fn get(&self, id: &str) -> Result<Reservation, Error> {
        self.in_span("reservation.get", async {
            let sql = sqlx::AssertSqlSafe(format!("{COLUMNS} WHERE id = $1"));
            let row: Option<Row> = sqlx::query_as(sql).bind(id).fetch_optional(self.db.pool()).await?;
            row.map(Row::into_domain)
                .transpose()?
                .ok_or_else(|| Error::NotFound(id.to_owned()))
        })
        .await
    }

    /// Up to `limit` reservations of `user` (of everyone for `None`), newest
    /// first, starting after the `(created_ms, id)` cursor.
    pub async fn list(
        &self,
        user: Option<&str>,
        after: Option<(i64, String)>,
        limit: u32,
    ) -> Result<Vec<Reservation>, Error> {
        self.in_span("reservation.list", async {
            let (after_ms, after_id) = after.unwrap_or((i64::MAX, String::new()));
            let after_id = if after_id.is_empty() { None } else { Some(after_id) };
            let sql = sqlx::AssertSqlSafe(format!(
                "{COLUMNS} WHERE ($1 IS NULL OR user_id = $1) \
                 AND (created_ms < $2 OR (created_ms = $2 AND ($3 IS NULL OR id < $3))) \
                 ORDER BY created_ms DESC, id DESC LIMIT $4"
            ));
            let rows: Vec<Row> = sqlx::query_as(sql)
                .bind(user.map(str::to_owned))
                .bind(after_ms)
                .bind(after_id)
                .bind(i64::from(limit))
                .fetch_all(self.db.pool())
                .await?;
            rows.into_iter().map(Row::into_domain).collect()
        })
        .await
    }
}
