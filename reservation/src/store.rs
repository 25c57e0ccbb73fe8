//! All SQL of the reservation service, the same statements for SQLite and
//! PostgreSQL.
//!
//! Every change of a reservation's saga step is one conditional update on the
//! step it is leaving and on the lease owner (the one call or recovery pass
//! driving it), so two actors can never both advance the same reservation; an
//! actor whose update matches nothing has lost the saga to another and stops.

use sqlx::FromRow;
use travel::db::{Database, Dialect};
use travel::stored::{corrupt, count, date, money};
use travel::types::{HoldId, Money, RequestId, UnixMillis};

use crate::clients::Held;
use crate::domain::{Checkout, FlightBooking, HotelBooking, Reservation, State, Step};
use crate::error::Error;

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

/// Which part of a reservation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The seats.
    Flight,
    /// The rooms.
    Hotel,
}

/// Who drives a saga, and until when, for a new or claimed reservation.
#[derive(Debug, Clone, Copy)]
pub struct Lease<'a> {
    /// The owner: one call or one recovery pass.
    pub owner: &'a str,
    /// Until when the owner has it.
    pub until: UnixMillis,
}

#[derive(FromRow)]
struct Row {
    id: String,
    user_id: String,
    state: String,
    step: String,
    flight_id: Option<String>,
    seats: Option<i64>,
    flight_hold_id: Option<String>,
    flight_price_minor: Option<i64>,
    flight_currency: Option<String>,
    hotel_id: Option<String>,
    room_type_id: Option<String>,
    check_in: Option<String>,
    check_out: Option<String>,
    rooms: Option<i64>,
    guests: Option<i64>,
    hotel_hold_id: Option<String>,
    hotel_price_minor: Option<i64>,
    hotel_currency: Option<String>,
    total_minor: Option<i64>,
    total_currency: Option<String>,
    failure_reason: Option<String>,
    created_ms: i64,
    updated_ms: i64,
    flight_hold_expires_ms: Option<i64>,
    hotel_hold_expires_ms: Option<i64>,
}

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

/// The columns a [`Row`] reads, in one place for every query that makes one.
macro_rules! row_columns {
    () => {
        "id, user_id, state, step, flight_id, seats, flight_hold_id, flight_price_minor, \
         flight_currency, hotel_id, room_type_id, check_in, check_out, rooms, guests, hotel_hold_id, \
         hotel_price_minor, hotel_currency, total_minor, total_currency, failure_reason, created_ms, updated_ms, \
         flight_hold_expires_ms, hotel_hold_expires_ms"
    };
}

const COLUMNS: &str = concat!("SELECT ", row_columns!(), " FROM reservations");

impl Store {
    /// A store over a migrated database.
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// Closes the database connections.
    pub async fn close(&self) {
        self.db.close().await;
    }

    /// Persists a new PENDING reservation (step HOLDING, owned by `lease`) with
    /// id `id` and its deterministic hold ids, unless this user already used
    /// the request id: then returns that reservation, or ALREADY_EXISTS if it
    /// was for a different request. The flag says whether it is new.
    pub async fn create(
        &self,
        id: &str,
        user_id: &str,
        checkout: &Checkout,
        lease: Lease<'_>,
        now: UnixMillis,
    ) -> Result<(Reservation, bool), Error> {
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
        Ok((reservation, inserted == 1))
    }

    /// True when `user_id` already checked out with `request_id`.
    pub async fn request_seen(&self, user_id: &str, request_id: &RequestId) -> Result<bool, Error> {
        let seen: Option<(String,)> =
            sqlx::query_as("SELECT id FROM reservations WHERE user_id = $1 AND request_id = $2")
                .bind(user_id)
                .bind(request_id.as_str())
                .fetch_optional(self.db.pool())
                .await?;
        Ok(seen.is_some())
    }

    /// One reservation, whoever's it is.
    pub async fn get(&self, id: &str) -> Result<Reservation, Error> {
        let sql = sqlx::AssertSqlSafe(format!("{COLUMNS} WHERE id = $1"));
        let row: Option<Row> = sqlx::query_as(sql).bind(id).fetch_optional(self.db.pool()).await?;
        row.map(Row::into_domain)
            .transpose()?
            .ok_or_else(|| Error::NotFound(id.to_owned()))
    }

    /// Up to `limit` reservations of `user` (of everyone for `None`), newest
    /// first, starting after the `(created_ms, id)` cursor.
    pub async fn list(
        &self,
        user: Option<&str>,
        after: Option<(i64, String)>,
        limit: u32,
    ) -> Result<Vec<Reservation>, Error> {
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
    }

    /// Records the price a service gave a part's hold, and when the hold
    /// expires, while the saga is holding.
    pub async fn record_hold(&self, id: &str, part: Part, held: Held, now: UnixMillis) -> Result<(), Error> {
        let sql = match part {
            Part::Flight => {
                "UPDATE reservations SET flight_price_minor = $1, flight_currency = $2, flight_hold_expires_ms = $3, \
                 updated_ms = $4 WHERE id = $5 AND step = 'HOLDING'"
            }
            Part::Hotel => {
                "UPDATE reservations SET hotel_price_minor = $1, hotel_currency = $2, hotel_hold_expires_ms = $3, \
                 updated_ms = $4 WHERE id = $5 AND step = 'HOLDING'"
            }
        };
        sqlx::query(sql)
            .bind(held.price.amount_minor)
            .bind(held.price.currency.as_str())
            .bind(held.expires.unix_millis())
            .bind(now.unix_millis())
            .bind(id)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// Moves a reservation from step `from` as `to` says, if it is still at
    /// `from` and `owner` still drives it; false if not (another actor has it).
    pub async fn advance(
        &self,
        id: &str,
        from: Step,
        owner: &str,
        to: Transition<'_>,
        now: UnixMillis,
    ) -> Result<bool, Error> {
        let changed = sqlx::query(
            "UPDATE reservations SET step = $1, state = $2, failure_reason = COALESCE($3, failure_reason), \
             total_minor = COALESCE($4, total_minor), total_currency = COALESCE($5, total_currency), \
             updated_ms = $6 WHERE id = $7 AND step = $8 AND lease_owner = $9",
        )
        .bind(to.step.as_str())
        .bind(to.state.as_str())
        .bind(to.failure_reason.map(str::to_owned))
        .bind(to.total.map(|t| t.amount_minor))
        .bind(to.total.map(|t| t.currency.as_str().to_owned()))
        .bind(now.unix_millis())
        .bind(id)
        .bind(from.as_str())
        .bind(owner)
        .execute(self.db.pool())
        .await?
        .rows_affected();
        Ok(changed == 1)
    }

    /// Takes over an unfinished saga whose lease has run out at `now`, at
    /// whatever step it is; false if it is done or someone else holds it.
    pub async fn claim(&self, id: &str, lease: Lease<'_>, now: UnixMillis) -> Result<bool, Error> {
        let claimed = sqlx::query(
            "UPDATE reservations SET lease_owner = $1, lease_until_ms = $2 \
             WHERE id = $3 AND step <> 'DONE' AND lease_until_ms <= $4",
        )
        .bind(lease.owner)
        .bind(lease.until.unix_millis())
        .bind(id)
        .bind(now.unix_millis())
        .execute(self.db.pool())
        .await?
        .rows_affected();
        Ok(claimed == 1)
    }

    /// Starts cancelling a CONFIRMED reservation (step CANCELLING, owned by
    /// `lease`); false if it is not CONFIRMED and at rest.
    pub async fn begin_cancel(&self, id: &str, lease: Lease<'_>, now: UnixMillis) -> Result<bool, Error> {
        let started = sqlx::query(
            "UPDATE reservations SET step = 'CANCELLING', lease_owner = $1, lease_until_ms = $2, updated_ms = $3 \
             WHERE id = $4 AND state = 'CONFIRMED' AND step = 'DONE'",
        )
        .bind(lease.owner)
        .bind(lease.until.unix_millis())
        .bind(now.unix_millis())
        .bind(id)
        .execute(self.db.pool())
        .await?
        .rows_affected();
        Ok(started == 1)
    }

    /// A driver `owner` stopping without finishing the saga: records why
    /// (`None`: its confirm calls did not get through), for operators, and
    /// gives up its lease so that the next recovery pass (or a retry) may take
    /// the saga over at once — in one update, and only while `owner` still
    /// drives it, so that a driver that lost the saga cannot write over the
    /// row of the one that has it now.
    pub async fn stop(&self, id: &str, owner: &str, why: Option<&str>, now: UnixMillis) -> Result<(), Error> {
        // Expired as of now, not of the epoch: recovery takes the longest-waiting
        // sagas first, so one stuck on a service that is down goes to the back of
        // the queue instead of starving the others.
        sqlx::query(
            "UPDATE reservations SET last_error = $1, last_error_ms = $2, lease_until_ms = $2 \
             WHERE id = $3 AND lease_owner = $4",
        )
        .bind(why.unwrap_or(CONFIRM_STOPPED))
        .bind(now.unix_millis())
        .bind(id)
        .bind(owner)
        .execute(self.db.pool())
        .await?;
        Ok(())
    }

    /// True when a saga other than `except` on `flight_id` really holds seats
    /// it may give back: its seat hold was taken (its price is recorded) and it
    /// has not passed the pivot or finished releasing (HOLDING or COMPENSATING).
    /// A saga that holds no seats — refused, not yet answered, or a bundle
    /// waiting for seats itself (see `Saga::wait_for_seats`) — does not count.
    pub async fn seats_in_flux(&self, flight_id: &str, except: &str) -> Result<bool, Error> {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM reservations WHERE flight_id = $1 AND id <> $2 \
             AND step IN ('HOLDING', 'COMPENSATING') AND flight_price_minor IS NOT NULL",
        )
        .bind(flight_id)
        .bind(except)
        .fetch_one(self.db.pool())
        .await?;
        Ok(n > 0)
    }

    /// The reservations whose saga is unfinished and whose lease has run out
    /// at `now`: up to `limit` at CONFIRMING, then up to `limit` more at the
    /// other steps (CANCELLING, COMPENSATING, HOLDING), each the longest-waiting first.
    pub async fn unfinished(&self, now: UnixMillis, limit: u32) -> Result<Vec<Reservation>, Error> {
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

/// A reservation with the state of its saga, as operators see it.
#[derive(Debug, Clone)]
pub struct SagaStatus {
    /// The reservation.
    pub reservation: Reservation,
    /// Until when its current driver owns the saga.
    pub lease_until: UnixMillis,
    /// Why a driver last stopped without finishing it, and when.
    pub last_error: Option<(String, UnixMillis)>,
}

#[derive(FromRow)]
struct SagaRow {
    #[sqlx(flatten)]
    row: Row,
    lease_until_ms: i64,
    last_error: Option<String>,
    last_error_ms: Option<i64>,
}

impl SagaRow {
    fn into_status(self) -> Result<SagaStatus, Error> {
        let last_error = self
            .last_error
            .map(|e| (e, UnixMillis::from_unix_millis(self.last_error_ms.unwrap_or_default())));
        Ok(SagaStatus {
            reservation: self.row.into_domain()?,
            lease_until: UnixMillis::from_unix_millis(self.lease_until_ms),
            last_error,
        })
    }
}

/// [`COLUMNS`] with the lease and the last error.
const SAGA_COLUMNS: &str = concat!(
    "SELECT ",
    row_columns!(),
    ", lease_until_ms, last_error, last_error_ms FROM reservations"
);

/// What is recorded when a driver stops at the confirm step without a message
/// (the confirm calls did not get through before its budget ran out).
const CONFIRM_STOPPED: &str =
    "the flight or hotel service could not be reached to confirm the holds; confirming is retried";

impl Store {
    /// One reservation with the state of its saga.
    pub async fn saga(&self, id: &str) -> Result<SagaStatus, Error> {
        let sql = sqlx::AssertSqlSafe(format!("{SAGA_COLUMNS} WHERE id = $1"));
        let row: Option<SagaRow> = sqlx::query_as(sql).bind(id).fetch_optional(self.db.pool()).await?;
        row.map(SagaRow::into_status)
            .transpose()?
            .ok_or_else(|| Error::NotFound(id.to_owned()))
    }

    /// Up to `limit` reservations whose saga is not done, whoever drives them,
    /// oldest first, starting after the `(created_ms, id)` cursor.
    pub async fn unfinished_sagas(&self, after: Option<(i64, String)>, limit: u32) -> Result<Vec<SagaStatus>, Error> {
        let (after_ms, after_id) = after.unwrap_or((i64::MIN, String::new()));
        let sql = sqlx::AssertSqlSafe(format!(
            "{SAGA_COLUMNS} WHERE step <> 'DONE' AND (created_ms > $1 OR (created_ms = $1 AND id > $2)) \
             ORDER BY created_ms, id LIMIT $3"
        ));
        let rows: Vec<SagaRow> = sqlx::query_as(sql)
            .bind(after_ms)
            .bind(after_id)
            .bind(i64::from(limit))
            .fetch_all(self.db.pool())
            .await?;
        rows.into_iter().map(SagaRow::into_status).collect()
    }
}

fn price(minor: Option<i64>, currency: Option<String>) -> Result<Option<Money>, sqlx::Error> {
    match (minor, currency) {
        (Some(minor), Some(currency)) => money(minor, &currency).map(Some),
        _ => Ok(None),
    }
}

fn hold_id(s: Option<String>) -> Result<HoldId, sqlx::Error> {
    HoldId::parse(&s.unwrap_or_default()).map_err(|_| corrupt("hold id"))
}

impl Row {
    fn into_domain(self) -> Result<Reservation, Error> {
        let flight = match (self.flight_id, self.seats) {
            (Some(flight_id), Some(seats)) => Some(FlightBooking {
                flight_id,
                seats: count(seats, "seats")?,
                hold_id: hold_id(self.flight_hold_id)?,
                price: price(self.flight_price_minor, self.flight_currency)?,
                hold_expires: self.flight_hold_expires_ms.map(UnixMillis::from_unix_millis),
            }),
            _ => None,
        };
        let hotel = match (self.hotel_id, self.room_type_id, self.check_in, self.check_out) {
            (Some(hotel_id), Some(room_type_id), Some(check_in), Some(check_out)) => Some(HotelBooking {
                hotel_id,
                room_type_id,
                check_in: date(&check_in)?,
                check_out: date(&check_out)?,
                rooms: count(self.rooms.unwrap_or(-1), "rooms")?,
                guests: count(self.guests.unwrap_or(-1), "guests")?,
                hold_id: hold_id(self.hotel_hold_id)?,
                price: price(self.hotel_price_minor, self.hotel_currency)?,
                hold_expires: self.hotel_hold_expires_ms.map(UnixMillis::from_unix_millis),
            }),
            _ => None,
        };
        Ok(Reservation {
            id: self.id,
            user_id: self.user_id,
            state: State::parse(&self.state).ok_or_else(|| corrupt("state"))?,
            step: Step::parse(&self.step).ok_or_else(|| corrupt("step"))?,
            flight,
            hotel,
            total: price(self.total_minor, self.total_currency)?,
            failure_reason: self.failure_reason,
            created: UnixMillis::from_unix_millis(self.created_ms),
            updated: UnixMillis::from_unix_millis(self.updated_ms),
        })
    }
}
